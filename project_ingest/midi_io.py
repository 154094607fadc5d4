"""Writing scores as MIDI with mido: 480 ticks per beat, tempo, 4/4, track names, section markers."""

from __future__ import annotations

from pathlib import Path

import mido

from project_ingest.score import BEATS_PER_BAR, BeatNote, Score
from sample_library.audio_io import atomic_path
from sample_library.roles import DRUM_ROLES

TICKS_PER_BEAT = 480
GM_PROGRAM = {"bass": 38, "sub": 38, "chords": 4, "lead": 81, "pluck": 45, "pad": 89, "arp": 81,
              "vocal_chop": 54, "fx": 97}


def _track_events(notes: list[BeatNote], channel: int, program: int | None) -> list[tuple[int, int, mido.Message]]:
    events = []
    if program is not None:
        events.append((0, 0, mido.Message("program_change", program=program, channel=channel)))
    for n in notes:
        on = int(round(n.start * TICKS_PER_BEAT))
        off = max(on + 1, int(round((n.start + n.duration) * TICKS_PER_BEAT)))
        events.append((on, 2, mido.Message("note_on", note=n.pitch, velocity=max(1, min(127, n.velocity)), channel=channel)))
        events.append((off, 1, mido.Message("note_off", note=n.pitch, velocity=0, channel=channel)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note if hasattr(e[2], "note") else -1))
    return events


def _to_track(name: str, events: list[tuple[int, int, mido.Message]]) -> mido.MidiTrack:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(skip_checks=True, time=tick - now))
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
                 (0, 0, mido.MetaMessage("key_signature", key=_key_signature(score)))]
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


def _key_signature(score: Score) -> str:
    from sample_library.pitch import NOTE_NAMES

    flats = {"C#": "Db", "D#": "Eb", "G#": "Ab", "A#": "Bb"}
    name = NOTE_NAMES[score.key.tonic]
    name = flats.get(name, name) if score.key.mode == "major" or name in ("D#", "A#") else name
    if score.key.mode == "minor" and name in ("Db", "Gb"):
        name = {"Db": "C#", "Gb": "F#"}[name]
    return name + ("m" if score.key.mode == "minor" else "")


def write_midi(path: Path, mid: mido.MidiFile) -> None:
    """Save ``mid`` to ``path`` atomically."""
    with atomic_path(Path(path)) as tmp:
        mid.save(str(tmp))
