"""Speakable text: markdown, code, links, emoji and tool calls; the streaming sentence splitter."""

from __future__ import annotations

import pytest

from agent.speech import (
    CODE_OMITTED,
    SPOKEN_STYLE,
    SentenceSplitter,
    SpeakableStream,
    speakable,
    speakable_sentences,
)

REPLY = """# Weather today
It is **sunny** in Paris, e.g. around 21.5 degrees. Dr. Smith says hi! 😀 See \
[the forecast](https://example.com/x) or https://www.meteo.fr/paris?x=1 for more.
Here are the steps:
1. Open the *app*. Then wait.
2. Tap `settings`
| City | Temp |
|---|---|
| Paris | 21 |

```python
print(1)
```
Done. [TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}"""

SENTENCES = [
    "Weather today.",
    "It is sunny in Paris, e.g. around 21.5 degrees.",
    "Dr. Smith says hi!",
    "See the forecast or meteo.fr for more.",
    "Here are the steps.",
    "Open the app.",
    "Then wait.",
    "Tap settings.",
    "City, Temp.",
    "Paris, 21.",
    CODE_OMITTED,
    "Done.",
]


def test_a_markdown_reply_becomes_speakable_sentences() -> None:
    assert speakable_sentences(REPLY) == SENTENCES


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 50])
def test_streamed_in_any_pieces_it_gives_the_same_sentences(piece: int) -> None:
    pieces = [REPLY[i : i + piece] for i in range(0, len(REPLY), piece)]
    assert speakable_sentences(pieces) == SENTENCES


def test_a_sentence_comes_as_soon_as_the_next_one_starts() -> None:
    stream = SpeakableStream()
    assert stream.feed("It is sunny") == []
    assert stream.feed(" today. ") == []  # the next word may be lower case: wait for it
    assert stream.feed("Tomorrow") == ["It is sunny today."]
    assert stream.flush() == ["Tomorrow."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "**Bold** and __strong__ and *it* and _it_ and ~~gone~~",
            "Bold and strong and it and it and gone.",
        ),
        ("Go to <https://docs.python.org/3/>.", "Go to docs.python.org."),
        ("![a chart](chart.png) shows it", "a chart shows it."),
        ("Party 🎉🎉 time ✅", "Party time."),
        ("> quoted words", "quoted words."),
        ("---", ""),
        ("Call `get_time()` now", "Call get_time() now."),
        ('[TOOL_CALLS][{"name": "x"}]', ""),
        ("Sure.[TOOL_CALLS]x[ARGS]{}", "Sure."),
    ],
)
def test_speakable(text: str, expected: str) -> None:
    assert speakable(text) == expected


def test_tool_calls_split_across_deltas_are_never_spoken() -> None:
    assert speakable_sentences(["Let me check. [TOOL", "_CALLS]get_time", "[ARGS]{}"]) == [
        "Let me check."
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith and Mrs. Jones met at 3.5 p.m. on St. Mark's square.",
        "Bring fruit, e.g. apples, i.e. something sweet.",
        "J. R. R. Tolkien wrote it in version 2.0.1 of the book.",
        "It costs approx. five dollars.",
        "Wait... what happened there?",
    ],
)
def test_the_splitter_does_not_cut_inside_a_sentence(text: str) -> None:
    splitter = SentenceSplitter()
    assert splitter.feed(text + " Next one") == [text]


def test_the_splitter_cuts_at_every_end() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed('Yes! Really? "Quoted." (Aside.) It was 2024. Then') == [
        "Yes!",
        "Really?",
        '"Quoted."',
        "(Aside.)",
        "It was 2024.",
    ]
    assert splitter.flush() == ["Then."]


def test_a_very_long_sentence_is_cut_at_a_comma() -> None:
    long = ", ".join(["and then one more thing happened"] * 12)
    sentences = SentenceSplitter().feed(long)
    assert sentences and all(len(s) <= 251 for s in sentences)


def test_the_spoken_style_instruction() -> None:
    assert "plain spoken language" in SPOKEN_STYLE and "markdown" in SPOKEN_STYLE
