"""A track's audio kept only where it sounds: most tracks of a song are silent for half of it, and a
3-minute stereo track is 63 MB of float32, so a mix holds its tracks as their sounding pieces, its
stem groups as the list of their tracks, and makes a whole array only while one is written."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_library.spans import Span, span_blocks
from template_engine.render.dsp import peak


@dataclass
class SpanAudio:
    """(channels, frames) float32 audio that is exactly 0 outside ``spans`` (sorted, disjoint frame
    ranges [start, stop)); ``pieces[i]`` times ``gain`` is the audio of ``spans[i]``, shape
    (channels, stop - start), or (1, stop - start) for a mono part, read as that one channel in
    every channel. A gain change is kept as ``gain`` and applied as the audio is read,
    so scaling a whole mix's tracks costs no pass over them; the pieces' largest absolute sample is
    read once, as they are kept (``raw_peak``)."""

    channels: int
    frames: int
    spans: list[Span]
    pieces: list[np.ndarray]
    raw_peak: float
    freed: bool = False
    gain: np.float32 = np.float32(1.0)

    @classmethod
    def keep(cls, audio: np.ndarray, spans: list[Span], channels: int | None = None) -> SpanAudio:
        """The pieces of (channels, frames) ``audio`` within ``spans``, copied (the rest is dropped);
        ``channels``, when given, is how many channels a one-channel ``audio`` (a mono part) is read as."""
        pieces = [audio[:, a:b].copy() for a, b in spans]
        return cls(channels or audio.shape[0], audio.shape[1], list(spans), pieces,
                   max([peak(piece) for piece in pieces] + [0.0]))

    @property
    def shape(self) -> tuple[int, int]:
        return self.channels, self.frames

    def dense(self) -> np.ndarray:
        """The whole (channels, frames) array, zeros outside the spans."""
        if self.freed:
            raise RuntimeError("this track's audio was freed once its stem was written")
        out = np.zeros(self.shape, dtype=np.float32)
        for (a, b), piece in zip(self.spans, self.pieces):
            np.multiply(piece, self.gain, out=out[:, a:b])
        return out

    def block(self, start: int, stop: int, scale: float = 1.0) -> np.ndarray | None:
        """Frames ``start..stop`` times ``scale`` as (channels, stop - start) float32, or None where no
        span reaches them (``sample_library.audio_io.BlockSource``: a stem is written a block at a
        time, never whole). A block within one span is written in one pass, with no zeros first."""
        out = None
        gain = self.gain * np.float32(scale)
        for (a, b), piece in zip(self.spans, self.pieces):
            lo, hi = max(a, start), min(b, stop)
            if hi > lo:
                if out is None:
                    inside = lo == start and hi == stop
                    out = (np.empty if inside else np.zeros)((self.channels, stop - start), dtype=np.float32)
                np.multiply(piece[:, lo - a:hi - a], gain, out=out[:, lo - start:hi - start])
        return out

    def add_into(self, total: np.ndarray, gain: float = 1.0) -> None:
        """Add this audio times linear ``gain`` into (channels, frames) ``total``, in place; scaled, a
        cache-sized block at a time (``span_blocks``: twice as fast as scaling a whole piece first)."""
        gain = np.float32(gain) * self.gain
        for (a, b), piece in zip(self.spans, self.pieces):
            if gain == 1.0:
                total[:, a:b] += piece
                continue
            for start, stop in span_blocks([(a, b)]):
                total[:, start:stop] += piece[:, start - a:stop - a] * gain

    def scale(self, factor: float) -> None:
        """Multiply by ``factor`` (positive)."""
        self.gain = np.float32(self.gain * np.float32(factor))

    def free(self) -> None:
        """Let the audio go (its stem is written); it cannot be read again."""
        self.spans, self.pieces, self.freed = [], [], True

    def peak(self) -> float:
        """Largest absolute sample (0 for silence)."""
        return self.raw_peak * float(self.gain)


@dataclass
class SummedAudio:
    """The sum of ``members`` (a stem group), in their order; made whole only when asked."""

    members: list[SpanAudio]

    @property
    def shape(self) -> tuple[int, int]:
        return self.members[0].shape

    def block(self, start: int, stop: int, scale: float = 1.0) -> np.ndarray | None:
        """The sum's frames ``start..stop`` times ``scale``, or None where no member sounds (``SpanAudio.block``)."""
        out = None
        for member in self.members:
            part = member.block(start, stop, scale)
            if part is not None:
                out = part if out is None else np.add(out, part, out=out)
        return out

    def dense(self) -> np.ndarray:
        """The (channels, frames) sum."""
        out = np.zeros(self.shape, dtype=np.float32)
        for member in self.members:
            member.add_into(out)
        return out


Stem = np.ndarray | SpanAudio | SummedAudio
