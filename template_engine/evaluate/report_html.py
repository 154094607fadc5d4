"""``evaluation.html``: the tables ``template evaluate`` prints, as an offline page beside its JSON,
with the style fit of each feature drawn against its leave-one-out ceiling."""

from __future__ import annotations

import html
from pathlib import Path

from template_engine.evaluate.charts import bar_chart, figure, page, write_page

CANDIDATE_COLUMNS = (("style fit", lambda c: c["style_fit"]), ("copied bars", lambda c: c["novelty"]["copied_share"]),
                     ("in order", lambda c: c["novelty"]["longest_in_order"]),
                     ("pitched copied", lambda c: c["novelty"]["pitched_copied_share"]),
                     ("pitched in order", lambda c: c["novelty"]["pitched_longest_in_order"]),
                     ("in scale", lambda c: c["sanity"]["scale_consistency"]),
                     ("groove", lambda c: c["sanity"]["groove_consistency"]),
                     ("empty beats", lambda c: c["sanity"]["empty_beat_rate"]),
                     ("LUFS", lambda c: c["audio"]["integrated_lufs"]), ("dBTP", lambda c: c["audio"]["true_peak_dbtp"]),
                     ("clipped", lambda c: c["audio"]["clipped_samples"]),
                     ("stems - mix dB", lambda c: c["audio"]["stems_vs_mix_residual_db"]),
                     ("8-bar lines", lambda c: c["structure"]["boundaries_on_8_bar_lines"]))
FORM_ROWS = (("pitched bars recurring 8+ bars away", "exact_recurrence"), ("harmonies recurring", "harmony_recurrence"),
             ("distinct harmonies per 16 bars", "distinct_harmonies_per_16"))


def _cell(value: object) -> str:
    if value is None:
        return "<td>-</td>"
    if isinstance(value, float):
        return f"<td>{value:.2f}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _table(kind: str, header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) if i else f"<th>{html.escape(str(v))}</th>" for i, v in enumerate(row))
                   + "</tr>" for row in rows)
    return f'<table class="{kind}"><tr>{head}</tr>{body}</table>'


def report_html(report: dict) -> str:
    """The evaluation report (``report.evaluate``'s dict) as a page."""
    own = report["artist_self_borrowing"]
    candidates = _table("candidates", ["candidate"] + [name for name, _ in CANDIDATE_COLUMNS],
                        [[c["title"]] + [get(c) for _, get in CANDIDATE_COLUMNS] for c in report["candidates"]])
    form = _table("form", ["", "candidates", "artist"],
                  [[label, report["candidates_form"][key], report["artist_form"][key]] for label, key in FORM_ROWS])
    macro = report.get("macro_drop_minus_db") or {}
    macro_table = _table("macro", ["drop minus (dB)", "candidates", "artist"],
                         [[kind, v["candidates"], v["artist"]] for kind, v in macro.items()]) if macro else ""
    fit = report["style_fit"]
    style = _table("style-fit", ["feature", "overlap", "leave-one-out ceiling"],
                   [[name, v["overlap"], v["ceiling"]] for name, v in fit.items()])
    gaps = [(name, 100 * ((v["ceiling"] or 0) - (v["overlap"] or 0))) for name, v in fit.items()]
    skipped = "".join(f"<p>skipped {html.escape(s['problem'])}</p>" for s in report.get("skipped", []))
    return page(f"Evaluation: {report['artist']}", f"<h1>{len(report['candidates'])} candidates of "
            f"{html.escape(report['artist'])}</h1><p>The artist's {report['artist_songs']} songs borrow from each other "
            f"{own['copied_share']:.2f} of bars (in order up to {own['longest_in_order']} bars); pitched tracks "
            f"{own['pitched_copied_share']:.2f} (up to {own['pitched_longest_in_order']}).</p>"
            f"<section><h2>Candidates</h2>{candidates}</section>"
            f"<section><h2>Form</h2>{form}{macro_table}</section>"
            f"<section><h2>Style fit</h2>{style}"
            f"{figure(bar_chart(gaps, unit='points'), 'How far each feature falls short of the ceiling (percentage points)', 'style-gap')}"
            f"</section>{skipped}")


def write_report_html(report: dict, path: Path) -> Path:
    """Write the page to ``path`` atomically; returns it."""
    return write_page(path, report_html(report))
