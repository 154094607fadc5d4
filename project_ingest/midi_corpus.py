"""A folder of plain MIDI files (no stems) read as songs: the material a base model is pretrained on.

Any type 0 or type 1 file whose bars tile 4/4 (1/4, 2/4, 4/4, 2/2: files often mislabel 4/4) is
taken. Roles come from track names, the General MIDI drum channel (a kit is split by note) and,
failing both, from what the notes are like (``classify_track``). A
piano or chords track reaching down into the bass register gives its low line to ``bass`` (the lowest
note of each onset below ``BASS_SPLIT``), so an accompaniment teaches bass lines as well as voicings.
Key and sections are detected as for a project without ``project.json`` metadata. A file that cannot
be used is reported with its reason and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from project_ingest.classify import classify_track
from project_ingest.corpus import detect_key, detect_sections, first_downbeat, quantise
from project_ingest.discovery import Problem, TrackInput
from project_ingest.midi_io import read_midi
from project_ingest.score import BEATS_PER_BAR, BeatNote, Score
from sample_library.errors import InputError

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
BASS_SPLIT = 48  # MIDI note (C3): below it, the lowest note of an accompaniment onset is the bass line
ACCOMPANIMENT_ROLES = ("chords", "pad")
MIN_BARS = 4
BINARY_METRE_BEATS = (1, 2, 4, 8)  # quarter beats per bar of the metres that tile 4/4 (1/4, 2/4, 4/4, 2/2...)


@dataclass
class MidiSong:
    """One usable file: its path relative to the folder it came from, and the song."""

    name: str
    score: Score


def midi_files(folders: Sequence[Path]) -> Iterator[tuple[Path, Path]]:
    """(folder, file) for every MIDI file under ``folders``, sorted by path; a missing folder is an error."""
    for folder in folders:
        if not Path(folder).is_dir():
            raise InputError(folder, "is not a folder of MIDI files")
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() in MIDI_SUFFIXES and path.is_file():
                yield Path(folder), path


def split_bass(tracks: dict[str, list[BeatNote]]) -> dict[str, list[BeatNote]]:
    """Move the low line of accompaniment tracks into ``bass`` when the song has no bass of its own."""
    if "bass" in tracks or "sub" in tracks:
        return tracks
    out = dict(tracks)
    for role in ACCOMPANIMENT_ROLES:
        notes = out.get(role, [])
        by_onset: dict[float, list[BeatNote]] = {}
        for n in notes:
            by_onset.setdefault(n.start, []).append(n)
        low = [min(group, key=lambda n: n.pitch) for group in by_onset.values()]
        low = [n for n in low if n.pitch < BASS_SPLIT and len(by_onset[n.start]) > 1]
        if len(low) >= 8:
            low_ids = {id(n) for n in low}
            out["bass"] = sorted(out.get("bass", []) + low, key=lambda n: (n.start, n.pitch))
            out[role] = [n for n in notes if id(n) not in low_ids]
    return {r: ns for r, ns in out.items() if ns}


def score_from_midi(path: Path) -> Score:
    """The song in one MIDI file. Raises ValueError saying why the file cannot be used."""
    tracks, info = read_midi(path)
    odd = [f"{num}/{den}" for num, den in info["time_signatures"] if num * 4 / den not in BINARY_METRE_BEATS]
    if odd:
        raise ValueError(f"in {odd[0]}, which does not fill 4/4 bars")
    role_notes: dict[str, list[BeatNote]] = {}
    for track in tracks:
        for a in classify_track(TrackInput(name=track.name, midi=track), None):
            if a.notes:
                role_notes.setdefault(a.role, []).extend(a.notes)
    if not role_notes:
        raise ValueError("has no notes")
    offset = first_downbeat(role_notes)
    quantised = {role: quantise(notes, offset_beats=offset).notes for role, notes in role_notes.items()}
    quantised = split_bass({r: ns for r, ns in quantised.items() if ns})
    end_beat = max(n.start + n.duration for ns in quantised.values() for n in ns)
    bars = int(np.ceil(end_beat / BEATS_PER_BAR - 1e-6))
    if bars < MIN_BARS:
        raise ValueError(f"is {bars} bars long, shorter than {MIN_BARS}")
    bpm = float(info["tempos"][0]) if info["tempos"] else 120.0
    if not 20.0 <= bpm <= 400.0:
        raise ValueError(f"has a tempo of {bpm:g} BPM")
    key, _ = detect_key(quantised)
    sections = detect_sections(quantised, bars, None)
    return Score(bpm=bpm, key=key, sections=sections, tracks=quantised, names={r: r for r in quantised})


def read_midi_corpus(folders: Sequence[Path]) -> tuple[list[MidiSong], list[Problem]]:
    """Every usable song under ``folders`` and a problem (file, reason) for each file skipped."""
    songs, problems = [], []
    for folder, path in midi_files(folders):
        try:
            score = score_from_midi(path)
        except (ValueError, EOFError, OSError, KeyError, IndexError) as exc:
            problems.append(Problem(str(path), str(exc), "skipped"))
            continue
        songs.append(MidiSong(str(path.relative_to(folder)), score))
    return songs, problems
