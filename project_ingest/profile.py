"""The mix profile: each song's mix figures combined into one per-role description of the artist.

Schema (``mix_profile.json``)::

    schema_version
    roles.<role>:
      relative_loudness_db {median, spread, n}   LU relative to the mix
      eq_db {bands_hz, db, n}                    third-octave long-term spectrum, mean removed
      crest_db {median, n}, width {median, n}, reverb_tail_s {median, n}
      sidechain {depth_db, attack_beats, hold_beats, release_beats, points_per_beat, pre_points,
                 curve_db, n} or null
      automation.<section type> {level_db[16], brightness_oct[16], n}
      velocity {by_position {mean[16], std[16], n[16]}, by_section.<type> {mean, n}}
    master {integrated_lufs {median, n}, true_peak_dbtp {median, n}, peak_to_loudness_db {median, n},
            spread_narrowing_db {median, n},   dB the masters narrow the loud-to-quiet bar spread of
                                               their stems' sum (songs with a mix file only)
            drop_minus_db.<section type> {median, n},   the drop's level over the section's (bar RMS)
            eq_db {bands_hz, db, n} or null}   the masters' third-octave long-term spectrum, mean removed
                                               (songs with a mix file only)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from project_ingest import mix_analysis as mx
from project_ingest.score import STEPS_PER_BAR
from project_ingest.spectrum import BAND_CENTRES

PROFILE_SCHEMA_VERSION = 1
STEMS_SUM = "sum of stems"  # a song's master figures measured on its stems, for want of a mix file


def _median(values: list[float]) -> dict:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"median": None, "n": 0}
    return {"median": round(float(np.median(vals)), 3), "spread": round(float(np.std(vals)), 3), "n": len(vals)}


def aggregate_profile(songs: list[dict]) -> dict:
    """Combine per-song mix figures (the ``mix`` entry of each corpus song) into the artist's profile."""
    per_role: dict[str, list[dict]] = {}
    for song in songs:
        for role, fig in song.get("roles", {}).items():
            per_role.setdefault(role, []).append(fig)
    roles = {}
    for role, figs in sorted(per_role.items()):
        entry = {
            "relative_loudness_db": _median([f["relative_loudness_db"] for f in figs]),
            "eq_db": {"bands_hz": [round(float(b), 1) for b in BAND_CENTRES],
                      "db": [round(float(v), 2) for v in np.median(np.array([f["eq_db"] for f in figs]), axis=0)],
                      "n": len(figs)},
            "crest_db": _median([f["crest_db"] for f in figs]),
            "width": _median([f["width"] for f in figs]),
            "reverb_tail_s": _median([f["reverb_tail_s"] for f in figs]),
            "sidechain": _combine_ducking([f["sidechain"] for f in figs if f.get("sidechain")]),
            "automation": _combine_automation([f["automation"] for f in figs]),
            "velocity": _combine_velocity([f["velocity"] for f in figs]),
        }
        roles[role] = entry
    masters = [s["master"] for s in songs if s.get("master")]
    return {"schema_version": PROFILE_SCHEMA_VERSION, "roles": roles,
            "master": {"integrated_lufs": _median([m["integrated_lufs"] for m in masters]),
                       "true_peak_dbtp": _median([m["true_peak_dbtp"] for m in masters]),
                       "peak_to_loudness_db": _median([m.get("peak_to_loudness_db") for m in masters]),
                       "spread_narrowing_db": _median([m["stems_spread_db"] - m["spread_db"] for m in masters
                                                       if m.get("source") != STEMS_SUM and "spread_db" in m]),
                       "drop_minus_db": _drop_minus(masters),
                       "eq_db": _master_spectrum([m for m in masters if m.get("source") != STEMS_SUM])}}


def _master_spectrum(masters: list[dict]) -> dict | None:
    """The median long-term spectrum (third-octave bands, mean removed) of the songs' own masters;
    None where no song came with its master."""
    spectra = [m["eq_db"] for m in masters if m.get("eq_db")]
    if not spectra:
        return None
    return {"bands_hz": [round(float(b), 1) for b in BAND_CENTRES],
            "db": [round(float(v), 2) for v in np.median(np.array(spectra), axis=0)], "n": len(spectra)}


def _drop_minus(masters: list[dict]) -> dict[str, dict]:
    """Per section type, the median over songs with a drop of the drop's level minus the section's (dB)."""
    differences: dict[str, list[float]] = {}
    for m in masters:
        levels = m.get("section_db") or {}
        if "drop" in levels:
            for kind, level in levels.items():
                if kind != "drop":
                    differences.setdefault(kind, []).append(levels["drop"] - level)
    return {kind: _median(values) for kind, values in sorted(differences.items())}


def _combine_ducking(ducks: list[dict]) -> dict | None:
    """Median of the songs' curves weighted by song, with its parameters read off again."""
    if not ducks:
        return None
    curve = np.median(np.array([d["curve_db"] for d in ducks]), axis=0)
    return {"depth_db": round(float(np.median([d["depth_db"] for d in ducks])), 3),
            "attack_beats": round(float(np.median([d["attack_beats"] for d in ducks])), 4),
            "hold_beats": round(float(np.median([d["hold_beats"] for d in ducks])), 4),
            "release_beats": round(float(np.median([d["release_beats"] for d in ducks])), 4),
            "points_per_beat": ducks[0]["points_per_beat"], "pre_points": ducks[0]["pre_points"],
            "curve_db": [round(float(v), 3) for v in curve], "n": int(sum(d["n"] for d in ducks)),
            "songs": len(ducks)}


def _combine_automation(autos: list[dict]) -> dict:
    out = {}
    kinds = sorted({k for a in autos for k in a})
    for kind in kinds:
        rows = [a[kind] for a in autos if kind in a]
        lv = mx.as_floats([r["level_db"] for r in rows])
        br = mx.as_floats([r["brightness_oct"] for r in rows])
        out[kind] = {"level_db": mx.rounded_or_none(mx.nanmedian_rows(lv)),
                     "brightness_oct": mx.rounded_or_none(mx.nanmedian_rows(br)),
                     "n": int(sum(r["n"] for r in rows))}
    return out


def _combine_velocity(vels: list[dict]) -> dict:
    means = np.zeros(STEPS_PER_BAR)
    counts = np.zeros(STEPS_PER_BAR)
    sq = np.zeros(STEPS_PER_BAR)
    for v in vels:
        for i in range(STEPS_PER_BAR):
            n = v["by_position"]["n"][i]
            if n:
                m, s = v["by_position"]["mean"][i], v["by_position"]["std"][i]
                means[i] += m * n
                sq[i] += (s * s + m * m) * n
                counts[i] += n
    mean = np.where(counts > 0, means / np.maximum(counts, 1), np.nan)
    std = np.sqrt(np.maximum(np.where(counts > 0, sq / np.maximum(counts, 1), 0) - np.nan_to_num(mean) ** 2, 0))
    by_section: dict[str, dict] = {}
    for v in vels:
        for kind, e in v["by_section"].items():
            acc = by_section.setdefault(kind, {"sum": 0.0, "n": 0})
            acc["sum"] += e["mean"] * e["n"]
            acc["n"] += e["n"]
    return {"by_position": {"mean": [None if not np.isfinite(m) else round(float(m), 2) for m in mean],
                            "std": [round(float(s), 2) for s in std], "n": [int(c) for c in counts]},
            "by_section": {k: {"mean": round(a["sum"] / a["n"], 2), "n": a["n"]} for k, a in sorted(by_section.items()) if a["n"]}}


def _median_of(entry: dict | None) -> float | None:
    """The ``median`` of a ``{median, spread, n}`` figure, None where it is missing or not finite."""
    value = (entry or {}).get("median")
    return float(value) if value is not None and np.isfinite(value) else None


@dataclass(frozen=True)
class Ducking:
    """A role's learned sidechain: depth (dB) and shape (beats), and the curve itself (dB), sampled
    ``points_per_beat`` per beat from ``pre_points`` points before the kick."""

    depth_db: float
    attack_beats: float
    hold_beats: float
    release_beats: float
    points_per_beat: int
    pre_points: int
    curve_db: tuple[float, ...]

    @classmethod
    def from_dict(cls, d: dict) -> Ducking:
        return cls(float(d["depth_db"]), float(d["attack_beats"]), float(d["hold_beats"]), float(d["release_beats"]),
                   int(d["points_per_beat"]), int(d.get("pre_points", 0)), tuple(float(v) for v in d["curve_db"]))


@dataclass(frozen=True)
class SectionAutomation:
    """A role's level (dB) and brightness (octaves of spectral centroid) through one section type,
    at evenly spaced points of the section; None where the role was silent."""

    level_db: tuple[float | None, ...]
    brightness_oct: tuple[float | None, ...]


@dataclass(frozen=True)
class RoleProfile:
    """How the artist mixes one role. Every figure is None (or empty) where the artist gave none;
    the mixing chain then leaves that step out."""

    relative_loudness_db: float | None = None
    eq_db: tuple[float, ...] | None = None
    crest_db: float | None = None
    width: float | None = None
    reverb_tail_s: float | None = None
    sidechain: Ducking | None = None
    automation: dict[str, SectionAutomation] = field(default_factory=dict)
    velocity_by_position: tuple[float | None, ...] | None = None

    @classmethod
    def from_dict(cls, d: dict) -> RoleProfile:
        eq = (d.get("eq_db") or {}).get("db")
        velocity = (d.get("velocity") or {}).get("by_position", {}).get("mean")
        return cls(relative_loudness_db=_median_of(d.get("relative_loudness_db")),
                   eq_db=tuple(float(v) for v in eq) if eq else None,
                   crest_db=_median_of(d.get("crest_db")), width=_median_of(d.get("width")),
                   reverb_tail_s=_median_of(d.get("reverb_tail_s")),
                   sidechain=Ducking.from_dict(d["sidechain"]) if d.get("sidechain") else None,
                   automation={kind: SectionAutomation(tuple(a["level_db"]), tuple(a["brightness_oct"]))
                               for kind, a in (d.get("automation") or {}).items()},
                   velocity_by_position=tuple(velocity) if velocity else None)


@dataclass(frozen=True)
class MixProfile:
    """The artist's mix, typed: one ``RoleProfile`` per role, and the master's integrated loudness
    (LUFS), true peak (dBTP), narrowing of the bar spread (dB), drop-over-section levels (dB) and
    long-term spectrum (dB per third-octave band), parsed once from ``mix_profile.json`` (schema above)."""

    roles: dict[str, RoleProfile]
    master_lufs: float | None = None
    master_true_peak_dbtp: float | None = None
    master_spread_narrowing_db: float | None = None
    master_drop_minus_db: dict[str, float] = field(default_factory=dict)
    master_eq_db: tuple[float, ...] | None = None

    @classmethod
    def from_dict(cls, d: dict) -> MixProfile:
        master = d.get("master") or {}
        return cls(roles={role: RoleProfile.from_dict(r) for role, r in (d.get("roles") or {}).items()},
                   master_lufs=_median_of(master.get("integrated_lufs")),
                   master_true_peak_dbtp=_median_of(master.get("true_peak_dbtp")),
                   master_spread_narrowing_db=_median_of(master.get("spread_narrowing_db")),
                   master_drop_minus_db={k: v for k, e in (master.get("drop_minus_db") or {}).items()
                                         if (v := _median_of(e)) is not None},
                   master_eq_db=tuple(master["eq_db"]["db"]) if master.get("eq_db") else None)

    def role(self, name: str) -> RoleProfile:
        """The profile of role ``name``; an empty one (every step left out) for a role the artist lacks."""
        return self.roles.get(name) or RoleProfile()
