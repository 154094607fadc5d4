"""MIDI normalisation: one track per role, on a sixteenth grid, bars from the first downbeat, the key,
and the song's sections from energy and track activity per bar."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from project_ingest.midi_io import read_midi
from project_ingest.score import BEATS_PER_BAR, SECTION_TYPES, BeatNote, Key, Score, Section
from sample_library.roles import DRUM_ROLES

GRID = 0.25  # beats: a sixteenth note
SCORES_CACHE = ".scores.json"
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass
class Quantised:
    """Notes on the sixteenth grid, with how far the originals were from it (mean, in sixteenths)."""

    notes: list[BeatNote]
    mean_offset_16ths: float


def quantise(notes: list[BeatNote], *, offset_beats: float = 0.0) -> Quantised:
    """Snap starts to the nearest sixteenth after shifting by ``-offset_beats``; durations to >= 1/16."""
    if not notes:
        return Quantised([], 0.0)
    out, offsets = [], []
    seen = set()
    for n in notes:
        start = n.start - offset_beats
        q = round(start / GRID) * GRID
        offsets.append(abs(start - q) / GRID)
        if q < 0:
            continue
        dur = max(GRID, round(n.duration / GRID) * GRID)
        key = (q, n.pitch)
        if key in seen:
            continue
        seen.add(key)
        out.append(BeatNote(q, dur, n.pitch, n.velocity))
    out.sort(key=lambda n: (n.start, n.pitch))
    return Quantised(out, float(np.mean(offsets)))


def first_downbeat(tracks: dict[str, list[BeatNote]]) -> float:
    """Beats before the bar holding the first note (whole bars of silence at the start are dropped)."""
    first = min((n.start for ns in tracks.values() for n in ns), default=0.0)
    return float(np.floor(first / BEATS_PER_BAR + 1e-6) * BEATS_PER_BAR)


def detect_key(tracks: dict[str, list[BeatNote]]) -> tuple[Key, float]:
    """Krumhansl-Kessler key finding on the duration-weighted pitch classes of the pitched roles.

    Returns the key and the correlation of its profile (confidence, -1..1).
    """
    hist = np.zeros(12)
    for role, notes in tracks.items():
        if role in DRUM_ROLES or role == "fx":
            continue
        for n in notes:
            hist[n.pitch % 12] += min(n.duration, 4.0)
    if hist.sum() == 0:
        return Key(0, "minor"), 0.0
    best = (Key(0, "minor"), -2.0)
    for tonic in range(12):
        for mode, profile in (("major", _MAJOR), ("minor", _MINOR)):
            r = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            if r > best[1]:
                best = (Key(tonic, mode), r)
    return best


def bar_activity(tracks: dict[str, list[BeatNote]], bars: int) -> dict[str, np.ndarray]:
    """Notes per bar for each role: role -> (bars,)."""
    out = {}
    for role, notes in tracks.items():
        counts = np.zeros(bars)
        for n in notes:
            b = int(n.start // BEATS_PER_BAR)
            if 0 <= b < bars:
                counts[b] += 1
        out[role] = counts
    return out


BLOCK_BARS = 4
MAX_SECTION_BARS = 16
LIKE_ENERGY = 0.12  # neighbouring blocks this close in energy belong to one section
LEVEL_RANGE_DB = 24.0  # bar levels this far under the loudest count as energy 0


@dataclass
class BlockFeatures:
    """Per 4-bar block (blocks,): energy 0..1, whether a kick plays, whether a snare roll rises."""

    energy: np.ndarray
    kick: np.ndarray
    rising: np.ndarray


def block_features(tracks: dict[str, list[BeatNote]], bars: int, bar_energy_db: np.ndarray | None) -> BlockFeatures:
    """Energy of each block from the share of roles playing, and (when the audio is known) the mix
    level per bar (dB); kick presence and snare/clap rolls."""
    activity = bar_activity(tracks, bars)
    roles = list(activity)
    blocks = int(np.ceil(bars / BLOCK_BARS))
    share = np.zeros(blocks)
    kick = np.zeros(blocks, dtype=bool)
    rising = np.zeros(blocks)
    for b in range(blocks):
        sl = slice(BLOCK_BARS * b, min(BLOCK_BARS * (b + 1), bars))
        share[b] = np.mean([activity[r][sl].sum() > 0 for r in roles]) if roles else 0.0
        kick[b] = "kick" in activity and activity["kick"][sl].sum() >= 4
        snare_like = sum(activity[r][sl] for r in ("snare", "clap") if r in activity)
        if np.ndim(snare_like) and len(snare_like) > 1:
            rising[b] = float(snare_like[-1] > snare_like[0] * 1.5 and snare_like[-1] >= 4)
    energy = share / max(share.max(), 1e-9)
    if bar_energy_db is not None and bar_energy_db.size:
        level = np.array([np.mean(bar_energy_db[BLOCK_BARS * b:BLOCK_BARS * (b + 1)]) for b in range(blocks)])
        level = np.clip((level - level.max() + LEVEL_RANGE_DB) / LEVEL_RANGE_DB, 0, 1)
        energy = 0.5 * energy + 0.5 * level
    return BlockFeatures(energy, kick, rising)


def label_segments(segments: list[list[int]], seg_energy: list[float], f: BlockFeatures) -> list[str]:
    """Section types of segments of blocks: the loudest are drops, the one rising into a drop a build,
    a quiet start the intro, a quiet end the outro, other quiet parts breakdowns, the rest bridges."""
    top = max(seg_energy)
    labels = ["drop" if e >= 0.8 * top and (f.kick[seg].any() or not f.kick.any()) else ""
              for seg, e in zip(segments, seg_energy)]
    for i, seg in enumerate(segments):
        if labels[i]:
            continue
        nxt_drop = i + 1 < len(segments) and labels[i + 1] == "drop"
        if nxt_drop and (f.rising[seg].any() or seg_energy[i] > 0.3) and i > 0:
            labels[i] = "build"
        elif i == 0:
            labels[i] = "intro"
        elif i == len(segments) - 1:
            labels[i] = "outro"
        elif seg_energy[i] < 0.6 * top:
            labels[i] = "breakdown"
        else:
            labels[i] = "bridge"
    return labels


def detect_sections(tracks: dict[str, list[BeatNote]], bars: int, bar_energy_db: np.ndarray | None) -> list[Section]:
    """Sections on 4-bar lines from energy and track activity.

    Neighbouring blocks of like energy and kick presence form a section (``block_features``), labelled
    by ``label_segments``. Sections longer than 16 bars are cut into 16-bar pieces.
    """
    if bars <= 0:
        return []
    f = block_features(tracks, bars, bar_energy_db)
    segments: list[list[int]] = [[0]]
    for b in range(1, f.energy.size):
        prev = segments[-1][-1]
        if abs(f.energy[b] - f.energy[prev]) < LIKE_ENERGY and f.kick[b] == f.kick[prev] \
                and not f.rising[b] and not f.rising[prev]:
            segments[-1].append(b)
        else:
            segments.append([b])
    seg_energy = [float(np.mean(f.energy[s])) for s in segments]
    top = max(seg_energy)
    sections = []
    for seg, label, e in zip(segments, label_segments(segments, seg_energy, f), seg_energy):
        start, end = BLOCK_BARS * seg[0], min(BLOCK_BARS * (seg[-1] + 1), bars)
        while end - start > 0:
            length = min(MAX_SECTION_BARS, end - start)
            sections.append(Section(label, start, length, round(e / max(top, 1e-9), 3)))
            start += length
    return sections


def sections_from_meta(meta: dict, bars: int) -> list[Section] | None:
    """Sections given in project.json (``[{type, start_bar, bars}]``), when valid."""
    given = meta.get("sections")
    if not isinstance(given, list) or not given:
        return None
    out = []
    for s in given:
        try:
            kind, start, length = str(s["type"]), int(s["start_bar"]), int(s["bars"])
        except (KeyError, TypeError, ValueError):
            return None
        if kind not in SECTION_TYPES or start < 0 or length <= 0:
            return None
        out.append(Section(kind, start, min(length, max(1, bars - start)), float(s.get("energy", 0.5))))
    return out


def corpus_files(bundle_dir: Path) -> list[Path]:
    """The song files (``.json`` and ``.mid``) of a bundle's corpus, sorted by name."""
    return sorted(p for p in Path(bundle_dir, "corpus").glob("[!.]*") if p.suffix in (".json", ".mid") and p.is_file())


def corpus_signature(bundle_dir: Path) -> list[list]:
    """[name, size, modification time (ns)] of every corpus file: what a cache of anything learned
    from the corpus stays valid while."""
    return _signature(corpus_files(bundle_dir))


def _signature(files: list[Path]) -> list[list]:
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def load_corpus(bundle_dir: Path) -> list[tuple[str, Score]]:
    """Every song of a bundle's corpus as (title, Score), sorted by file name.

    Parsing the MIDI files is most of a render's start-up, so the parsed songs are kept in
    ``corpus/.scores.json``, valid while every corpus file keeps its name, size and modification
    time; where it cannot be written (a read-only bundle) the MIDI is parsed each time."""
    folder = Path(bundle_dir, "corpus")
    files = corpus_files(bundle_dir)
    signature = _signature(files)
    cache = folder / SCORES_CACHE
    try:
        cached = json.loads(cache.read_text())
        if cached.get("signature") == signature:
            return [(song["title"], _score_from_json(song)) for song in cached["songs"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    songs = []
    for meta_path in (p for p in files if p.suffix == ".json"):
        meta = json.loads(meta_path.read_text())
        tracks, _ = read_midi(meta_path.with_suffix(".mid"))
        score = Score(bpm=float(meta["bpm"]), key=Key.parse(meta["key"]),
                      sections=[Section.from_dict(s) for s in meta["sections"]],
                      tracks={t.name: t.notes for t in tracks if t.notes}, names={t.name: t.name for t in tracks})
        songs.append((meta["title"], score))
    _write_scores_cache(cache, signature, songs)
    return songs


def _score_from_json(song: dict) -> Score:
    return Score(bpm=song["bpm"], key=Key.parse(song["key"]), sections=[Section.from_dict(s) for s in song["sections"]],
                 tracks={name: [BeatNote(*n) for n in notes] for name, notes in song["tracks"].items()},
                 names=song["names"])


def _write_scores_cache(cache: Path, signature: list, songs: list[tuple[str, Score]]) -> None:
    """Write the parsed corpus beside it (``write_cache``)."""
    data = {"signature": signature, "songs": [
        {"title": title, "bpm": s.bpm, "key": str(s.key), "sections": [x.to_dict() for x in s.sections],
         "tracks": {name: [[n.start, n.duration, n.pitch, n.velocity] for n in notes] for name, notes in s.tracks.items()},
         "names": s.names} for title, s in songs]}
    write_cache(cache, data)


def write_cache(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` atomically, for a cache of what is learned or parsed from
    a bundle: a folder that refuses it (a read-only bundle) only costs speed."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def with_energy(sections: list[Section], bar_db: np.ndarray | None) -> list[Section]:
    """Sections with energy 0..1: their mean bar level against the loudest section's (24 dB range)."""
    if bar_db is None or not sections:
        return sections
    levels = [float(np.mean(bar_db[s.start_bar:s.end_bar])) if s.end_bar <= bar_db.size else -120.0 for s in sections]
    top = max(levels)
    return [Section(s.kind, s.start_bar, s.bars, round(float(np.clip(1 + (lv - top) / 24, 0, 1)), 3))
            for s, lv in zip(sections, levels)]
