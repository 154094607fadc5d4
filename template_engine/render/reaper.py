"""A Reaper project (``.rpp``, Reaper's plain-text format) beside the .dawproject.

Tempo, 4/4 and one marker per section; one folder track of stems (each stem an audio item from 0,
referenced relative to the project, as Reaper does for media next to it) and one track per role
with its notes as an in-project MIDI item (960 ticks per quarter note). Open it in Reaper and press
play; the MIDI tracks are muted until an instrument is put on them (the candidate's ``kit/`` SFZ in
any SFZ player, or Reaper's ReaSamplOmatic).

A stem that comes with its ``TrackChain`` (a dry stem) gets its learned fader level and its volume
envelope (the section rides and the sidechain, fader level included, so the fader is left at unity
under it). Reaper keeps its own effects' settings as binary state, so the EQ and compressor are
left to the .dawproject.
"""

from __future__ import annotations

from pathlib import Path

from project_ingest.score import BEATS_PER_BAR, Score
from sample_library.audio_io import atomic_path
from template_engine.render.track_chain import TrackChain

PPQ = 960


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def midi_events(notes: list, song_beats: float) -> list[str]:
    """``E <delta ticks> <status> <note> <velocity>`` lines (hex) of ``notes`` (BeatNote, beats), on
    channel 1, ending with an all-notes-off at the song's end."""
    events = []
    for n in notes:
        events.append((round(n.start * PPQ), 1, 0x90, n.pitch, max(1, min(127, int(n.velocity)))))
        events.append((round((n.start + n.duration) * PPQ), 0, 0x80, n.pitch, 0))
    events.sort()
    lines, now = [], 0
    for tick, _, status, pitch, velocity in events:
        lines.append(f"E {tick - now} {status:02x} {pitch:02x} {velocity:02x}")
        now = tick
    lines.append(f"E {max(0, round(song_beats * PPQ) - now)} b0 7b 00")
    return lines


def volume_lines(chain: TrackChain | None, seconds_per_beat: float) -> list[str]:
    """A stem track's ``VOLPAN`` (linear fader, centred pan) and, where its chain has one, its volume
    envelope (``VOLENV2``: seconds, linear gain, linear segments)."""
    if chain is None:
        return ["    VOLPAN 1 0 -1 -1 1"]
    if not chain.envelope:
        return [f"    VOLPAN {10 ** (chain.level_db / 20):.6f} 0 -1 -1 1"]
    points = [f"      PT {beats * seconds_per_beat:.6f} {10 ** (db / 20):.6f} 0" for beats, db in chain.envelope]
    return ["    VOLPAN 1 0 -1 -1 1", "    <VOLENV2", "      ACT 1 -1", "      VIS 1 1 1", "      ARM 0",
            "      DEFSHAPE 0 -1 -1", *points, "    >"]


def project_text(score: Score, stems: list[tuple[str, str, TrackChain | None]], seconds: float, sample_rate: int) -> str:
    """The .rpp text; ``stems`` are (track name, path relative to the project, chain to rebuild or None)."""
    spb = 60.0 / score.bpm
    song_beats = score.bars * BEATS_PER_BAR
    lines = ['<REAPER_PROJECT 0.1 "6.0/artist-templates" 0', f"  TEMPO {score.bpm:g} 4 4",
             f"  SAMPLERATE {sample_rate} 0 0"]
    for i, s in enumerate(score.sections):
        lines.append(f"  MARKER {i + 1} {s.start_bar * BEATS_PER_BAR * spb:.6f} {_quote(s.kind)} 0")
    if stems:
        lines += ["  <TRACK", f"    NAME {_quote('Stems')}", "    ISBUS 1 1", "  >"]
        for i, (name, path, chain) in enumerate(stems):
            last = i == len(stems) - 1
            lines += ["  <TRACK", f"    NAME {_quote(name)}", *volume_lines(chain, spb), f"    ISBUS {'2 -1' if last else '0 0'}",
                      "    <ITEM", "      POSITION 0", f"      LENGTH {seconds:.6f}", f"      NAME {_quote(name)}",
                      "      <SOURCE WAVE", f"        FILE {_quote(path)}", "      >", "    >", "  >"]
    for role, notes in score.tracks.items():
        lines += ["  <TRACK", f"    NAME {_quote(role + ' (MIDI)')}", "    MUTESOLO 1 0 0", "    <ITEM", "      POSITION 0",
                  f"      LENGTH {song_beats * spb:.6f}", f"      NAME {_quote(role)}", "      <SOURCE MIDI",
                  f"        HASDATA 1 {PPQ} QN"]
        lines += ["        " + e for e in midi_events(notes, song_beats)]
        lines += ["      >", "    >", "  >"]
    return "\n".join(lines + [">"]) + "\n"


def write_reaper_project(path: Path, score: Score, *, stems: list[tuple[str, Path, TrackChain | None]], seconds: float,
                         sample_rate: int) -> None:
    """Write the .rpp atomically; ``stems`` (track name, file, chain or None) must lie at or below its folder."""
    entries = [(name, file.relative_to(Path(path).parent).as_posix(), chain) for name, file, chain in stems]
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(project_text(score, entries, seconds, sample_rate))
