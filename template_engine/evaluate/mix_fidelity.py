"""Mix fidelity: are the learned mixing chains right?

Each song held out of training is rendered again from its own MIDI with the learned profile and the
artist's samples, and every role of that render is measured exactly as ingest measured the real
frozen stem (``project_ingest.mix_analysis.measure_role``); the two are compared: loudness relative
to the mix (dB), spectrum (mean absolute third-octave difference where the stem has energy, dB),
ducking depth (dB) and the ducking curve's correlation, and the correlation of the brightness
trajectories through each section type. Means are given over all roles and apart for drum and
pitched roles (the latter played by notes harvested from the stems).
"""

from __future__ import annotations

import json

import numpy as np
from tqdm import tqdm

from project_ingest.bundle import ArtistBundle
from project_ingest.corpus import load_corpus
from project_ingest.mix_analysis import as_floats, measure_role
from project_ingest.score import BEATS_PER_BAR
from sample_library.library import SampleLibrary
from sample_library.loudness import integrated_loudness
from sample_library.roles import DRUM_ROLES
from template_engine.render.mix import SAMPLE_RATE, mix_song


def _correlation(a: list[float | None], b: list[float | None]) -> float | None:
    x, y = as_floats(a), as_floats(b)
    n = min(x.size, y.size)
    ok = np.isfinite(x[:n]) & np.isfinite(y[:n])
    if ok.sum() < 3 or np.std(x[:n][ok]) < 1e-9 or np.std(y[:n][ok]) < 1e-9:
        return None
    return float(np.corrcoef(x[:n][ok], y[:n][ok])[0, 1])


def spectral_distance_db(got: list[float], want: list[float], within_db: float = 30.0) -> float:
    """Mean absolute difference (dB) of two third-octave curves over the bands where the real stem
    is within ``within_db`` of its loudest band (60 dB down, a difference is not heard)."""
    got_a, want_a = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    audible = want_a >= want_a.max() - within_db
    return round(float(np.mean(np.abs(got_a[audible] - want_a[audible]))), 2)


def compare_role(got: dict, want: dict) -> dict[str, float | None]:
    """One role's rendered figures against the real stem's (both as ``measure_role`` writes them)."""
    out: dict[str, float | None] = {
        "loudness_error_db": round(got["relative_loudness_db"] - want["relative_loudness_db"], 2),
        "spectral_distance_db": spectral_distance_db(got["eq_db"], want["eq_db"]),
        "ducking_depth_error_db": None, "ducking_curve_correlation": None, "automation_correlation": None}
    if got.get("sidechain") and want.get("sidechain"):
        out["ducking_depth_error_db"] = round(got["sidechain"]["depth_db"] - want["sidechain"]["depth_db"], 2)
        out["ducking_curve_correlation"] = _correlation(got["sidechain"]["curve_db"], want["sidechain"]["curve_db"])
    shared = set(got.get("automation") or {}) & set(want.get("automation") or {})
    corrs = [c for kind in shared
             if (c := _correlation(got["automation"][kind]["brightness_oct"], want["automation"][kind]["brightness_oct"])) is not None]
    out["automation_correlation"] = round(float(np.mean(corrs)), 3) if corrs else None
    return out


def held_out_titles(bundle: ArtistBundle) -> list[str]:
    """The songs the model did not train on (all songs when it is not trained)."""
    summary = bundle.model_dir / "training_summary.json"
    if summary.is_file():
        return list(json.loads(summary.read_text()).get("valid_songs", []))
    return [t for t, _ in load_corpus(bundle.path)]


def mix_fidelity(bundle: ArtistBundle, *, seed: int = 0, progress: bool = False) -> dict:
    """Per held-out song and role, the comparison of ``compare_role``; and the means over all of them;
    ``progress`` shows a bar over the songs."""
    measured = {}
    for song in bundle.corpus_songs():
        meta = bundle.song_meta(song)
        measured[meta["title"]] = (meta.get("mix") or {}).get("roles") or {}
    songs = dict(load_corpus(bundle.path))
    rows: dict[str, dict[str, dict]] = {}
    with SampleLibrary(bundle.samples_dir) as library:
        for title in tqdm(held_out_titles(bundle), desc="re-rendering held-out songs", unit="song", disable=not progress):
            score, real = songs.get(title), measured.get(title, {})
            if score is None or not real:
                continue
            mixed = mix_song(score, library, bundle.mix_profile, seed=seed, anchor_song=title)
            spb = 60.0 / score.bpm
            loudness = integrated_loudness(mixed.premaster, SAMPLE_RATE)
            kicks = np.array(sorted(n.start * spb for n in score.tracks.get("kick", [])))
            spans = [(s.kind, s.start_bar * BEATS_PER_BAR * spb, s.end_bar * BEATS_PER_BAR * spb) for s in score.sections]
            for role in sorted(set(real) & set(mixed.tracks)):
                got = measure_role(role, mixed.tracks[role].dense(), SAMPLE_RATE, mix_loudness=loudness,
                                   notes=score.tracks.get(role, []), kicks=kicks, spans=spans,
                                   sections=score.sections, spb=spb)
                if got is not None:
                    rows.setdefault(title, {})[role] = compare_role(got, real[role])
    flat = [(role, r) for song in rows.values() for role, r in song.items()]
    return {"songs": rows, "mean": means([r for _, r in flat]),
            "by_kind": {kind: means([r for role, r in flat if (role in DRUM_ROLES) == (kind == "drums")])
                        for kind in ("drums", "pitched")}}


def means(rows: list[dict]) -> dict[str, float | int | None]:
    """The mean of each comparison over ``rows`` (absolute for the errors), and how many there are."""
    def mean(key: str, absolute: bool = False) -> float | None:
        values = [abs(r[key]) if absolute else r[key] for r in rows if r[key] is not None]
        return round(float(np.mean(values)), 3) if values else None

    return {"abs_loudness_error_db": mean("loudness_error_db", True), "spectral_distance_db": mean("spectral_distance_db"),
            "abs_ducking_depth_error_db": mean("ducking_depth_error_db", True),
            "ducking_curve_correlation": mean("ducking_curve_correlation"),
            "automation_correlation": mean("automation_correlation"), "roles_compared": len(rows)}
