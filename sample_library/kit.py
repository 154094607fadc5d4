"""Kit selection for one song, and the instruments that play a kit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sample_library.library import SampleLibrary, SampleRecord
from sample_library.roles import DRUM_ROLES, FALLBACK_ROLES, MONO_ROLES, OPEN_HAT_NOTE, SUSTAINED_ROLES, words_of
from sample_library.sampler import Instrument, zone_from_audio

RELEASE_SECONDS = {"pad": 0.25, "chords": 0.08, "lead": 0.06, "arp": 0.04, "vocal_chop": 0.03,
                   "bass": 0.03, "sub": 0.03, "pluck": 0.05}


@dataclass
class Kit:
    """The samples chosen for one song: per role, the main sample first, then alternatives; which
    role's samples play each role (itself, or the nearest in ``FALLBACK_ROLES``); the roles for
    which the artist has no sample at all."""

    samples: dict[str, list[SampleRecord]]
    anchor_song: str | None
    missing: list[str]
    played_by: dict[str, str] = field(default_factory=dict)

    def hashes(self) -> dict[str, list[str]]:
        return {role: [r.hash for r in recs] for role, recs in self.samples.items()}


def select_kit(library: SampleLibrary, roles: list[str], *, seed: int,
               pitch_centres: dict[str, float] | None = None, alternatives: int = 3,
               anchor_song: str | None = None) -> Kit:
    """Choose samples for ``roles``, seeded.

    The kit starts from one song whose harvested hits are in the library (the artist used those
    sounds together); roles that song lacks get a sample near the anchor's sounds in timbre, or for
    pitched roles one whose root lies near the role's median note (``pitch_centres``, MIDI).
    Each role keeps up to ``alternatives`` extra samples for round robin. ``anchor_song``, when given,
    is the song to start from (a song played again with its own sounds).
    """
    rng = np.random.default_rng(seed)
    pitch_centres = pitch_centres or {}
    songs = sorted({r.song for r in library.query(origin="harvest") if r.song})
    anchor = songs[int(rng.integers(len(songs)))] if songs else None
    if anchor_song is not None:
        anchor = anchor_song
    chosen: dict[str, list[SampleRecord]] = {}
    missing = []
    played_by = {}
    for role in roles:
        pool, source = library.query(role=role), role
        for fallback in FALLBACK_ROLES.get(role, ()):
            if pool:
                break
            pool, source = library.query(role=fallback), fallback
        if not pool:
            missing.append(role)
            continue
        played_by[role] = source
        from_anchor = [r for r in pool if anchor is not None and r.song == anchor]
        if role in DRUM_ROLES:
            picks = _pick_drums(from_anchor or pool, rng, alternatives)
        else:
            picks = _pick_pitched(from_anchor or pool, pool, rng, pitch_centres.get(role), alternatives)
        chosen[role] = picks
    return Kit(samples=chosen, anchor_song=anchor, missing=missing, played_by=played_by)


def _pick_drums(pool: list[SampleRecord], rng: np.random.Generator, alternatives: int) -> list[SampleRecord]:
    by_note: dict[int | None, list[SampleRecord]] = {}
    for r in pool:
        by_note.setdefault(_drum_articulation(r), []).append(r)
    picks = []
    for note in sorted(by_note, key=lambda n: -1 if n is None else n):
        group = by_note[note]
        first = group[int(rng.integers(len(group)))]
        picks.append(first)
        harvest_mates = [r for r in group if r is not first and r.origin == "harvest" and r.song == first.song]
        picks += harvest_mates[:alternatives]
    return picks


def _pick_pitched(preferred: list[SampleRecord], pool: list[SampleRecord], rng: np.random.Generator,
                  centre: float | None, alternatives: int) -> list[SampleRecord]:
    def distance(r: SampleRecord) -> float:
        if centre is None or r.root_midi is None:
            return 0.0
        return abs(r.root_midi - centre)

    singles = [r for r in preferred if (r.chord_size or 1) == 1]
    preferred = singles or preferred
    pool = [r for r in pool if (r.chord_size or 1) == 1] or pool
    ranked = sorted(preferred, key=lambda r: (round(distance(r) / 12.0), r.hash))
    best = [r for r in ranked if round(distance(r) / 12.0) == round(distance(ranked[0]) / 12.0)]
    first = best[int(rng.integers(len(best)))]
    zones = [first]
    others = sorted((r for r in pool if r is not first and r.root_midi is not None and first.root_midi is not None),
                    key=lambda r: (float(np.linalg.norm(r.timbre - first.timbre)), r.hash))
    for r in others:
        if len(zones) > alternatives:
            break
        if all(abs(r.root_midi - z.root_midi) >= 5 for z in zones if z.root_midi is not None) \
                and float(np.linalg.norm(r.timbre - first.timbre)) < 1.0:
            zones.append(r)
    return zones


def _drum_articulation(record: SampleRecord) -> int | None:
    """The note a drum sample answers to: 46 for an open hat, 42 for a closed one, else None."""
    if record.role != "hats":
        return None
    if record.note is not None:
        return OPEN_HAT_NOTE if record.note == OPEN_HAT_NOTE else 42
    words = words_of(record.original_name)
    if "open" in words or "oh" in words or record.decay > 0.35:
        return OPEN_HAT_NOTE
    return 42


def build_instrument(library: SampleLibrary, role: str, records: list[SampleRecord], *,
                     sample_rate: int, seed: int, velocity_exponent: float | None = None) -> Instrument:
    """Load ``records`` as the zones of ``role``'s instrument at ``sample_rate`` Hz."""
    zones = []
    articulated = role == "hats" and len({_drum_articulation(r) for r in records}) > 1
    for r in records:
        audio, sr = library.load(r)
        zones.append(zone_from_audio(
            r.hash, audio, sample_rate, sr,
            root_midi=None if role in DRUM_ROLES or role == "fx" else r.root_midi,
            trigger_note=_drum_articulation(r) if articulated else None,
            velocity=r.velocity,
            sustain_end=None if r.sustain_end is None else max(0.0, r.sustain_end - r.trim_start),
            chord=(r.chord_size or 1) > 1,
        ))
    return Instrument(
        role=role, zones=zones, sample_rate=sample_rate,
        sustained=role in SUSTAINED_ROLES, mono=role in MONO_ROLES,
        choke_notes=frozenset({42, 44, 46}) if role == "hats" else frozenset(),
        choke_all=role == "kick",
        release=RELEASE_SECONDS.get(role, 0.05),
        velocity_exponent=velocity_exponent or 1.5,
        seed=seed,
    )
