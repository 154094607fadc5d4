"""What a render is asked for, checked once: count, seed, tempo, key, length, formats, sampling."""

from __future__ import annotations

from dataclasses import dataclass

from project_ingest.score import Key
from sample_library.errors import InputError
from sample_library.loudness import LUFS_RANGE
from template_engine.model.phrases import SamplingSettings

FORMATS = ("wav", "mp3", "flac")
STEM_FORMATS = ("wav", "flac", "none")
BIT_DEPTHS = {"24": "PCM_24", "32f": "FLOAT"}  # --bit-depth -> soundfile subtype of WAV songs and stems
SAMPLE_RATES = (44100, 48000)  # Hz
BPM_RANGE = (40.0, 250.0)
BARS_RANGE = (4, 512)


@dataclass
class RenderSettings:
    """One ``render-template`` call: ``count`` candidates from ``seed``; tempo (BPM), key ("F minor")
    and length (bars) where asked, else the artist's; the song's file formats; the model's sampling."""

    count: int = 10
    seed: int = 0
    bpm: float | None = None
    key: str | None = None
    bars: int | None = None
    formats: tuple[str, ...] = ("wav", "mp3")
    title: str | None = None
    temperature: float = 1.0
    top_p: float = 0.95
    force: bool = False
    stems: str = "wav"  # stem files: wav, flac (lossless, about a fifth of the size) or none
    bit_depth: str = "24"  # of WAV files: 24 or 32f (32-bit float)
    lufs: float | None = None  # master loudness (integrated LUFS); None: the artist's
    sample_rate: int = 44100  # Hz of every audio file: 44100 or 48000
    dry_stems: bool = False  # also each track before its chain, with DAW projects that rebuild the chain

    @property
    def subtype(self) -> str:
        return BIT_DEPTHS[self.bit_depth]

    @property
    def sampling(self) -> SamplingSettings:
        return SamplingSettings(self.temperature, self.top_p)

    def parsed_key(self) -> Key | None:
        """The key asked for, or None for the artist's; raises InputError naming ``--key``."""
        if not self.key:
            return None
        try:
            return Key.parse(self.key)
        except ValueError as exc:
            raise InputError("--key", str(exc)) from None

    def check(self) -> None:
        """Raise InputError naming the option that is out of range."""
        bad = [f for f in self.formats if f not in FORMATS]
        if not self.formats:
            raise InputError("--format", f"names no format (choose from {', '.join(FORMATS)})")
        if bad:
            raise InputError("--format", f"unknown format {', '.join(bad)} (choose from {', '.join(FORMATS)})")
        if self.bpm is not None and not BPM_RANGE[0] <= self.bpm <= BPM_RANGE[1]:
            raise InputError("--bpm", f"{self.bpm:g} is outside {BPM_RANGE[0]:g}..{BPM_RANGE[1]:g}")
        if self.bars is not None and not BARS_RANGE[0] <= self.bars <= BARS_RANGE[1]:
            raise InputError("--bars", f"{self.bars} is outside {BARS_RANGE[0]}..{BARS_RANGE[1]}")
        if self.stems not in STEM_FORMATS:
            raise InputError("--stems", f"unknown stem format {self.stems!r} (choose from {', '.join(STEM_FORMATS)})")
        if self.bit_depth not in BIT_DEPTHS:
            raise InputError("--bit-depth", f"{self.bit_depth!r} is not one of {', '.join(BIT_DEPTHS)}")
        if self.sample_rate not in SAMPLE_RATES:
            raise InputError("--sample-rate", f"{self.sample_rate} Hz is not one of {', '.join(map(str, SAMPLE_RATES))}")
        if self.dry_stems and self.stems == "none":
            raise InputError("--dry-stems", "needs stem files: it cannot go with --stems none")
        if self.lufs is not None and not LUFS_RANGE[0] <= self.lufs <= LUFS_RANGE[1]:
            raise InputError("--lufs", f"{self.lufs:g} is outside {LUFS_RANGE[0]:g}..{LUFS_RANGE[1]:g} LUFS")
        self.parsed_key()
