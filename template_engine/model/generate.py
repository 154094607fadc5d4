"""Writing new songs: a section plan learned from the artist (``plan``), the song's form
(``form_plan``: which sections restate which, which are written over the theme's progression), then
the phrases, in two batched passes of the model (``phrases``): first the phrases that state a
progression (the theme's first phrase, and each freely written section's), then every other phrase
over the progression of the one it follows: its own section's first phrase's harmonic tracks, or the
theme's chords and the theme's tracks its form plays as they are. Phrases that copy the artist's
catalogue are rewritten hotter (``copy_guard``), and so are those where a whole song plays one of the
artist's lines in order across its phrases (``copy_runs``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from project_ingest.form import HARMONIC_ROLES, FormStats, learn_form, phrase_bars
from project_ingest.score import BEATS_PER_BAR, SCALES, BeatNote, Key, Score
from sample_library.roles import DRUM_ROLES, ROLES
from template_engine.evaluate.bar_novelty import BarTrack
from template_engine.model.artist_catalogue import ArtistCatalogue
from template_engine.model.chord_tones import CHORD_ROLE
from template_engine.model.copy_guard import copied_lines, copy_rate
from template_engine.model.copy_runs import artist_bars, copied_runs, phrase_at
from template_engine.model.dataset import key_shift, transposed
from template_engine.model.decoder import Decoder
from template_engine.model.form_plan import SectionForm, plan_form, source_of
from template_engine.model.phrases import PhraseJob, SamplingSettings, Tracks, phrase_jobs, write_phrases
from template_engine.model.plan import SongPlan, learn_plan_stats, plan_song
from template_engine.model.tokens import PHRASE_BARS, ArtistTokenizer, Phrase
from template_engine.model.transitions import PLACED_ROLES, TransitionHit, learn_transitions, place_transitions

COPY_MARGIN = 0.1  # a song may copy this much more of the catalogue than the artist borrows from itself
LINE_REWRITES = 2  # times a phrase that lifts a pitched line whole is written again (the second time hotter)

Parts = dict[tuple[int, str], Tracks]  # (section index, part) -> the phrase's tracks, in C


@dataclass
class Novelty:
    """How much of a song copies the catalogue: its share of copied role-phrases, the artist's own
    share (self-borrowing), phrases written again, and whether the song is within the guard."""

    copy_rate: float
    artist_self_borrowing: float
    phrases_rewritten: int
    passes_guard: bool


@dataclass
class GeneratedSong:
    score: Score
    novelty: Novelty
    form: list[SectionForm]


@dataclass
class GeneratedBatch:
    """The songs of one call, and the work it took: tokens the model sampled, phrases it wrote."""

    songs: list[GeneratedSong]
    tokens_sampled: int
    phrases_written: int


def assemble(plan: SongPlan, parts: Parts, forms: list[SectionForm], bpm: float, key: Key,
             hits: dict[str, list[TransitionHit]]) -> Score:
    """Sections filled with their phrases (written in C): the main phrase repeats, the end phrase closes
    the section, a restating section plays its source's phrases; the pitched roles are then moved
    to ``key``'s tonic, in the mode they were written in (``written_mode``), and the transition
    ``hits`` placed where the plan has their role."""
    tracks: Tracks = {}
    for i, s in enumerate(plan.sections):
        source = source_of(forms, i)
        layout = phrase_bars(s)
        for bar in range(s.start_bar, s.end_bar, PHRASE_BARS):
            part, _ = layout[bar - s.start_bar]
            phrase = parts.get((source, part)) or parts.get((source, "end"), {})
            span = min(PHRASE_BARS, s.end_bar - bar) * BEATS_PER_BAR
            for role, notes in phrase.items():
                for n in notes:
                    if n.start < span:
                        tracks.setdefault(role, []).append(
                            BeatNote(n.start + bar * BEATS_PER_BAR, min(n.duration, span - n.start), n.pitch, n.velocity))
    tracks = {r: sorted(ns, key=lambda n: (n.start, n.pitch)) for r, ns in tracks.items() if ns}
    sources = [source_of(forms, i) for i in range(len(forms))]
    key = Key(key.tonic, written_mode(tracks, key.mode))
    tracks = {**transposed(tracks, -key_shift(key.tonic)), **place_transitions(plan.sections, plan.roles, hits, sources)}
    return Score(bpm=bpm, key=key, sections=plan.sections, tracks=tracks, names={r: r for r in tracks})


def written_mode(tracks: Tracks, asked: str) -> str:
    """The mode (major or minor) whose scale on C holds more of the pitched notes of ``tracks`` (in
    C), ``asked`` on a tie: the model, asked for one mode, now and then writes in the other, and the
    song's key must say what it plays."""
    pcs = np.bincount([n.pitch % 12 for r, ns in tracks.items() if r not in DRUM_ROLES for n in ns], minlength=12)
    held = {mode: int(pcs[list(steps)].sum()) for mode, steps in SCALES.items()}
    other = next(m for m in SCALES if m != asked)
    return other if held[other] > held[asked] else asked


@dataclass
class _SongSketch:
    """A song before its notes: plan, form, key, tempo (BPM) and its phrase jobs."""

    plan: SongPlan
    form: list[SectionForm]
    key: Key
    bpm: float
    jobs: list[PhraseJob]


def sketch_songs(corpus: list[tuple[str, Score]], form: FormStats, rng: np.random.Generator, *, count: int,
                 bpm: float | None, key: Key | None, bars: int | None, roles: tuple[str, ...] | None,
                 placed: tuple[str, ...] = ()) -> list[_SongSketch]:
    """``count`` plans with their form, each with a key and tempo the artist uses unless given; the
    ``placed`` roles are in the plan but get no phrase to write (``transitions`` places them)."""
    plan_stats = learn_plan_stats(corpus)
    tempos = [s.bpm for _, s in corpus]
    keys = [s.key for _, s in corpus]
    sketches = []
    for _ in range(count):
        plan = plan_song(plan_stats, rng, bars)
        if roles is not None:
            plan.roles = [[r for r in section_roles if r in roles] for section_roles in plan.roles]
        song_key = key or keys[int(rng.integers(len(keys)))]
        song_bpm = float(bpm or round(float(rng.uniform(min(tempos), max(tempos)))))
        forms = plan_form(plan, form, rng)
        written = SongPlan(plan.sections, [[r for r in rs if r not in placed] for rs in plan.roles])
        sketches.append(_SongSketch(plan, forms, song_key, song_bpm, phrase_jobs(written, song_key)))
    return sketches


def opens(sketch: _SongSketch, job: PhraseJob) -> bool:
    """Whether ``job`` states a progression: the first phrase of the theme or of a freely written
    section. Every other phrase is written over one (``progression``); restated sections copy theirs."""
    first, _ = phrase_bars(sketch.plan.sections[job.section])[0]
    return sketch.form[job.section] == SectionForm() and job.part == first


def progression(parts: Parts, sketch: _SongSketch, job: PhraseJob) -> tuple[Tracks, tuple[str, ...], tuple[tuple[str, str, int], ...]]:
    """The phrase whose progression ``job`` is written over, the roles whose tracks it plays as they
    are there and the bars where it leaves them out: the theme's first phrase, with the roles its form
    ``plays`` and ``rests``, for a section that shares the theme's harmony, else its own section's
    first phrase and the harmonic roles in every bar."""
    source = sketch.form[job.section].harmony_from
    if source is None:
        return parts.get((job.section, "main")) or parts.get((job.section, "end"), {}), HARMONIC_ROLES, ()
    form = sketch.form[job.section]
    return parts.get((source, "main")) or parts.get((source, "end"), {}), form.plays, form.rests


def over_progression(job: PhraseJob, source: Tracks, plays: tuple[str, ...],
                     rests: tuple[tuple[str, str, int], ...] = ()) -> Phrase:
    """``job``'s phrase with the tracks of ``source`` it ``plays`` given as they are, but for the
    bars of its part where it ``rests`` (a part left out in every bar is not played in the phrase),
    and where its chords are not among them, ``source``'s chords as the harmony its own parts (its
    chords among them) keep to: the artist's breakdown may hold the chords their drop stabs. The
    parts it writes anew keep near the register of ``source``'s (``Phrase.registers``)."""
    ph = job.phrase
    given: Tracks = {}
    for r in ph.tracks:
        silent = {j for role, part, j in rests if role == r and part == ph.part}
        kept = [n for n in source.get(r, []) if int(n.start // BEATS_PER_BAR) not in silent] if r in plays else []
        if kept or not (r in plays and source.get(r)):
            given[r] = kept
    harmony = [] if given.get(CHORD_ROLE) else source.get(CHORD_ROLE, [])
    registers = {r: (min(n.pitch for n in source[r]), max(n.pitch for n in source[r]))
                 for r in given if not given[r] and source.get(r) and r not in DRUM_ROLES}
    return Phrase(ph.section, ph.energy, ph.part, ph.tonic, ph.mode, given, harmony, registers)


def rewrite_copies(model: Decoder, tok: ArtistTokenizer, phrases: list[Phrase], written: list[Tracks],
                   owner: list[int], table: dict[tuple, set[str]], lines: set[tuple], threshold: float, *, seed: int,
                   sampling: SamplingSettings) -> tuple[list[int], int]:
    """Write again, hotter and in place in ``written``, the phrases that lift a pitched line whole
    from the catalogue (``copied_lines``), and those that copy any pattern of it in songs (``owner``
    per phrase) whose copy rate is over ``threshold``: first with another seed, then, where a phrase
    still lifts a line, hotter and free of the register it was to keep near (a chord part held to
    the theme's chords and register can only be the artist's voicing). Returns the phrases rewritten
    and the tokens sampled."""
    _, flags = copy_rate(written, table)
    over = {n for n in set(owner) if copy_rate([w for w, o in zip(written, owner) if o == n], table)[0] > threshold}
    lifted = copied_lines(written, lines)
    redo = [i for i, f in enumerate(flags) if lifted[i] or (f and owner[i] in over)]
    rewritten, sampled = list(redo), 0
    for attempt in range(LINE_REWRITES):
        if not redo:
            break
        sampling = sampling.hotter() if attempt else sampling
        again, more = write_phrases(model, tok, [replace(phrases[i], registers={}) if attempt else phrases[i] for i in redo],
                                    seed=seed + 1 + attempt, sampling=sampling)
        sampled += more
        for i, w in zip(redo, again):
            written[i] = w
        redo = [i for i, still in zip(redo, copied_lines(again, lines)) if still]
    return rewritten, sampled


def follow_chords(writer: PhraseWriter, phrases: list[Phrase], written: list[Tracks], *, seed: int) -> int:
    """Write again, in place in ``written``, the roles the artist keeps on the chords that come before
    the chords in the role order (the bass), on the tones of the chords written after them, hearing
    the tracks before them as the first pass wrote them. A new part that lifts a line of the
    catalogue, or leaves out a role the first pass played, is written again (another seed, then
    hotter); one that still does keeps the first pass's part. Returns the tokens sampled."""
    habits = writer.sampling.habits
    if habits is None:
        return 0
    before = [r for r in ROLES[:ROLES.index(CHORD_ROLE)] if r in habits.chord_roles and r not in DRUM_ROLES]
    redo = [i for i, w in enumerate(written) if w.get(CHORD_ROLE) and any(w.get(r) for r in before)]
    sampled, sampling = 0, writer.sampling
    for attempt in range(LINE_REWRITES + 1):
        if not redo:
            break
        again = [over_chords(phrases[i], written[i], before) for i in redo]
        sampling = sampling.hotter() if attempt > 1 else sampling
        parts, more = write_phrases(writer.model, writer.tok, again, seed=seed + attempt, sampling=sampling)
        sampled += more
        parts = [{r: w[r] for r in before if w.get(r)} for w in parts]
        retries = [lifts or any(written[i].get(r) and not part.get(r) for r in before)
                   for i, part, lifts in zip(redo, parts, copied_lines(parts, writer.lines))]
        for i, part, retry in zip(redo, parts, retries):
            if not retry:
                written[i].update(part)
        redo = [i for i, retry in zip(redo, retries) if retry]
    return sampled


def over_chords(phrase: Phrase, written: Tracks, roles: list[str]) -> Phrase:
    """``phrase`` up to its chords as first written, with ``roles`` empty to be written again."""
    tracks = {r: [] if r in roles else written[r] for r in ROLES[:ROLES.index(CHORD_ROLE) + 1] if written.get(r)}
    return Phrase(phrase.section, phrase.energy, phrase.part, phrase.tonic, phrase.mode, tracks)


@dataclass
class PhraseWriter:
    """What every pass shares: the model, the tokenizer, the catalogue (phrases, lines at every bar,
    and each pitched role's bars per song), the guard's threshold and the sampling settings."""

    model: Decoder
    tok: ArtistTokenizer
    table: dict[tuple, set[str]]
    lines: set[tuple]
    bars: dict[str, list[BarTrack]]
    threshold: float
    sampling: SamplingSettings

    def write(self, jobs: list[tuple[int, int, str, Phrase]], seed: int) -> tuple[list[Tracks], list[int], int]:
        """Write (song, section, part, phrase) jobs with the copy guard; returns the phrases, the
        rewritten ones' owners and the tokens sampled."""
        phrases = [j[3] for j in jobs]
        owner = [j[0] for j in jobs]
        written, sampled = write_phrases(self.model, self.tok, phrases, seed=seed, sampling=self.sampling)
        redo, more = rewrite_copies(self.model, self.tok, phrases, written, owner, self.table, self.lines, self.threshold,
                                    seed=seed, sampling=self.sampling)
        return written, [owner[i] for i in redo], sampled + more


def break_copied_runs(writer: PhraseWriter, sketches: list[_SongSketch], parts: list[Parts],
                      over: dict[tuple[int, int, str], Phrase], hits: dict[str, list[TransitionHit]], *,
                      seed: int) -> tuple[list[int], int]:
    """Write again, in place in ``parts``, a phrase written over a progression (``over``: (song,
    section, part) -> phrase) where its song, put together, plays one of the artist's lines in order
    for ``PHRASE_BARS`` bars across its phrases (``copy_runs``): of the run's last bars, the latest
    played from such a phrase, whose copied part is written anew (a part it played as the theme has
    it among them), hotter and free of the register it was to keep near. Up to ``LINE_REWRITES``
    times, hotter each time; returns the songs of the phrases rewritten and the tokens sampled."""
    rewritten: list[int] = []
    sampled, sampling = 0, writer.sampling
    for attempt in range(LINE_REWRITES):
        redo = {(n, *key): roles for n, sketch in enumerate(sketches)
                for key, roles in _run_phrases(writer, sketch, parts[n], {k[1:]: ph for k, ph in over.items() if k[0] == n},
                                               hits).items()}
        if not redo:
            break
        keys = sorted(redo)
        for k in keys:
            over[k] = anew(over[k], redo[k])
        sampling = sampling.hotter()
        again, more = write_phrases(writer.model, writer.tok, [over[k] for k in keys], seed=seed + attempt,
                                    sampling=sampling)
        sampled += more
        for (n, section, part), w in zip(keys, again):
            parts[n][(section, part)] = w
        rewritten += [n for n, _, _ in keys]
    return rewritten, sampled


def anew(phrase: Phrase, roles: set[str]) -> Phrase:
    """``phrase`` with ``roles`` to be written anew and no register to keep near; chords written anew
    keep to the chords they replace."""
    harmony = phrase.harmony or (phrase.tracks.get(CHORD_ROLE, []) if CHORD_ROLE in roles else [])
    return replace(phrase, tracks={r: [] if r in roles else ns for r, ns in phrase.tracks.items()}, harmony=harmony,
                   registers={})


def _run_phrases(writer: PhraseWriter, sketch: _SongSketch, parts: Parts, over: dict[tuple[int, str], Phrase],
                 hits: dict[str, list[TransitionHit]]) -> dict[tuple[int, str], set[str]]:
    """The phrases of ``over`` (section, part) to write again to break the song's copied runs, with
    the roles to write anew in each."""
    score = assemble(sketch.plan, parts, sketch.form, sketch.bpm, sketch.key, hits)
    keys: dict[tuple[int, str], set[str]] = {}
    written = set(parts)
    for role, bar in copied_runs(score, writer.bars):
        for b in range(bar, bar - PHRASE_BARS, -1):
            key = phrase_at(sketch.plan, sketch.form, written, b)
            if key in over and role in over[key].tracks:
                keys.setdefault(key, set()).add(role)
                break
    return keys


def generate_songs(model: Decoder, tok: ArtistTokenizer, corpus: list[tuple[str, Score]], *, count: int,
                   seed: int, bpm: float | None, key: Key | None, bars: int | None,
                   sampling: SamplingSettings | None = None, roles: tuple[str, ...] | None = None,
                   form: FormStats | None = None, learned: ArtistCatalogue | None = None) -> GeneratedBatch:
    """``count`` new songs, each with its form (``form``: the artist's habits, learned from
    ``corpus`` when not given) and its novelty figures; ``learned``: the artist's catalogue and
    habits, learned from ``corpus`` when not given.

    Phrases of a song whose copy rate exceeds the artist's own self-borrowing (+ ``COPY_MARGIN``) are
    rewritten hotter when they copy a pattern of the catalogue. ``roles``, when given, keeps only those
    roles of the plan.
    """
    form = form or learn_form([s for _, s in corpus])
    hits = {r: h for r in PLACED_ROLES if (h := learn_transitions(corpus, r)) is not None}
    sketches = sketch_songs(corpus, form, np.random.default_rng(seed), count=count, bpm=bpm, key=key, bars=bars,
                            roles=roles, placed=tuple(hits))
    learned = learned or ArtistCatalogue.learn(tok, corpus)
    table, self_borrow = learned.table, learned.self_borrow
    habitual = replace(sampling or SamplingSettings(), habits=learned.habits)
    writer = PhraseWriter(model, tok, table, learned.lines, artist_bars(corpus), self_borrow + COPY_MARGIN, habitual)
    parts: list[Parts] = [{} for _ in sketches]
    free = [(n, j.section, j.part, j.phrase) for n, s in enumerate(sketches) for j in s.jobs if opens(s, j)]
    written, redone, sampled = writer.write(free, seed)
    sampled += follow_chords(writer, [j[3] for j in free], written, seed=seed + 1)
    for (n, section, part, _), w in zip(free, written):
        parts[n][(section, part)] = w
    over = [(n, j.section, j.part, over_progression(j, *progression(parts[n], s, j)))
            for n, s in enumerate(sketches) for j in s.jobs if s.form[j.section].restates is None and not opens(s, j)]
    again, more_redone, more = writer.write(over, seed + 2)
    for (n, section, part, _), w in zip(over, again):
        parts[n][(section, part)] = w
    run_redone, run_sampled = break_copied_runs(writer, sketches, parts, {(n, s, p): ph for n, s, p, ph in over}, hits,
                                                seed=seed + 3)
    songs = []
    for n, sketch in enumerate(sketches):
        song_rate, _ = copy_rate(list(parts[n].values()), table)
        rewritten = (redone + more_redone + run_redone).count(n)
        novelty = Novelty(copy_rate=round(song_rate, 3), artist_self_borrowing=round(self_borrow, 3),
                          phrases_rewritten=rewritten, passes_guard=song_rate <= writer.threshold)
        songs.append(GeneratedSong(assemble(sketch.plan, parts[n], sketch.form, sketch.bpm, sketch.key, hits), novelty,
                                   sketch.form))
    return GeneratedBatch(songs, tokens_sampled=sampled + more + run_sampled,
                          phrases_written=len(free) + len(over) + len(redone) + len(more_redone) + len(run_redone))
