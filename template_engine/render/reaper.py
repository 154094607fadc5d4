"""A Reaper project (``.rpp``, Reaper's plain-text format) beside the .dawproject.

Tempo, 4/4 and one marker per section; one folder track of stems (each stem an audio item from 0,
referenced relative to the project, as Reaper does for media next to it) and one track per role
with its notes as an in-project MIDI item (960 ticks per quarter note). Open it in Reaper and press
play; the MIDI tracks are muted until an instrument is put on them (the candidate's ``kit/`` SFZ in
any SFZ player, or Reaper's ReaSamplOmatic).
"""

from __future__ import annotations

from pathlib import Path

from project_ingest.score import BEATS_PER_BAR, Score
from sample_library.audio_io import atomic_path

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


def project_text(score: Score, stems: list[tuple[str, str]], seconds: float, sample_rate: int) -> str:
    """The .rpp text; ``stems`` are (track name, path relative to the project)."""
    spb = 60.0 / score.bpm
    song_beats = score.bars * BEATS_PER_BAR
    lines = ['<REAPER_PROJECT 0.1 "6.0/artist-templates" 0', f"  TEMPO {score.bpm:g} 4 4",
             f"  SAMPLERATE {sample_rate} 0 0"]
    for i, s in enumerate(score.sections):
        lines.append(f"  MARKER {i + 1} {s.start_bar * BEATS_PER_BAR * spb:.6f} {_quote(s.kind)} 0")
    if stems:
        lines += ["  <TRACK", f"    NAME {_quote('Stems')}", "    ISBUS 1 1", "  >"]
        for i, (name, path) in enumerate(stems):
            last = i == len(stems) - 1
            lines += ["  <TRACK", f"    NAME {_quote(name)}", "    VOLPAN 1 0 -1 -1 1", f"    ISBUS {'2 -1' if last else '0 0'}",
                      "    <ITEM", "      POSITION 0", f"      LENGTH {seconds:.6f}", f"      NAME {_quote(name)}",
                      "      <SOURCE WAVE", f"        FILE {_quote(path)}", "      >", "    >", "  >"]
    for role, notes in score.tracks.items():
        lines += ["  <TRACK", f"    NAME {_quote(role + ' (MIDI)')}", "    MUTESOLO 1 0 0", "    <ITEM", "      POSITION 0",
                  f"      LENGTH {song_beats * spb:.6f}", f"      NAME {_quote(role)}", "      <SOURCE MIDI",
                  f"        HASDATA 1 {PPQ} QN"]
        lines += ["        " + e for e in midi_events(notes, song_beats)]
        lines += ["      >", "    >", "  >"]
    return "\n".join(lines + [">"]) + "\n"


def write_reaper_project(path: Path, score: Score, *, stems: list[tuple[str, Path]], seconds: float, sample_rate: int) -> None:
    """Write the .rpp atomically; ``stems`` (track name, file) must lie at or below its folder."""
    entries = [(name, file.relative_to(Path(path).parent).as_posix()) for name, file in stems]
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(project_text(score, entries, seconds, sample_rate))
