"""The symbolic song every package shares: notes in beats, one track per role, sections in bars."""

from __future__ import annotations

from dataclasses import dataclass, field

from sample_library.pitch import NOTE_NAMES

SECTION_TYPES = ("intro", "build", "drop", "breakdown", "bridge", "outro")
MODES = ("minor", "major")
SCALES = {"minor": (0, 2, 3, 5, 7, 8, 10), "major": (0, 2, 4, 5, 7, 9, 11)}
BEATS_PER_BAR = 4
STEPS_PER_BEAT = 4  # the sixteenth-note grid
STEPS_PER_BAR = BEATS_PER_BAR * STEPS_PER_BEAT


def beat_step(beats: float) -> int:
    """``beats`` on the sixteenth grid: the nearest whole number of sixteenths."""
    return int(round(beats * STEPS_PER_BEAT))


def step_in_bar(start: float) -> int:
    """The sixteenth (0..15) of the bar that a note starting at ``start`` beats falls on."""
    return beat_step(start % BEATS_PER_BAR) % STEPS_PER_BAR


@dataclass(frozen=True)
class BeatNote:
    """A note: start and duration in beats (quarter notes), MIDI pitch, velocity 1..127."""

    start: float
    duration: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Section:
    """A span of bars with one job; ``energy`` is 0..1."""

    kind: str
    start_bar: int
    bars: int
    energy: float = 0.5

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars

    def to_dict(self) -> dict:
        """As written in corpus and render metadata: type, start_bar (0-based), bars, energy."""
        return {"type": self.kind, "start_bar": self.start_bar, "bars": self.bars, "energy": self.energy}

    @classmethod
    def from_dict(cls, data: dict) -> Section:
        return cls(data["type"], data["start_bar"], data["bars"], data.get("energy", 0.5))


MAJOR_TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


@dataclass
class Key:
    """A key: tonic pitch class (0 = C) and mode ('minor' or 'major')."""

    tonic: int
    mode: str

    def __str__(self) -> str:
        """'Eb minor', 'Bb major': the tonic spelled as the key signature with fewer accidentals does."""
        return f"{self.tonic_name} {self.mode}"

    @property
    def tonic_name(self) -> str:
        return (MINOR_TONICS if self.mode == "minor" else MAJOR_TONICS)[self.tonic % 12]

    @property
    def short(self) -> str:
        """The key as producers write it in file names and MIDI key signatures: 'Ebm', 'F#m', 'Bb', 'Ab'."""
        return self.tonic_name + ("m" if self.mode == "minor" else "")

    @classmethod
    def parse(cls, text: str) -> Key:
        """'F minor', 'F#m', 'Bb major', 'C' -> Key. Raises ValueError on anything else."""
        cleaned = text.strip().replace("♯", "#").replace("♭", "b")
        parts = cleaned.split()
        name = parts[0] if parts else ""
        mode_word = parts[1].lower() if len(parts) > 1 else ""
        if len(parts) == 1 and len(name) > 1 and name.endswith("m") and name[:-1][:1].upper() in "ABCDEFG":
            name, mode_word = name[:-1], "minor"
        if not name or name[0].upper() not in "ABCDEFG":
            raise ValueError(f"'{text}' is not a key (try 'F minor' or 'A major')")
        tonic = NOTE_NAMES.index(name[0].upper())
        for accidental in name[1:]:
            tonic += 1 if accidental == "#" else -1 if accidental == "b" else 99
        if tonic > 50 or len(parts) > 2:
            raise ValueError(f"'{text}' is not a key (try 'F minor' or 'A major')")
        mode = {"": "major", "major": "major", "maj": "major", "minor": "minor", "min": "minor", "m": "minor"}.get(mode_word)
        if mode is None:
            raise ValueError(f"'{text}': mode must be major or minor")
        return cls(tonic % 12, mode)


@dataclass
class Score:
    """A whole song.

    tracks : role -> notes (beats). names : role -> the track's name in the source project.
    """

    bpm: float
    key: Key
    sections: list[Section]
    tracks: dict[str, list[BeatNote]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def bars(self) -> int:
        if self.sections:
            return max(s.end_bar for s in self.sections)
        end = max((n.start + n.duration for ns in self.tracks.values() for n in ns), default=0.0)
        return int(-(-end // BEATS_PER_BAR))

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.bpm

    def section_at(self, bar: int) -> Section | None:
        for s in self.sections:
            if s.start_bar <= bar < s.end_bar:
                return s
        return None
