"""The artist page: one offline HTML file that shows what the product learned of an artist.

The training curve against the bigram line, each role's learned loudness, EQ curve and ducking
shape, the master's loudness and macro-dynamics, the form habits, and the section plan of every
song of the corpus. Every picture is inline SVG (``charts``), so the page opens from disk.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from project_ingest.bundle import ArtistBundle
from project_ingest.form import SOUNDING_SHARE, FormStats
from project_ingest.spectrum import BAND_CENTRES
from template_engine.evaluate.charts import bar_chart, figure, legend, line_chart, page, section_strip, write_page


def training_section(bundle: ArtistBundle) -> str:
    """The validation (and training) loss by step against the bigram baseline."""
    summary_path, log_path = bundle.model_dir / "training_summary.json", bundle.model_dir / "training_log.jsonl"
    if not summary_path.is_file():
        return '<section id="training"><h2>Training</h2><p>Not trained yet: run <code>template train</code>.</p></section>'
    summary = json.loads(summary_path.read_text())
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()] if log_path.is_file() else []
    steps = [r["step"] for r in rows]
    chart = line_chart([("validation", steps, [r["valid_loss"] for r in rows]),
                        ("training", steps, [r["train_loss"] for r in rows])],
                       x_label="step", y_label="loss (nats/token)", hlines=[("bigram", summary["bigram_valid_loss"])])
    verdict = ("beats the bigram baseline" if summary["valid_loss"] < summary["bigram_valid_loss"]
               else "NO BETTER THAN THE BIGRAM BASELINE")
    return (f'<section id="training"><h2>Training</h2><p>{summary["steps"]} steps, best validation loss '
            f'{summary["valid_loss"]:.3f} at step {summary["best_step"]} against the bigram\'s '
            f'{summary["bigram_valid_loss"]:.3f}: the model <b>{verdict}</b>.</p>'
            f'{figure(chart, "Loss by step; dashed: the bigram model on the same held-out songs", "training-curve")}</section>')


def mix_section(bundle: ArtistBundle) -> str:
    """Each role's loudness (bars), EQ curve and ducking shape (small multiples)."""
    profile = bundle.mix_profile
    loud = [(role, p.relative_loudness_db) for role, p in profile.roles.items() if p.relative_loudness_db is not None]
    parts = [figure(bar_chart(loud, unit="dB"), "Loudness of each role against the mix (LUFS difference)", "loudness")]
    for role, p in profile.roles.items():
        if p.eq_db:
            centres = [float(c) for c in BAND_CENTRES[:len(p.eq_db)]]
            parts.append(figure(line_chart([(role, centres, list(p.eq_db))], x_label="Hz", y_label="dB", log_x=True,
                                           width=300, height=150), f"{role}: learned spectrum (third octaves)", "eq"))
    for role, p in profile.roles.items():
        if p.sidechain:
            d = p.sidechain
            beats = [(i - d.pre_points) / d.points_per_beat for i in range(len(d.curve_db))]
            parts.append(figure(line_chart([(role, beats, list(d.curve_db))], x_label="beats after the kick",
                                           y_label="dB", width=300, height=150),
                                f"{role}: ducking {d.depth_db:.1f} dB, release {d.release_beats:.2f} beats", "ducking"))
    master = [f"integrated {profile.master_lufs:.1f} LUFS" if profile.master_lufs is not None else "",
              f"true peak {profile.master_true_peak_dbtp:.1f} dBTP" if profile.master_true_peak_dbtp is not None else ""]
    drop = [(f"drop - {kind}", v) for kind, v in profile.master_drop_minus_db.items()]
    if drop:
        parts.append(figure(bar_chart(drop, unit="dB"), "Macro-dynamics: the drop's bar level over each section's",
                            "macro"))
    said = ", ".join(m for m in master if m) or "no mix files given, so no learned master"
    return f'<section id="mix"><h2>Mix</h2><p>Master: {html.escape(said)}.</p>{"".join(parts)}</section>'


def theme_parts(form: FormStats, kind: str) -> str:
    """The roles whose theme tracks sections of ``kind`` play as they are, with how often (0..1) and,
    where they leave some bars of a phrase out, the bars (1-4) they play in each part."""
    shares = form.theme_parts.get(kind, {})
    return ", ".join(f"{role.replace('_', ' ')} {share:.2f}{_played_bars(form, kind, role)}"
                     for role, share in shares.items() if share > 0) or "none"


def _played_bars(form: FormStats, kind: str, role: str) -> str:
    parts = form.theme_bars.get(kind, {}).get(role, {})
    played = {part: [j + 1 for j, share in enumerate(shares) if share >= SOUNDING_SHARE] for part, shares in parts.items()}
    if all(len(bars) == len(parts[part]) for part, bars in played.items()):
        return ""
    return " (" + "; ".join(f"{part} phrases: " + ("bars " + ", ".join(str(j) for j in bars) if bars else "rests")
                           for part, bars in sorted(played.items(), reverse=True)) + ")"


def songs_section(bundle: ArtistBundle) -> str:
    """The form habits, and each corpus song's sections as a strip."""
    form = bundle.form
    kinds = sorted(set(form.restate) | set(form.shared_harmony))
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{form.restate.get(k, 0):.2f}</td>"
                   f"<td>{form.shared_harmony.get(k, 0):.2f}</td><td>{html.escape(theme_parts(form, k))}</td></tr>"
                   for k in kinds)
    table = (f'<table class="form"><tr><th>section</th><th>restates an earlier one</th><th>harmony stated elsewhere</th>'
             f'<th>plays the theme\'s parts as they are</th></tr>{rows}</table>')
    strips, seen = [], set()
    for song in bundle.corpus_songs():
        meta = bundle.song_meta(song)
        sections = meta.get("sections", [])
        seen |= {s["type"] for s in sections}
        bars = max((s["start_bar"] + s["bars"] for s in sections), default=0)
        strips.append(f'<div class="song">{html.escape(song)} · {meta.get("bpm", 0):g} BPM · {bars} bars<br>'
                      f'{section_strip(song, sections, bars)}</div>')
    return (f'<section id="songs"><h2>Songs</h2>{table}<p>{legend(sorted(seen))}</p>{"".join(strips)}</section>')


def artist_page_html(bundle: ArtistBundle) -> str:
    """The whole page for ``bundle``."""
    a = bundle.artist
    samples = sum(a.get("samples", {}).values())
    head = (f"<h1>{html.escape(bundle.name)}</h1><p>{len(a['projects'])} songs · {len(a['roles'])} roles "
            f"({html.escape(', '.join(a['roles']))}) · {samples} one-shots</p>")
    return page(f"{bundle.name}: artist page",
                f"{head}{training_section(bundle)}{mix_section(bundle)}{songs_section(bundle)}")


def write_artist_page(bundle: ArtistBundle, path: Path) -> Path:
    """Write the page to ``path`` atomically; returns it."""
    return write_page(path, artist_page_html(bundle))
