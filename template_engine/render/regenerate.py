"""``template regenerate``: rewrite one track of a rendered candidate over a bar range, keep the rest.

The candidate's full MIDI and ``render.json`` give back its score. Each 4-bar phrase of the range is
written again by the model with the tracks that come before the regenerated one (in role order) fed
in as they are, so a new bass line hears the drums it plays with. The new notes replace the old
ones inside the range only; the song is then mixed with the same kit (same kit seed) and exported
as a new candidate folder next to the old one.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from project_ingest.bundle import ArtistBundle
from project_ingest.corpus import load_corpus
from project_ingest.score import BEATS_PER_BAR, BeatNote, Score
from sample_library.errors import InputError
from sample_library.library import SampleLibrary
from sample_library.roles import ROLES
from template_engine.model.artist_catalogue import ArtistCatalogue
from template_engine.model.copy_guard import copy_rate
from template_engine.model.dataset import in_c, key_shift, transposed
from template_engine.model.decoder import load_decoder
from template_engine.model.phrases import SamplingSettings, write_phrases
from template_engine.model.tokens import PHRASE_BARS, Phrase, phrase_slice
from template_engine.render.batch_mixing import bundle_provenance, kit_seed
from template_engine.render.candidate import load_candidate, master_candidate, write_candidate
from template_engine.render.gallery import write_gallery
from template_engine.render.mix import mix_song
from template_engine.render.settings import RenderSettings


def parse_bars(text: str, song_bars: int) -> tuple[int, int]:
    """``"33-48"`` (1-based, inclusive) -> (32, 48): first bar (0-based) and the bar after the last."""
    try:
        first, last = (int(part) for part in text.split("-", 1)) if "-" in text else (int(text), int(text))
    except ValueError:
        raise InputError("--bars", f"{text!r} is not a bar range like 33-48") from None
    if not 1 <= first <= last <= song_bars:
        raise InputError("--bars", f"{text} is outside the song's bars 1-{song_bars}")
    return first - 1, last


def rewrite_track(score: Score, role: str, first_bar: int, end_bar: int,
                  written: list[dict[str, list[BeatNote]]]) -> Score:
    """``score`` with ``role``'s notes in [first_bar, end_bar) replaced by the phrases in ``written``
    (one per 4-bar block from the block holding ``first_bar``, in C, as the model writes them)."""
    a, b = first_bar * BEATS_PER_BAR, end_bar * BEATS_PER_BAR
    written = [transposed(w, -key_shift(score.key.tonic)) for w in written]
    kept = [n for n in score.tracks.get(role, []) if not a <= n.start < b]
    block0 = first_bar // PHRASE_BARS * PHRASE_BARS
    new = []
    for k, phrase in enumerate(written):
        offset = (block0 + k * PHRASE_BARS) * BEATS_PER_BAR
        new += [BeatNote(n.start + offset, min(n.duration, b - n.start - offset), n.pitch, n.velocity)
                for n in phrase.get(role, []) if a <= n.start + offset < b]
    tracks = dict(score.tracks)
    tracks[role] = sorted(kept + new, key=lambda n: (n.start, n.pitch))
    tracks = {r: ns for r, ns in tracks.items() if ns}
    return Score(score.bpm, score.key, score.sections, tracks, names={r: r for r in tracks})


def infill_phrases(score: Score, role: str, first_bar: int, end_bar: int) -> list[Phrase]:
    """One phrase per 4-bar block of the range, in C: the roles before ``role`` as they are, ``role`` empty."""
    score = in_c(score)
    before = [r for r in ROLES[:ROLES.index(role)] if r in score.tracks]
    phrases = []
    for bar in range(first_bar // PHRASE_BARS * PHRASE_BARS, end_bar, PHRASE_BARS):
        section = next((s for s in score.sections if s.start_bar <= bar < s.end_bar), score.sections[-1])
        part = "end" if bar + PHRASE_BARS >= section.end_bar else "main"
        tracks = {r: phrase_slice(score.tracks[r], bar) for r in before}
        tracks = {r: ns for r, ns in tracks.items() if ns}
        tracks[role] = []
        phrases.append(Phrase(section.kind, section.energy, part, score.key.tonic, score.key.mode, tracks))
    return phrases


def regenerate(bundle: ArtistBundle, folder: Path, role: str, bars: str, *, seed: int, temperature: float = 1.0,
               top_p: float = 0.95, out: Path | None = None, force: bool = False) -> Path:
    """Write a new candidate folder: ``folder``'s song with ``role`` rewritten over ``bars``; returns it."""
    info, score = load_candidate(Path(folder))
    if role not in ROLES:
        raise InputError("--track", f"unknown role {role!r} (this candidate has {', '.join(score.tracks)})")
    first, end = parse_bars(bars, score.bars)
    target = Path(out) if out else Path(folder).parent / f"{Path(folder).name}_{role}-{first + 1}-{end}-s{seed}"
    if target.exists() and not force:
        raise InputError(target, "already exists: choose another --out or --seed, or pass --force")
    model, tok = load_decoder(bundle)
    learned = ArtistCatalogue.of_bundle(bundle.path, tok, load_corpus(bundle.path))
    written, _ = write_phrases(model, tok, infill_phrases(score, role, first, end), seed=seed,
                               sampling=SamplingSettings(temperature, top_p, habits=learned.habits))
    rate, _ = copy_rate([{role: w.get(role, [])} for w in written], learned.table)
    novelty = {**info.get("novelty", {}), "regenerated_copy_rate": round(rate, 3)}
    known = {f.name for f in fields(RenderSettings)}
    settings = RenderSettings(**{k: v for k, v in info["settings"].items() if k in known})
    settings.formats, settings.force = tuple(settings.formats), force
    rewritten = rewrite_track(score, role, first, end, written)
    with SampleLibrary(bundle.samples_dir) as library:
        mixed = mix_song(rewritten, library, bundle.mix_profile, seed=kit_seed(settings.seed, info["index"]),
                         sample_rate=settings.sample_rate, keep_dry=settings.dry_stems)
    written_to = write_candidate(bundle, target, f"{info['title']} {role} {first + 1}-{end}", rewritten, novelty, settings,
                                 index=info["index"], provenance=bundle_provenance(bundle), mixed=mixed,
                                 mastered=master_candidate(bundle, settings, mixed),
                                 extra={"regenerated": {"from": Path(folder).name, "track": role,
                                                        "bars": [first + 1, end], "seed": seed}})
    write_gallery(written_to.parent)
    return written_to
