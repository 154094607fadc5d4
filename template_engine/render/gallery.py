"""The batch gallery: ``index.html`` with one card per candidate (player, waveform, piano roll), offline."""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

import numpy as np

from project_ingest.midi_io import read_midi
from sample_library.audio_io import atomic_path

WAVEFORM_WIDTH = 600


def waveform_peaks(audio: np.ndarray, width: int = WAVEFORM_WIDTH) -> list[float]:
    """The largest absolute sample of (channels, frames) ``audio`` in each of ``width`` columns (the
    first ``frames % width`` columns one frame longer), rounded to 1e-3; render.json keeps them so the
    gallery does not read the songs back."""
    frames = audio.shape[1]
    if frames < width:
        return [0.0] * width
    mono = np.maximum(audio.max(axis=0), -audio.min(axis=0))
    sizes = np.full(width, frames // width)
    sizes[: frames % width] += 1
    peaks = np.maximum.reduceat(mono, np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    return [round(float(p), 3) for p in peaks]


def waveform_svg(peaks: list[float], height: int = 60) -> str:
    width = len(peaks)
    mid = height / 2
    points = " ".join(f"{x},{mid - p * mid:.1f} {x},{mid + p * mid:.1f}" for x, p in enumerate(peaks))
    return f'<svg width="{width}" height="{height}"><polyline points="{points}" stroke="#39f" fill="none"/></svg>'


def piano_roll_svg(path: Path, width: int = 600, height: int = 120) -> str:
    tracks, _ = read_midi(path)
    notes = [(t.name, n) for t in tracks for n in t.notes]
    if not notes:
        return ""
    end = max(n.start + n.duration for _, n in notes)
    colours = ["#e44", "#e94", "#dd3", "#4c4", "#3cc", "#48f", "#a5e", "#e5a"]
    names = sorted({name for name, _ in notes})
    rects = []
    for name, n in notes:
        x = n.start / end * width
        y = height - (n.pitch - 20) / 90 * height
        rects.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(n.duration / end * width, 1):.1f}" height="2" '
                     f'fill="{colours[names.index(name) % len(colours)]}"/>')
    return f'<svg width="{width}" height="{height}" style="background:#111">{"".join(rects)}</svg>'


def write_gallery(batch_dir: Path) -> Path:
    """Write ``index.html`` in ``batch_dir`` for every candidate folder in it (each batch, and each
    regenerated candidate next to its original, adds to the page)."""
    cards = []
    folders = sorted(p for p in Path(batch_dir).iterdir() if not p.name.startswith(".") and (p / "render.json").is_file())
    for folder in folders:
        info = json.loads((folder / "render.json").read_text())
        song = next((f for f in info["files"]["song"] if f.endswith(".mp3")), info["files"]["song"][0])
        full = next(f for f in info["files"]["midi"] if f.endswith("_full.mid"))
        sections = " · ".join(f"{s['type']} {s['bars']}" for s in info["sections"])
        rel = folder.name
        cards.append(f"""<div class="card"><h2>{html.escape(info['title'])}</h2>
<p>{info['bpm']:g} BPM · {html.escape(info['key'])} · {info['bars']} bars · originality {100 * (1 - info['novelty']['copy_rate']):.0f}%</p>
<audio controls preload="none" src="{html.escape(quote(rel))}/{html.escape(quote(song))}"></audio>
{waveform_svg(info['waveform'])}
{piano_roll_svg(folder / full)}
<p class="sections">{html.escape(sections)}</p></div>""")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Candidates</title>
<style>body{{font-family:sans-serif;background:#222;color:#eee}}.card{{background:#333;margin:1em;padding:1em;border-radius:8px}}</style>
</head><body><h1>{len(cards)} candidates</h1>{''.join(cards)}</body></html>"""
    with atomic_path(batch_dir / "index.html") as tmp:
        tmp.write_text(page)
    return batch_dir / "index.html"
