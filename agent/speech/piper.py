"""`PiperVoice`: Piper's neural voices (the `piper-tts` package, GPL-3.0; extra `[piper]`).

A voice is a `NAME.onnx` model with its `NAME.onnx.json` config, found by name in the voices
folder (`voices_folder()`), or given as a path. `download_piper_voice` fetches one with Piper's
own downloader (machines with internet only). Inference runs off the event loop. Each sentence
is streamed: its latent frames are made at once, then decoded window by window
(`agent.speech._piper_split`), so its first audio comes after a short window, not after the
whole sentence; without the `onnx` package (or for a model that cannot be cut), whole
sentences.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from agent.audio.convert import PCM16
from agent.errors import VoxagentError
from agent.speech._piper_split import SplitModel
from agent.speech.voice import SpeechChunk
from tools._threads import run_blocking

__all__ = [
    "DEFAULT_PIPER_VOICE",
    "VOICES_ENV",
    "PiperVoice",
    "download_piper_voice",
    "installed_piper_voices",
    "piper_available",
    "voices_folder",
]

DEFAULT_PIPER_VOICE = "en_US-lessac-medium"
VOICES_ENV = "VOXAGENT_VOICES"
"""The environment variable naming the voices folder."""

_INSTALL_HINT = "pip install 'voxtral-agent[piper]'"
_CALIBRATION = "Hello! This is how I sound, when I read a sentence aloud."
"""Synthesized once at load: it warms the model up and sets the streamed voice's gain."""
_CALIBRATION_PEAK = 0.8
"""Where the calibration's peak lands (Piper scales each sentence to its own peak, which a
stream cannot know ahead: one gain for the voice instead, with headroom, clipped)."""


def voices_folder() -> Path:
    """Where Piper voices live: `$VOXAGENT_VOICES`, else `$XDG_DATA_HOME/voxagent/voices`
    (default `~/.local/share/voxagent/voices`)."""
    if folder := os.environ.get(VOICES_ENV):
        return Path(folder).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "voxagent" / "voices"


def installed_piper_voices(folder: Path | None = None) -> list[Path]:
    """The `.onnx` voices (with their `.onnx.json`) in the voices folder, by name."""
    where = folder or voices_folder()
    if not where.is_dir():
        return []
    return sorted(p for p in where.glob("*.onnx") if Path(f"{p}.json").is_file())


def piper_available() -> bool:
    """Whether the piper-tts package can be imported."""
    try:
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


def _resolve(voice: str | os.PathLike[str], folder: Path | None) -> Path:
    text = os.fspath(voice)
    if text.endswith(".onnx") or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise VoxagentError(f"no Piper voice file {path}")
    else:
        path = (folder or voices_folder()) / f"{text}.onnx"
        if not path.is_file():
            raise VoxagentError(
                f"no Piper voice {text!r} in {path.parent}: download it once with "
                f"`voxagent voices download {text}` (needs internet), or give a .onnx path"
            )
    if not Path(f"{path}.json").is_file():
        raise VoxagentError(f"the Piper voice {path} has no config {path.name}.json beside it")
    return path


class PiperVoice:
    """A Piper voice as a `Voice`.

    Args:
        voice: a voice name in the voices folder (`en_US-lessac-medium`) or a `.onnx` path.
        folder: the voices folder to look in (default `voices_folder()`).
        threads: ONNX Runtime threads for inference (default 1: one core, leaving the others
            to the rest of the assistant); None lets ONNX Runtime choose.
        length_scale: phoneme length (< 1 speaks faster); None: the voice's own.
        deterministic: no random variation (Piper samples noise for a livelier voice): the
            same text always gives the same samples, as tests and benchmarks need.
        streaming: decode each sentence window by window (the first audio comes sooner, the
            samples are the same); False: one whole sentence per inference, as Piper does.
    """

    def __init__(
        self,
        voice: str | os.PathLike[str] = DEFAULT_PIPER_VOICE,
        *,
        folder: Path | None = None,
        threads: int | None = 1,
        length_scale: float | None = None,
        deterministic: bool = False,
        streaming: bool = True,
    ) -> None:
        if not piper_available():
            raise VoxagentError(f"Piper voices need the piper-tts package: {_INSTALL_HINT}")
        self.path = _resolve(voice, folder)
        self.threads = threads
        self.length_scale = length_scale
        self.deterministic = deterministic
        self.streaming = streaming
        self._engine: Any = None
        self._split: SplitModel | None = None
        self._gain = 1.0
        self._loading = threading.Lock()
        self._sample_rate = int(_read_json(Path(f"{self.path}.json"))["audio"]["sample_rate"])

    @property
    def name(self) -> str:
        """`piper:NAME`."""
        return f"piper:{self.path.stem}"

    @property
    def sample_rate(self) -> int:
        """The voice's rate (22050 Hz for most Piper voices)."""
        return self._sample_rate

    @property
    def streams_sentences(self) -> bool:
        """Whether each sentence comes in windows, its first audio soon (so a `SpeechQueue`
        need not cut sentences into clauses): once loaded, whether the model could be cut;
        before, whether it should be (`streaming` and the onnx package)."""
        if self._engine is not None:
            return self._split is not None
        return self.streaming and importlib.util.find_spec("onnx") is not None

    async def load(self) -> None:
        """Load the model now (off the loop), so the first sentence does not wait for it
        (a `SpokenTurn` starts this as its turn starts)."""
        if self._engine is None:
            await run_blocking(self._load)

    def _load(self) -> Any:
        with self._loading:
            if self._engine is None:
                import onnxruntime
                from piper import PiperConfig
                from piper import PiperVoice as Engine

                options = onnxruntime.SessionOptions()
                if self.threads is not None:
                    options.intra_op_num_threads = self.threads
                    options.inter_op_num_threads = 1
                config = PiperConfig.from_dict(_read_json(Path(f"{self.path}.json")))
                split = None
                if self.streaming and config.num_speakers <= 1:
                    split = SplitModel.cut(self.path, options)
                if split is not None:
                    # Only Piper's phonemizer is used: its session is the encoder's.
                    self._split, self._gain = self._calibrate(Engine(split.encoder, config), split)
                session = self._split.encoder if self._split else self._session(options)
                self._engine = Engine(session=session, config=config)
            return self._engine

    def _calibrate(self, engine: Any, split: SplitModel) -> tuple[SplitModel | None, float]:
        """The voice's gain from a sentence made whole; the split model if its windows make
        the same samples (else None: whole sentences, as Piper makes them)."""
        from piper import SynthesisConfig

        quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # the same run twice
        feed = _model_inputs(engine, engine.phonemize(_CALIBRATION)[0], quiet)
        whole = split.whole(feed)
        windowed = np.concatenate(list(split.windows(feed)))
        gain = _CALIBRATION_PEAK / max(float(np.abs(whole).max()), 1e-3)
        same = whole.shape == windowed.shape and float(np.abs(whole - windowed).max()) < 1e-3
        return (split if same else None), gain

    def _session(self, options: Any) -> Any:
        import onnxruntime

        return onnxruntime.InferenceSession(
            str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    async def synthesize(self, text: str) -> AsyncIterator[SpeechChunk]:
        """The audio of `text`, sentence by sentence (Piper splits it), made off the loop: a
        streamed sentence in windows that double from 0.19 s, else one chunk per sentence.

        Closing the iterator stops after the window (or sentence) being made (ONNX inference
        cannot be cut short); its audio is dropped.
        """
        if not text.strip():
            return
        engine = await run_blocking(self._load)
        pieces = await run_blocking(lambda: self._pieces(engine, text))
        while True:
            pcm = await run_blocking(lambda: next(pieces, None))
            if pcm is None:
                return
            if pcm.size:
                yield SpeechChunk(pcm)

    def _config(self) -> Any:
        from piper import SynthesisConfig

        quiet = 0.0 if self.deterministic else None
        return SynthesisConfig(
            length_scale=self.length_scale, noise_scale=quiet, noise_w_scale=quiet
        )

    def _pieces(self, engine: Any, text: str) -> Iterator[PCM16]:
        """The audio of `text` piece by piece (blocking: each `next` runs the model)."""
        if self._split is None:
            chunks = engine.synthesize(text, self._config())
            return (chunk.audio_int16_array for chunk in chunks)
        return self._windows(engine, self._split, text)

    def _windows(self, engine: Any, split: SplitModel, text: str) -> Iterator[PCM16]:
        scale = self._gain * _INT16_PEAK
        for phonemes in engine.phonemize(text):
            if phonemes:
                for audio in split.windows(_model_inputs(engine, phonemes, self._config())):
                    yield np.clip(audio * scale, -_INT16_PEAK, _INT16_PEAK).astype(np.int16)

    def __repr__(self) -> str:
        return f"PiperVoice({str(self.path)!r})"


_INT16_PEAK = 32767.0


def _model_inputs(engine: Any, phonemes: list[str], config: Any) -> dict[str, np.ndarray]:
    """The inputs of a (single-speaker) Piper model for one sentence, as Piper makes them."""
    ids = engine.phonemes_to_ids(phonemes)
    voice = engine.config

    def chosen(value: float | None, default: float) -> float:
        return default if value is None else value

    scales = [
        chosen(config.noise_scale, voice.noise_scale),
        chosen(config.length_scale, voice.length_scale),
        chosen(config.noise_w_scale, voice.noise_w_scale),
    ]
    return {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array(scales, dtype=np.float32),
    }


def _read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def download_piper_voice(
    name: str,
    folder: Path | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Download a Piper voice once into the voices folder with Piper's downloader; its path.

    Blocking (network): from async code, run it with `tools._threads.run_blocking`.
    `progress` gets a short line now and then (megabytes so far).
    """
    if not piper_available():
        raise VoxagentError(f"downloading Piper voices needs piper-tts: {_INSTALL_HINT}")
    from piper.download_voices import VOICE_PATTERN, download_voice

    if not VOICE_PATTERN.match(name):
        raise VoxagentError(
            f"{name!r} is not a Piper voice name: LANG_REGION-NAME-QUALITY, e.g. "
            f"{DEFAULT_PIPER_VOICE}"
        )
    where = folder or voices_folder()
    where.mkdir(parents=True, exist_ok=True)
    model = where / f"{name}.onnx"
    done = threading.Event()
    watcher = threading.Thread(target=_report_size, args=(model, done, progress), daemon=True)
    watcher.start()
    try:
        download_voice(name, where)
    except OSError as error:
        model.unlink(missing_ok=True)
        raise VoxagentError(f"could not download the Piper voice {name}: {error}") from error
    finally:
        done.set()
        watcher.join()
    return model


def _report_size(path: Path, done: threading.Event, progress: Callable[[str], None] | None) -> None:
    shown = -1
    while not done.wait(0.5):
        size = path.stat().st_size // 1_000_000 if path.exists() else 0
        if progress is not None and size != shown:
            progress(f"downloading {path.name}: {size} MB")
            shown = size
    if progress is not None and path.exists():
        progress(f"downloaded {path.name}: {path.stat().st_size // 1_000_000} MB")
