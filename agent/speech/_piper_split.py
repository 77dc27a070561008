"""Piper's model cut in three, so a sentence's audio is made window by window.

A Piper voice is one ONNX graph (VITS): the text encoder and duration predictor turn phoneme
ids into prior frames (one frame per 256 samples or so), the flow turns those into latent
frames, and the HiFi-GAN decoder turns latent frames into samples, which is most of the work.
Both the flow and the decoder are convolutions over frames, so they reach only a few frames
to each side. Cut there, the encoder runs on the whole sentence at once (its prosody stays the
sentence's), then the decoder runs on short windows with enough frames of context on both
sides that their samples are those of a whole-sentence run: the first audio comes after a
short window, not after the sentence. The flow runs once on what the first window needs, then
once on the rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FIRST_WINDOW_FRAMES", "LARGEST_WINDOW_FRAMES", "SplitModel", "decoder_windows"]

FIRST_WINDOW_FRAMES = 16
"""The first window of a sentence (186 ms at 22050 Hz): short, so its audio comes soon, and
long enough that the next, twice as long, is decoded before it has been played."""
LARGEST_WINDOW_FRAMES = 128
"""Windows double up to this size: longer ones spend less on context."""

_DECODER_SCOPE = "/dec/"
_FLOW_SCOPE = "/flow/"
"""How Piper's exporter (PyTorch) names the nodes of the decoder and of the flow."""


def decoder_windows(frames: int) -> Iterator[tuple[int, int]]:
    """The `[start, end)` frame windows a sentence of `frames` frames is decoded in."""
    start, size = 0, FIRST_WINDOW_FRAMES
    while start < frames:
        end = min(frames, start + size)
        if frames - end < size // 2:  # no short window at the end: it would cost its context
            end = frames
        yield start, end
        start, size = end, min(2 * size, LARGEST_WINDOW_FRAMES)


@dataclass(frozen=True)
class _Stage:
    """A part of the model that maps frames to frames (or samples), windowed."""

    session: Any
    inputs: tuple[str, ...]
    """Its inputs, each `[1, channels, frames]`."""
    context: int
    """Frames of context it needs on each side of a window for exact results."""

    def run(self, frames: Mapping[str, np.ndarray], start: int, end: int) -> np.ndarray:
        """Its output for frames `[start, end)` (samples: `hop` per frame for the decoder)."""
        total = frames[self.inputs[0]].shape[-1]
        first, last = max(0, start - self.context), min(total, end + self.context)
        feed = {name: frames[name][..., first:last] for name in self.inputs}
        out = np.asarray(self.session.run(None, feed)[0])
        per_frame = out.shape[-1] // (last - first)
        return out[..., (start - first) * per_frame : (end - first) * per_frame]


@dataclass(frozen=True)
class SplitModel:
    """A Piper voice as an encoder (whole sentences) and windowed flow and decoder.

    `cut(path, options)` makes one, or None where it cannot be had (no `onnx` package, or a
    graph without Piper's decoder scope: the voice then makes whole sentences).
    """

    encoder: Any
    """The ONNX Runtime session from the model's inputs to the flow's (or decoder's) inputs."""
    flow: _Stage | None
    """Prior frames to latent frames (None: the encoder makes latent frames itself)."""
    decoder: _Stage
    """Latent frames to samples."""

    @classmethod
    def cut(cls, path: Path, options: Any) -> SplitModel | None:
        """Cut the model at `path` (sessions made with `options`); None where it cannot be."""
        try:
            import onnx
            import onnx.utils
        except ImportError:
            return None
        model = onnx.load(str(path))
        graph = model.graph
        initializers = {init.name for init in graph.initializer}
        decoder_nodes = [node for node in graph.node if node.name.startswith(_DECODER_SCOPE)]
        latent = _inputs_of(decoder_nodes, initializers)
        if len(latent) != 1:  # a speaker embedding too (multi-speaker), or not Piper's layout
            return None
        flow_nodes = _flow_nodes(graph, latent[0])
        priors = _inputs_of(flow_nodes, initializers) if flow_nodes else latent
        extractor = onnx.utils.Extractor(model)

        def session(inputs: list[str], outputs: list[str]) -> Any:
            import onnxruntime

            part = extractor.extract_model(inputs, outputs).SerializeToString()
            return onnxruntime.InferenceSession(
                part, sess_options=options, providers=["CPUExecutionProvider"]
            )

        inputs = [value.name for value in graph.input if value.name not in initializers]
        outputs = [value.name for value in graph.output]
        flow = None
        if flow_nodes:
            flow = _Stage(session(priors, latent), tuple(priors), _reach(flow_nodes))
        decoder = _Stage(session(latent, outputs), tuple(latent), _reach(decoder_nodes))
        return cls(session(inputs, priors), flow, decoder)

    def windows(self, feed: Mapping[str, np.ndarray]) -> Iterator[np.ndarray]:
        """The audio (float, -1 to 1) of one sentence (`feed`: the whole model's inputs),
        window by window (blocking: each `next` runs the model)."""
        priors = self._priors(feed)
        frames = next(iter(priors.values())).shape[-1]
        latents: dict[str, np.ndarray] | None = None
        for start, end in decoder_windows(frames):
            if self.flow is None:
                latents = priors
            elif latents is None or latents[self.decoder.inputs[0]].shape[-1] < frames:
                # The first window's latents come from a prefix; then the whole sentence once.
                reach = frames if start else min(frames, end + self.decoder.context)
                latents = {self.decoder.inputs[0]: self.flow.run(priors, 0, reach)}
            yield self.decoder.run(latents, start, end).reshape(-1)

    def whole(self, feed: Mapping[str, np.ndarray]) -> np.ndarray:
        """The audio of one sentence in one run of each part (what the uncut model makes)."""
        latents = priors = self._priors(feed)
        frames = next(iter(priors.values())).shape[-1]
        if self.flow is not None:
            latents = {self.decoder.inputs[0]: self.flow.run(priors, 0, frames)}
        return self.decoder.run(latents, 0, frames).reshape(-1)

    def _priors(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [output.name for output in self.encoder.get_outputs()]
        return dict(zip(names, self.encoder.run(names, dict(feed)), strict=True))


def _inputs_of(nodes: list[Any], initializers: set[str]) -> list[str]:
    """The tensors the `nodes` read from outside them (weights aside), by name."""
    made = {name for node in nodes for name in node.output}
    read = {
        name
        for node in nodes
        for name in node.input
        if name and name not in made and name not in initializers
    }
    return sorted(read)


def _flow_nodes(graph: Any, latent: str) -> list[Any]:
    """The nodes from the flow's first to `latent` (Piper's flow also masks its output)."""
    made_by = {name: node for node in graph.node for name in node.output}
    needed: set[int] = set()
    pending = [latent]
    while pending:
        node = made_by.get(pending.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            pending += [name for name in node.input if name]
    flow: list[Any] = []
    flowing: set[str] = set()
    for node in graph.node:  # in topological order
        if id(node) in needed and (
            node.name.startswith(_FLOW_SCOPE) or any(name in flowing for name in node.input)
        ):
            flow.append(node)
            flowing.update(node.output)
    return flow


def _reach(nodes: list[Any]) -> int:
    """Frames on each side that reach an output frame, from the convolutions (an upper
    bound: HiFi-GAN's parallel residual blocks are counted as if one followed the other)."""
    from onnx import helper

    reach, rate = 0.0, 1
    for node in nodes:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        kernel = int(attributes.get("kernel_shape", [1])[0])
        dilation = int(attributes.get("dilations", [1])[0])
        stride = int(attributes.get("strides", [1])[0])
        if node.op_type == "Conv":
            reach += (kernel - 1) * dilation / 2 / rate
        else:  # an upsampling: each output sample hears about kernel/stride inputs
            reach += kernel / stride / 2 / rate
            rate *= stride
    return math.ceil(reach) + 2
