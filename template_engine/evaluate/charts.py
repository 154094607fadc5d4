"""Small inline SVG charts for the offline HTML pages (artist page, evaluation): no script, no
download, each chart a ``<figure>`` with a caption, so a page opens from disk in any browser."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

from sample_library.audio_io import atomic_path

COLOURS = ("#39f", "#e94", "#4c4", "#e44", "#a5e", "#3cc", "#dd3", "#e5a")
SECTION_COLOURS = {"intro": "#557", "build": "#d93", "drop": "#e44", "breakdown": "#39c", "bridge": "#4a4",
                   "outro": "#667", "verse": "#a5e", "chorus": "#e5a"}

PAGE_STYLE = ("body{font-family:sans-serif;background:#222;color:#eee;margin:1.5em}"
         "section{background:#2c2c2c;margin:1em 0;padding:1em;border-radius:8px}"
         "figure{display:inline-block;margin:.5em}figcaption{font-size:12px;color:#bbb}"
         "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}th{color:#bbb}"
         ".key{padding:1px 6px;border-radius:3px;font-size:12px}.song{font-size:12px;color:#bbb}")
Series = tuple[str, Sequence[float], Sequence[float]]  # name, x values, y values


def figure(svg: str, caption: str, kind: str) -> str:
    """``svg`` wrapped in a figure of class ``chart <kind>`` with its caption."""
    return f'<figure class="chart {kind}">{svg}<figcaption>{html.escape(caption)}</figcaption></figure>'


def _tick(value: float) -> str:
    return f"{value / 1000:.3g}k" if abs(value) >= 1000 else f"{value:.3g}"


def line_chart(series: list[Series], *, x_label: str, y_label: str, log_x: bool = False,
               hlines: Sequence[tuple[str, float]] = (), width: int = 420, height: int = 200) -> str:
    """An SVG of each series as a polyline, plus dashed horizontal lines (name, y), with axes
    labelled at their ends; ``log_x`` for frequencies (Hz)."""
    fx = (lambda v: math.log10(max(v, 1e-9))) if log_x else float
    unlog = (lambda v: 10 ** v) if log_x else float
    xs = [fx(x) for _, xv, _ in series for x in xv]
    ys = [float(y) for _, _, yv in series for y in yv if math.isfinite(y)] + [y for _, y in hlines]
    if not xs or not ys:
        return '<svg class="empty" width="0" height="0"></svg>'
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    pad = 34

    def px(x: float) -> float:
        return pad + (fx(x) - x0) / (x1 - x0) * (width - 2 * pad)

    def py(y: float) -> float:
        return height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="line-chart">',
             f'<rect width="{width}" height="{height}" fill="#1b1b1b"/>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#888"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#888"/>',
             f'<text x="{width / 2:.0f}" y="{height - 8}" fill="#aaa" font-size="11" text-anchor="middle">{html.escape(x_label)}</text>',
             f'<text x="4" y="14" fill="#aaa" font-size="11">{html.escape(y_label)}</text>',
             f'<text x="{pad - 3}" y="{py(y1) + 4:.1f}" fill="#aaa" font-size="10" text-anchor="end">{y1:.3g}</text>',
             f'<text x="{pad - 3}" y="{py(y0):.1f}" fill="#aaa" font-size="10" text-anchor="end">{y0:.3g}</text>',
             f'<text x="{pad}" y="{height - pad + 12}" fill="#aaa" font-size="10">{_tick(unlog(x0))}</text>',
             f'<text x="{width - pad}" y="{height - pad + 12}" fill="#aaa" font-size="10" text-anchor="end">{_tick(unlog(x1))}</text>']
    for i, (name, xv, yv) in enumerate(series):
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xv, yv) if math.isfinite(y))
        colour = COLOURS[i % len(COLOURS)]
        parts.append(f'<polyline class="series" points="{points}" stroke="{colour}" fill="none" stroke-width="1.5"/>')
        parts.append(f'<text x="{width - pad}" y="{pad + 12 * i}" fill="{colour}" font-size="10" '
                     f'text-anchor="end">{html.escape(name)}</text>')
    for name, y in hlines:
        parts.append(f'<line class="hline" x1="{pad}" y1="{py(y):.1f}" x2="{width - pad}" y2="{py(y):.1f}" '
                     f'stroke="#ccc" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{pad + 4}" y="{py(y) - 3:.1f}" fill="#ccc" font-size="10">{html.escape(name)} {y:.3g}</text>')
    return "".join(parts) + "</svg>"


def bar_chart(rows: list[tuple[str, float]], *, unit: str, width: int = 420, row_height: int = 18) -> str:
    """Horizontal bars, one per (label, value), from the smallest value's left edge; values in ``unit``."""
    if not rows:
        return '<svg class="empty" width="0" height="0"></svg>'
    lo = min(0.0, min(v for _, v in rows))
    hi = max(0.0, max(v for _, v in rows))
    span = hi - lo or 1.0
    left, right = 90, 60
    height = row_height * len(rows) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="bar-chart">']
    zero = left + (0 - lo) / span * (width - left - right)
    for i, (label, value) in enumerate(rows):
        a = left + (min(value, 0) - lo) / span * (width - left - right)
        b = left + (max(value, 0) - lo) / span * (width - left - right)
        y = 2 + i * row_height
        parts.append(f'<text x="{left - 4}" y="{y + 12}" fill="#ccc" font-size="11" text-anchor="end">{html.escape(label)}</text>')
        parts.append(f'<rect class="bar" x="{a:.1f}" y="{y + 2}" width="{max(b - a, 1):.1f}" height="{row_height - 5}" '
                     f'fill="{COLOURS[i % len(COLOURS)]}"/>')
        parts.append(f'<text x="{max(b, zero) + 4:.1f}" y="{y + 12}" fill="#ccc" font-size="10">{value:.1f} {html.escape(unit)}</text>')
    return "".join(parts) + "</svg>"


def section_strip(title: str, sections: list[dict], bars: int, width: int = 600, height: int = 16) -> str:
    """A song's sections (``type``, ``start_bar``, ``bars``) as coloured blocks along its ``bars``."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="section-strip">'
             f'<title>{html.escape(title)}</title>']
    for s in sections:
        x = s["start_bar"] / max(bars, 1) * width
        w = s["bars"] / max(bars, 1) * width
        colour = SECTION_COLOURS.get(s["type"], "#888")
        parts.append(f'<rect class="section" x="{x:.1f}" y="0" width="{max(w - 1, 1):.1f}" height="{height}" fill="{colour}">'
                     f'<title>{html.escape(s["type"])} {s["bars"]} bars</title></rect>')
    return "".join(parts) + "</svg>"


def legend(names: Sequence[str]) -> str:
    """Coloured labels for the section types."""
    return " ".join(f'<span class="key" style="background:{SECTION_COLOURS.get(n, "#888")}">{html.escape(n)}</span>'
                    for n in names)


def page(title: str, body: str) -> str:
    """A whole HTML page in the shared style."""
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{PAGE_STYLE}</style></head><body>{body}</body></html>")


def write_page(path: Path, text: str) -> Path:
    """Write a page to ``path`` atomically; returns it."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text)
    return Path(path)
