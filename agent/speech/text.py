"""Speakable text: model replies (markdown, code, links, emoji) turned into sentences to say.

`SpeakableStream` takes a streamed reply delta by delta and gives each sentence as soon as it
is complete; `speakable_sentences` does the same for a whole text. `SentenceSplitter` is the
splitter on its own (for text that is already plain). `SPOKEN_STYLE` is the instruction to add
when a voice is on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "CODE_OMITTED",
    "SPOKEN_STYLE",
    "SentenceSplitter",
    "SpeakableStream",
    "speakable",
    "speakable_sentences",
]

SPOKEN_STYLE = (
    "Your replies are spoken aloud by a voice. Answer briefly, in plain spoken language: "
    "short sentences, no markdown, no lists or tables, no code, no URLs, no emoji. Say numbers, "
    "times and units the way a person would say them."
)
"""The instruction to add to the agent's instructions when a voice is on."""

CODE_OMITTED = "(code omitted)"
"""What is said in place of a code block."""

TOOL_CALLS_MARKER = "[TOOL_CALLS]"

_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e eg ie no nos approx fig figs inc "
    "ltd co corp dept est vol jan feb mar apr jun jul aug sep sept oct nov dec al cf "
    "ca ph.d u.s u.k a.m p.m"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
"""Words whose trailing period does not end a sentence."""
_TERMINATORS = ".!?…"
_CLOSERS = "\"')]’”»"
_MAX_SENTENCE = 250
"""Characters after which a sentence with no end yet is cut at a comma, colon or semicolon."""

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]’”»]*(?=\s+\S)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]]+", re.IGNORECASE)
_INLINE_CODE = re.compile(r"`+([^`]*)`+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U0001f1e6-\U0001f1ff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\u20e3]"
)
_STRAY_MARKUP = re.compile(r"[*#`~|>]+|(?<!\w)_+|_+(?!\w)")
_HEADER = re.compile(r"^\s{0,3}#{1,6}\s+")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINE_PREFIX = re.compile(r"\s*(?:#{1,6}\s+|(?:[-*+•]|\d{1,3}[.)])\s+|(?:>\s?)+)?(?=\S)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _domain(match: re.Match[str]) -> str:
    url = re.sub(r"^(?:https?://)?(?:www\.)?", "", match.group(0), flags=re.IGNORECASE)
    return url.split("/", 1)[0].split("?", 1)[0].rstrip(".,;:!?")


def _clean_inline(text: str) -> str:
    """Links to their text, URLs to their domain, markup and emoji out, spaces collapsed."""
    text = _AUTOLINK.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _URL.sub(_domain, text)
    text = _INLINE_CODE.sub(lambda m: m.group(1), text)
    text = _HTML_TAG.sub("", text)
    for _ in range(2):  # nested emphasis: ***x***, **_x_**
        text = _EMPHASIS.sub(lambda m: m.group(2), text)
    text = _EMOJI.sub("", text)
    text = _STRAY_MARKUP.sub(" ", text)
    return re.sub(r"\s+", " ", text)


def _is_sentence_end(text: str, end: int) -> bool:
    """Whether the terminator run ending at `end` (exclusive) ends a sentence."""
    stripped = text[:end].rstrip(_CLOSERS)
    if stripped.endswith(("?", "!", "…", "..")) and not stripped.endswith("..."):
        return True
    word = stripped.rstrip(".").rsplit(None, 1)[-1].lower() if stripped.strip(".") else ""
    word = word.lstrip("(\"'“‘")
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False
    following = text[end:].lstrip()
    return not following[:1].islower()


class SentenceSplitter:
    """Cut plain text, fed in pieces, into sentences as soon as each one ends.

    A sentence ends at `.`, `!`, `?` or `…` followed by a space and a next word that does not
    start in lower case; "Dr. Smith", "e.g. this", "3.5" and initials do not end one. Text
    with no end for `_MAX_SENTENCE` characters is cut at its last comma, colon or semicolon.
    """

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        """Add text; the sentences completed by it."""
        self._buffer += text
        sentences: list[str] = []
        start = 0
        for match in _SENTENCE_END.finditer(self._buffer):
            if _is_sentence_end(self._buffer, match.end()):
                sentences.append(self._buffer[start : match.end()])
                start = match.end()
        self._buffer = self._buffer[start:]
        while len(self._buffer) > _MAX_SENTENCE:
            cut = max(self._buffer.rfind(mark, 0, _MAX_SENTENCE) for mark in (", ", "; ", ": "))
            if cut <= 0:
                break
            sentences.append(self._buffer[: cut + 1])
            self._buffer = self._buffer[cut + 1 :]
        return [s for s in (sentence.strip() for sentence in sentences) if _has_words(s)]

    def end_sentence(self) -> list[str]:
        """End the current sentence here (a line break, a list item); it, if any."""
        rest, self._buffer = self._buffer.strip(), ""
        if not _has_words(rest):
            return []
        if rest[-1] == ":":
            rest = rest[:-1] + "."
        elif rest.rstrip(_CLOSERS)[-1:] not in _TERMINATORS:
            rest += "."
        return [rest]

    flush = end_sentence
    """The end of the text: the last sentence, if any."""


def _has_words(text: str) -> bool:
    return any(character.isalnum() for character in text)


class SpeakableStream:
    """A streamed reply in, speakable sentences out, as soon as each is complete.

    Markdown becomes plain text (headers, list items and table rows are sentences of their
    own), a code block is said as `CODE_OMITTED`, links as their text, URLs as their domain,
    emoji are dropped, and nothing from `[TOOL_CALLS]` on is ever said.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._splitter = SentenceSplitter()
        self._in_code = False
        self._at_line_start = True
        self._closed = False

    def feed(self, delta: str) -> list[str]:
        """Add a piece of the reply; the sentences it completed."""
        if self._closed:
            return []
        self._pending += delta
        marker = self._pending.find(TOOL_CALLS_MARKER)
        if marker >= 0:
            self._pending = self._pending[:marker]
            self._closed = True
        sentences: list[str] = []
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            sentences += self._line(line, complete=True)
        sentences += self._tail()
        return sentences

    def flush(self, *, final: bool = True) -> list[str]:
        """The end of the reply (or, not `final`, of one message of it: what follows is
        read as new text): the sentences still buffered."""
        line, self._pending = self._pending, ""
        sentences = self._line(line, complete=True) if line else []
        self._closed = final
        if not final:
            self._in_code = False
            self._at_line_start = True
        return sentences + self._splitter.flush()

    def _tail(self) -> list[str]:
        """Cut the unfinished line at its last sentence end, when its kind allows."""
        tail = self._pending
        if self._in_code or _FENCE.match(tail) or tail.lstrip().startswith("|"):
            return []  # code and table rows are only handled whole
        skip = 0
        if self._at_line_start:  # a header, list item or quote marker is not a sentence end
            prefix = _LINE_PREFIX.match(tail)
            if prefix is None:
                return []
            skip = prefix.end()
        found = _SENTENCE_END.finditer(tail, skip)
        ends = [m.end() for m in found if _is_sentence_end(tail, m.end())]
        if not ends:
            return []
        head, self._pending = tail[: ends[-1]], tail[ends[-1] :]
        return self._line(head, complete=False) + self._splitter.end_sentence()

    def _line(self, line: str, *, complete: bool) -> list[str]:
        starts_line, self._at_line_start = self._at_line_start, complete
        if starts_line and _FENCE.match(line):
            self._in_code = not self._in_code
            if self._in_code:
                return [*self._splitter.end_sentence(), CODE_OMITTED]
            return []
        if self._in_code:
            return []
        if not starts_line:
            return self._splitter.feed(_clean_inline(line) + " ")
        if not line.strip() or _RULE.match(line) or _TABLE_SEPARATOR.match(line):
            return self._splitter.end_sentence()  # a paragraph break ends a sentence
        own_sentence = bool(_HEADER.match(line) or _BULLET.match(line)) or line.lstrip()[:1] == "|"
        if line.lstrip().startswith("|"):
            cells = [_clean_inline(cell).strip() for cell in line.strip().strip("|").split("|")]
            line = ", ".join(cell for cell in cells if cell)
        line = _QUOTE.sub("", _BULLET.sub("", _HEADER.sub("", line)))
        sentences = self._splitter.end_sentence() if own_sentence else []
        sentences += self._splitter.feed(_clean_inline(line) + " ")
        if own_sentence and complete:
            sentences += self._splitter.end_sentence()
        return sentences


def speakable_sentences(text: str | Iterable[str]) -> list[str]:
    """A whole reply (or its deltas) as speakable sentences."""
    stream = SpeakableStream()
    sentences: list[str] = []
    for piece in [text] if isinstance(text, str) else text:
        sentences += stream.feed(piece)
    return sentences + stream.flush()


def speakable(text: str) -> str:
    """A whole reply as one speakable text (its sentences joined by spaces)."""
    return " ".join(speakable_sentences(text))
