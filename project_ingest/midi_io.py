"""MIDI files through mido: reading any type 0/1 file into tracks of notes in beats, and writing
scores at 480 ticks per beat with tempo, 4/4, track names and section markers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import mido

from project_ingest.score import BEATS_PER_BAR, BeatNote, Score
from sample_library.audio_io import atomic_path
from sample_library.roles import DRUM_ROLES

TICKS_PER_BEAT = 480
GM_PROGRAM = {"bass": 38, "sub": 38, "chords": 4, "lead": 81, "pluck": 45, "pad": 89, "arp": 81,
              "vocal_chop": 54, "fx": 97}


Event = tuple[int, int, str, dict[str, int]]  # tick, order at the tick, message type, its fields


def _track_events(notes: list[BeatNote], channel: int, program: int | None) -> list[Event]:
    """A track's messages (program, then note on/off pairs) at their ticks, in file order: at a
    tick, offs before ons, by pitch."""
    events: list[Event] = []
    if program is not None:
        events.append((0, 0, "program_change", {"program": program, "channel": channel}))
    for n in notes:
        if not 0 <= n.pitch <= 127:
            raise ValueError(f"pitch {n.pitch} at beat {n.start} is outside MIDI's 0-127")
        on = int(round(n.start * TICKS_PER_BEAT))
        off = max(on + 1, int(round((n.start + n.duration) * TICKS_PER_BEAT)))
        events.append((on, 2, "note_on", {"note": n.pitch, "velocity": max(1, min(127, n.velocity)), "channel": channel}))
        events.append((off, 1, "note_off", {"note": n.pitch, "velocity": 0, "channel": channel}))
    events.sort(key=lambda e: (e[0], e[1], e[3].get("note", -1)))
    return events


def _to_track(name: str, events: list[Event]) -> mido.MidiTrack:
    """The events as one named track, each message made once with its delta time (the fields are
    valid by construction, so mido's checks are skipped: they cost most of a song's MIDI export)."""
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, _, kind, fields in events:
        track.append(mido.Message(kind, skip_checks=True, time=tick - now, **fields))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def score_to_midi(score: Score, *, track_names: dict[str, str] | None = None,
                  roles: list[str] | None = None) -> mido.MidiFile:
    """A type-1 MIDI file: a conductor track (tempo, 4/4, key, a marker per section), then one track
    per role (drum roles on channel 10), named ``track_names[role]`` or the role."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = [(0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(score.bpm))),
                 (0, 0, mido.MetaMessage("time_signature", numerator=4, denominator=4)),
                 (0, 0, mido.MetaMessage("key_signature", key=score.key.short))]
    for s in score.sections:
        conductor.append((s.start_bar * BEATS_PER_BAR * TICKS_PER_BEAT, 1, mido.MetaMessage("marker", text=s.kind)))
    head = mido.MidiTrack()
    head.append(mido.MetaMessage("track_name", name="tempo", time=0))
    now = 0
    for tick, _, msg in sorted(conductor, key=lambda e: (e[0], e[1])):
        head.append(msg.copy(skip_checks=True, time=tick - now))
        now = tick
    head.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks.append(head)
    names = track_names or {}
    channel = 0
    for role in roles or list(score.tracks):
        notes = score.tracks.get(role, [])
        if role in DRUM_ROLES:
            events = _track_events(notes, 9, None)
        else:
            events = _track_events(notes, channel, GM_PROGRAM.get(role, 0))
            channel = (channel + 1) % 16
            if channel == 9:
                channel = 10
        mid.tracks.append(_to_track(names.get(role, role), events))
    return mid


def write_midi(path: Path, mid: mido.MidiFile) -> None:
    """Save ``mid`` to ``path`` atomically."""
    with atomic_path(Path(path)) as tmp:
        mid.save(str(tmp))


@dataclass
class MidiTrack:
    """One MIDI track: its name, notes (beats), whether it is on the GM drum channel, its program."""

    name: str
    notes: list[BeatNote]
    drum_channel: bool
    program: int | None
    stem_hint: str | None = None


def read_midi(path: Path) -> tuple[list[MidiTrack], dict]:
    """Read a MIDI file into tracks of notes in beats.

    Returns (tracks, info) where info has 'tempos' (bpm list in order), 'time_signatures'
    ([(num, den)]) and 'ticks_per_beat'. Raises ValueError when the file is not MIDI.
    """
    try:
        mid = mido.MidiFile(str(path), clip=True)
    except Exception as exc:
        raise ValueError(f"not a readable MIDI file ({str(exc) or type(exc).__name__})") from None
    tpq = mid.ticks_per_beat
    tempos, signatures, tracks = [], [], []
    for index, track in enumerate(mid.tracks):
        now = 0
        name = None
        stem_hint = None
        program = None
        open_notes: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        notes: list[BeatNote] = []
        channels = set()
        for msg in track:
            now += msg.time
            if msg.type == "track_name" and name is None:
                name = msg.name.strip()
            elif msg.type == "text" and msg.text.startswith("stem="):
                stem_hint = msg.text[5:].strip()
            elif msg.type == "set_tempo":
                tempos.append(round(mido.tempo2bpm(msg.tempo), 3))
            elif msg.type == "time_signature":
                signatures.append((msg.numerator, msg.denominator))
            elif msg.type == "program_change" and program is None:
                program = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes[(msg.channel, msg.note)].append((now, msg.velocity))
                channels.add(msg.channel)
            elif msg.type in ("note_off", "note_on"):
                stack = open_notes.get((msg.channel, msg.note))
                if stack:
                    start, velocity = stack.pop(0)
                    notes.append(BeatNote(start / tpq, max(now - start, 1) / tpq, msg.note, velocity))
        for (_channel, pitch), stack in open_notes.items():
            for start, velocity in stack:
                notes.append(BeatNote(start / tpq, max(now - start, tpq / 4) / tpq, pitch, velocity))
        if notes or stem_hint:
            tracks.append(MidiTrack(name=name or f"{path.stem} {index}", notes=sorted(notes, key=lambda n: (n.start, n.pitch)),
                                    drum_channel=bool(channels) and channels <= {9}, program=program,
                                    stem_hint=stem_hint))
    return tracks, {"tempos": tempos, "time_signatures": signatures, "ticks_per_beat": tpq}
