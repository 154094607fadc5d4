"""``template evaluate``: how close to the artist, how new and how well made the candidates are.

For rendered candidate folders (or batch folders holding them): symbolic style fit against the
artist's songs (``style_metrics``), bar-level novelty against the artist's own self-borrowing
(``bar_novelty``), musical sanity against the artist's spread, the structure found in the MIDI and
audio, and audio checks (loudness, true peak, clipping, stem lengths, stems against the group mix), and the
macro-dynamics of the masters (the drop's level over each other section's) beside the artist's.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from project_ingest.bundle import ArtistBundle
from project_ingest.corpus import detect_sections, load_corpus, with_energy
from project_ingest.form import FormMeasures, form_measures
from project_ingest.mix_analysis import bar_levels_db, section_levels_db
from project_ingest.score import Score, Section
from sample_library.errors import InputError
from sample_library.loudness import integrated_loudness, true_peak_db
from template_engine.evaluate import bar_novelty
from template_engine.evaluate.style_metrics import sanity, style_fit
from template_engine.render.candidate import find_candidates, load_candidate, read_song, stem_sets

CLIP_LEVEL = 0.9999
SANITY_KEYS = ("scale_consistency", "groove_consistency", "empty_beat_rate", "polyphony")


def audio_checks(folder: Path, info: dict, song: np.ndarray, sr: int) -> dict:
    """Loudness (LUFS), true peak (dBTP) and clipped samples of ``song`` (channels, frames); stem
    lengths; the per-track stems' sum against the group stems' sum (the pre-master mix), in dB."""
    groups, tracks = stem_sets(folder, info)
    stems = groups + tracks
    lengths = {sf.info(str(p)).frames for p in stems}
    residual = None
    if groups and tracks and len(lengths) == 1:
        group_sum = sum(sf.read(str(p), always_2d=True)[0] for p in groups)
        track_sum = sum(sf.read(str(p), always_2d=True)[0] for p in tracks)
        rms = np.sqrt(np.mean(np.square(group_sum)))
        residual = round(float(20 * np.log10(np.sqrt(np.mean(np.square(group_sum - track_sum))) / max(rms, 1e-12) + 1e-12)), 1)
    return {"integrated_lufs": round(integrated_loudness(song, sr), 2), "true_peak_dbtp": round(true_peak_db(song), 2),
            "clipped_samples": int(np.sum(np.abs(song) >= CLIP_LEVEL)), "stems": len(stems),
            "stems_same_length": len(lengths) == 1, "stems_vs_mix_residual_db": residual}


def structure(info: dict, score: Score, song: np.ndarray, sr: int) -> dict:
    """The sections ingest would find in this song (from its MIDI and the bar levels of ``song``,
    (channels, frames)), the share of their boundaries on 8-bar lines, and each one's energy; next to
    the sections it was written with."""
    bar_db = bar_levels_db(song, sr, 60.0 / score.bpm, 0.0, score.bars)
    found = with_energy(detect_sections(score.tracks, score.bars, bar_db), bar_db)
    on_lines = [s.start_bar % 8 == 0 for s in found[1:]]
    return {"found": [{"type": s.kind, "start_bar": s.start_bar + 1, "bars": s.bars, "energy": s.energy} for s in found],
            "boundaries_on_8_bar_lines": round(float(np.mean(on_lines)), 3) if on_lines else 1.0,
            "planned": [f"{s['type']}:{s['bars']}" for s in info["sections"]]}


def drop_minus_db(info: dict, score: Score, song: np.ndarray, sr: int) -> dict[str, float]:
    """The mastered song's (channels, frames) drop level minus each other section type's (bar RMS, dB)."""
    levels = section_levels_db(bar_levels_db(song, sr, 60.0 / score.bpm, 0.0, score.bars),
                               [Section.from_dict(s) for s in info["sections"]])
    return {k: round(levels["drop"] - v, 2) for k, v in levels.items() if k != "drop"} if "drop" in levels else {}


def mean_macro(candidates: list[dict], artist: dict[str, float]) -> dict[str, dict]:
    """Per section type the artist's masters have: the candidates' mean drop-minus-section (dB) beside the artist's."""
    out = {}
    for kind, own in sorted(artist.items()):
        values = [c["macro_drop_minus_db"][kind] for c in candidates if kind in c["macro_drop_minus_db"]]
        out[kind] = {"candidates": round(float(np.mean(values)), 2) if values else None, "artist": round(own, 2)}
    return out


def _spread(rows: list[dict]) -> dict[str, list[float]]:
    return {k: [round(min(r[k] for r in rows), 3), round(max(r[k] for r in rows), 3)] for k in SANITY_KEYS}


def _ranges_outside(ranges: dict[str, list[int]], artist: list[dict]) -> list[str]:
    """Roles whose pitch range leaves the artist's range for that role by more than two semitones."""
    out = []
    for role, (lo, hi) in ranges.items():
        known = [a["ranges"][role] for a in artist if role in a["ranges"]]
        if known and (lo < min(k[0] for k in known) - 2 or hi > max(k[1] for k in known) + 2):
            out.append(role)
    return out


def evaluate(bundle: ArtistBundle, paths: list[Path], *, progress: bool = False) -> dict:
    """The report for the candidates in ``paths`` against ``bundle``'s artist (a JSON-ready dict);
    ``progress`` shows a bar over the candidates."""
    artist = [s for _, s in load_corpus(bundle.path)]
    if len(artist) < 2:
        raise InputError(bundle.path, "needs at least two ingested songs to compare candidates with")
    loaded, skipped = [], []
    for folder in find_candidates(paths):
        try:
            loaded.append((folder, *load_candidate(folder)))
        except InputError as exc:
            skipped.append({"folder": str(folder), "problem": str(exc)})
    if not loaded:
        raise InputError(", ".join(map(str, paths)), f"holds no readable candidate ({skipped[0]['problem']})")
    artist_sanity = [sanity(s) for s in artist]
    borrowing = bar_novelty.self_borrowing(artist)
    candidates = []
    for folder, info, score in tqdm(loaded, desc="evaluating", unit="candidate", disable=not progress):
        checks = sanity(score)
        tracks = bar_novelty.song_novelty(score, artist)
        song, sr = read_song(folder, info)
        candidates.append({
            "folder": str(folder), "title": info["title"], "bpm": info["bpm"], "key": info["key"],
            "style_fit": _mean_overlap(style_fit([score], artist)),
            "novelty": {**bar_novelty.summary(tracks),
                        "tracks": {r: vars(t) for r, t in tracks.items()}},
            "sanity": {**{k: round(checks[k], 3) for k in SANITY_KEYS},
                       "ranges_outside_artist": _ranges_outside(checks["ranges"], artist_sanity)},
            "structure": structure(info, score, song, sr),
            "form": asdict(form_measures(score)),
            "audio": audio_checks(folder, info, song, sr),
            "macro_drop_minus_db": drop_minus_db(info, score, song, sr),
        })
    return {"artist": bundle.name, "artist_songs": len(artist), "candidates": candidates, "skipped": skipped,
            "artist_form": mean_form([form_measures(s) for s in artist]),
            "candidates_form": mean_form([form_measures(s) for _, _, s in loaded]),
            "style_fit": style_fit([s for _, _, s in loaded], artist),
            "artist_self_borrowing": borrowing, "artist_sanity_spread": _spread(artist_sanity),
            "macro_drop_minus_db": mean_macro(candidates, bundle.mix_profile.master_drop_minus_db)}


def mean_form(measures: list[FormMeasures]) -> dict[str, float | None]:
    """Each form measure's mean over songs (None where no song has it)."""
    out = {}
    for key in ("exact_recurrence", "harmony_recurrence", "distinct_harmonies_per_16"):
        values = [getattr(m, key) for m in measures if getattr(m, key) is not None]
        out[key] = round(float(np.mean(values)), 3) if values else None
    return out


def _form_line(label: str, form: dict[str, float | None]) -> str:
    fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    return (f"{label}: pitched bars recurring 8+ bars away {fmt(form['exact_recurrence'])}, harmonies recurring "
            f"{fmt(form['harmony_recurrence'])}, distinct harmonies per 16 bars {fmt(form['distinct_harmonies_per_16'])}")


def _mean_overlap(fit: dict[str, dict]) -> float | None:
    values = [v["overlap"] for v in fit.values() if v["overlap"] is not None]
    return round(float(np.mean(values)), 3) if values else None


def format_table(report: dict) -> str:
    """The report as the lines ``template evaluate`` prints."""
    own = report["artist_self_borrowing"]
    lines = [f"artist {report['artist']} ({report['artist_songs']} songs); its own self-borrowing: all tracks "
             f"{own['copied_share']:.2f} of bars (in order up to {own['longest_in_order']} bars), pitched tracks "
             f"{own['pitched_copied_share']:.2f} (in order up to {own['pitched_longest_in_order']} bars)",
             f"{'candidate':<30} {'style':>5} {'copied':>6} {'ord':>3} {'pitch':>5} {'ord':>3} {'scale':>5} {'groove':>6} "
             f"{'empty':>5} {'LUFS':>6} {'dBTP':>5} {'clip':>4} {'resid':>6} {'8bar':>4}"]
    for c in report["candidates"]:
        n, s, a = c["novelty"], c["sanity"], c["audio"]
        resid = "-" if a["stems_vs_mix_residual_db"] is None else f"{a['stems_vs_mix_residual_db']:.0f}"
        lines.append(f"{c['title'][:30]:<30} {c['style_fit'] or 0:5.2f} {n['copied_share']:6.2f} {n['longest_in_order']:3d} "
                     f"{n['pitched_copied_share']:5.2f} {n['pitched_longest_in_order']:3d} "
                     f"{s['scale_consistency']:5.2f} {s['groove_consistency']:6.2f} "
                     f"{s['empty_beat_rate']:5.2f} {a['integrated_lufs']:6.1f} {a['true_peak_dbtp']:5.1f} "
                     f"{a['clipped_samples']:4d} {resid:>6} {c['structure']['boundaries_on_8_bar_lines']:4.2f}")
    lines.append(_form_line("form of the candidates", report["candidates_form"]))
    lines.append(_form_line("form of the artist's songs", report["artist_form"]))
    macro = report.get("macro_drop_minus_db") or {}
    if macro:
        fmt = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
        lines.append("macro-dynamics, the drop's level over each section's (bar RMS, dB): " + ", ".join(
            f"{kind} {fmt(v['candidates'])} (artist {fmt(v['artist'])})" for kind, v in macro.items()))
    spread = report["artist_sanity_spread"]
    lines.append("artist spread: " + ", ".join(f"{k} {lo:.2f}..{hi:.2f}" for k, (lo, hi) in spread.items()))
    lines.append(f"{'style feature':<26} {'overlap':>7} {'ceiling':>7}")
    for name, v in report["style_fit"].items():
        fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
        lines.append(f"{name:<26} {fmt(v['overlap']):>7} {fmt(v['ceiling']):>7}")
    lines += [f"skipped {s['problem']}" for s in report.get("skipped", [])]
    return "\n".join(lines)


def default_report_path(paths: list[Path]) -> Path:
    """evaluation.json in the batch folder: the folder given, or the parent of a candidate given."""
    first = Path(paths[0])
    return (first.parent if (first / "render.json").is_file() else first) / "evaluation.json"
