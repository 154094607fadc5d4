"""Writing phrases: the phrases of a call written by the model in batched, grammar-masked, KV-cached
passes, two at once on two cores. A track given with notes is fed to the model as it is, so the
tracks written after it in the role order hear it (a regenerated part, or a section written over
the song's progression)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from threadpoolctl import threadpool_limits

from project_ingest.form import bar_tones, phrase_bars
from project_ingest.score import BeatNote, Key
from sample_library.roles import ROLES
from template_engine.forked import ForkedCall, can_fork
from template_engine.model.chord_tones import CHORD_ROLE
from template_engine.model.decoder import Decoder
from template_engine.model.plan import SongPlan
from template_engine.model.role_habits import Habits
from template_engine.model.tokens import PHRASE_BARS, ArtistTokenizer, GrammarState, Phrase, advance, allowed_mask, start_state
from template_engine.threads import render_threads, split_in_two

MAX_TRACK_TOKENS = 400


COMPACT_BELOW = 0.75  # drop finished phrases from the batch once a quarter of its rows are done


HOTTER_TEMPERATURE = 0.3  # added to the temperature when a copying phrase is written again


HOTTER_TOP_P = 0.03


MIN_TEMPERATURE = 1e-3


Tracks = dict[str, list[BeatNote]]


@dataclass
class SamplingSettings:
    """How the model's next token is drawn: temperature (per role where given), nucleus ``top_p``,
    ``density`` (above 1, tracks end later and hold more notes) and, where given, the artist's
    ``habits`` (what each role may write)."""

    temperature: float = 1.0
    top_p: float = 0.95
    role_temperature: dict[str, float] | None = None
    density: float = 1.0
    habits: Habits | None = None

    def hotter(self) -> SamplingSettings:
        """The settings a copying phrase is written again with."""
        return replace(self, temperature=self.temperature + HOTTER_TEMPERATURE,
                       top_p=min(1.0, self.top_p + HOTTER_TOP_P))


@dataclass
class PhraseJob:
    """One phrase to write: its section's index in the plan, its part (main or end) and the phrase."""

    section: int
    part: str
    phrase: Phrase


@dataclass
class _Row:
    """One phrase being written: roles still to write, tokens queued to feed, the phrase's own random
    stream, the grammar state of the track being written, the tokens so far, once its chords are
    written, their tones per bar, and the lowest and highest pitch the track being written has
    played (or keeps near)."""

    phrase: Phrase
    roles: list[str]
    queue: list[int]
    rng: np.random.Generator
    role: str | None = None
    state: GrammarState | None = None
    track_len: int = 0
    out: list[int] = field(default_factory=list)
    done: bool = False
    chords: np.ndarray | None = None
    heard: tuple[int, int] | None = None

    @classmethod
    def start(cls, tok: ArtistTokenizer, phrase: Phrase, rng: np.random.Generator) -> _Row:
        row = cls(phrase, [r for r in ROLES if r in phrase.tracks], tok.condition_ids(phrase), rng)
        if chords := phrase.tracks.get(CHORD_ROLE) or phrase.harmony:
            row.chords = bar_tones(chords, PHRASE_BARS)
        row.next_track(tok)
        return row

    def next_track(self, tok: ArtistTokenizer) -> None:
        """Queue the next role's token (and its notes, when the track is given), or the song's end
        once every role left is given (nothing written after them would hear them)."""
        if all(self.phrase.tracks[r] for r in self.roles):
            self.queue.append(tok.song_end)
            return
        self.role = self.roles.pop(0)
        self.queue.append(tok.framing[f"Role_{self.role}"])
        given = self.phrase.tracks[self.role]
        if given:
            self.queue += [*tok.bpe_ids(tok.track_base_ids(given)), tok.track_end]

    def feed(self, tok: ArtistTokenizer, sampled: int) -> int:
        """Take the next token (the queued one if any, else ``sampled``) and advance; returns it."""
        token = self.queue.pop(0) if self.queue else sampled
        self.out.append(token)
        if token == tok.song_end:
            self.done = True
        elif token == tok.track_end:
            if self.role == CHORD_ROLE:
                self.chords = bar_tones(tok.decode_track(self.out[-1 - self.track_len:-1]), PHRASE_BARS)
            self.next_track(tok)
            self.state = None
        elif token in tok.framing_names:
            name = tok.framing_names[token]
            if name.startswith("Role_"):
                self.state = start_state(name[5:])
                self.track_len = 0
                self.heard = self.phrase.registers.get(name[5:])
        else:
            self.state = advance(tok, self.state, token)
            self.track_len += 1
            if tok.pitch_hi[token] >= 0:
                lo, hi = int(tok.pitch_lo[token]), int(tok.pitch_hi[token])
                self.heard = (lo, hi) if self.heard is None else (min(self.heard[0], lo), max(self.heard[1], hi))
        return token


def phrase_jobs(plan: SongPlan, key: Key) -> list[PhraseJob]:
    """The phrases to write for a plan, in C (the model writes key-relative; see ``dataset``)."""
    jobs = []
    for i, (s, roles) in enumerate(zip(plan.sections, plan.roles)):
        for part in dict.fromkeys(part for part, _ in phrase_bars(s)):
            jobs.append(PhraseJob(i, part, Phrase(s.kind, s.energy, part, 0, key.mode, {r: [] for r in roles})))
    return jobs


def write_phrases(model: Decoder, tok: ArtistTokenizer, phrases: list[Phrase], *, seed: int,
                  sampling: SamplingSettings) -> tuple[list[Tracks], int]:
    """Write the empty tracks of every phrase; returns role -> notes (beats) per phrase and the number
    of tokens the model sampled.

    A track that already has notes is kept as given, and its tokens are fed to the model (so a track
    written later in the role order hears it), which is how one track is regenerated in place.
    Phrase ``i`` draws from its own random stream (``seed``, ``i``), so what it writes does not hang
    on the phrases beside it. The phrases are written in two batches of about equal work
    (``split_work``): where this process may use two cores, one batch in a forked process on one
    core while this one writes the other on the other, else one after the other here.
    """
    rngs = [np.random.default_rng([seed, i]) for i in range(len(phrases))]
    groups = split_work([expected_tokens(ph, sampling) for ph in phrases])
    if len(groups) == 1:
        return _write_batch(model, tok, phrases, rngs, sampling)
    aside, here = groups
    on_two_cores = render_threads() > 1 and can_fork()
    with ForkedCall(_write_on_one_core, model, tok, [phrases[i] for i in aside], [rngs[i] for i in aside], sampling,
                    fork=on_two_cores) as other:
        with threadpool_limits(1 if on_two_cores else None, user_api="blas"):
            written_here, sampled_here = _write_batch(model, tok, [phrases[i] for i in here], [rngs[i] for i in here],
                                                      sampling)
        written_aside, sampled_aside = other.result()
    written: list[Tracks] = [{} for _ in phrases]
    for group, batch in zip(groups, (written_aside, written_here)):
        for i, tracks in zip(group, batch):
            written[i] = tracks
    return written, sampled_here + sampled_aside


def expected_tokens(phrase: Phrase, sampling: SamplingSettings) -> float:
    """How much a phrase has to write, for ``split_work``: the artist's notes in its empty tracks
    (``Habits.expected_notes``), else the number of its empty tracks."""
    empty = [r for r, notes in phrase.tracks.items() if not notes]
    if sampling.habits is None:
        return float(len(empty))
    return sampling.habits.expected_notes(phrase.section, empty)


def split_work(work: list[float]) -> list[list[int]]:
    """Indices of ``work`` (one figure per phrase) in two batches of about equal time, the batch of the
    longest phrase first; one batch for fewer than two phrases. A batch's steps number its longest
    phrase's tokens, and each step costs about as much again per phrase in it (its sampling and
    bookkeeping), so a batch costs its longest phrase plus all of them; the phrases go, longest
    first, into the batch that costs less with them."""
    if len(work) < 2:
        return [list(range(len(work)))]
    return [group for group in split_in_two(work, lambda batch: max(batch) + sum(batch)) if group]


def _write_on_one_core(model: Decoder, tok: ArtistTokenizer, phrases: list[Phrase], rngs: list[np.random.Generator],
                       sampling: SamplingSettings) -> tuple[list[Tracks], int]:
    """``_write_batch`` with the matrix products on one thread (the forked writer: two writers each on
    its own core, not each with a thread per core)."""
    with threadpool_limits(1, user_api="blas"):
        return _write_batch(model, tok, phrases, rngs, sampling)


def _write_batch(model: Decoder, tok: ArtistTokenizer, phrases: list[Phrase], rngs: list[np.random.Generator],
                 sampling: SamplingSettings) -> tuple[list[Tracks], int]:
    """``write_phrases`` of one batch in one grammar-masked, KV-cached pass, each phrase drawing
    from its generator in ``rngs``. Where every phrase has given tokens queued, they are fed together
    in one step; finished phrases leave the model's batch once a quarter of its rows are done."""
    rows = [_Row.start(tok, ph, rng) for ph, rng in zip(phrases, rngs)]
    live = list(range(len(rows)))  # the phrase in each row of the model's batch
    sampled = 0
    cache, pos = model.cache(len(rows)), 0
    last_logits = np.zeros((len(rows), tok.vocab_size), np.float32)
    while not all(r.done for r in rows) and pos < model.cfg.context - 1:
        need = [k for k, i in enumerate(live) if not rows[i].done and not rows[i].queue]
        queued = min((len(rows[i].queue) for i in live if not rows[i].done), default=1)
        width = 1 if need else max(1, min(queued, model.cfg.context - 1 - pos))
        chosen = np.full((len(live), width), tok.song_end, dtype=np.int64)
        if need:
            sampled += len(need)
            chosen[need, 0] = sample_next(tok, [rows[live[k]] for k in need], last_logits[need], sampling)
        for k, i in enumerate(live):
            for c in range(width):
                if not rows[i].done:
                    chosen[k, c] = rows[i].feed(tok, int(chosen[k, c]))
        keep = [k for k, i in enumerate(live) if not rows[i].done]
        if len(keep) <= COMPACT_BELOW * len(live):
            index = np.array(keep, dtype=np.int64)
            cache.keep(index)
            live, chosen = [live[k] for k in keep], chosen[index]
        if live:
            last_logits = model.next_logits(chosen, cache, pos)
        pos += width
    return [{**tok.decode_phrase(r.out), **{role: ns for role, ns in r.phrase.tracks.items() if ns}} for r in rows], sampled


def sample_next(tok: ArtistTokenizer, rows: list[_Row], logits: np.ndarray, sampling: SamplingSettings) -> np.ndarray:
    """The next token (rows,) of each row from its logits (rows, vocab), masked to what keeps its track
    valid and, where ``sampling`` gives them, to the artist's habits (``Habits.restrict``); a track
    that has grown to ``MAX_TRACK_TOKENS`` may only end."""
    states = [r.state for r in rows]
    mask = allowed_mask(tok, states)
    if sampling.habits is not None:
        mask = sampling.habits.restrict(mask, [r.phrase.section for r in rows], states, [r.chords for r in rows],
                                        [r.heard for r in rows])
    for j, r in enumerate(rows):
        if r.track_len >= MAX_TRACK_TOKENS and mask[j, tok.track_end]:
            mask[j] = False
            mask[j, tok.track_end] = True
    logits = np.where(mask, logits, np.float32(-np.inf))
    role_temp = sampling.role_temperature or {}
    temps = np.array([role_temp.get(r.role, sampling.temperature) for r in rows], np.float32)[:, None]
    if sampling.density != 1.0:
        logits[:, tok.track_end] -= np.float32(np.log(max(sampling.density, 1e-3)))
    draws = np.array([r.rng.random() for r in rows])
    return _sample_top_p(logits / np.maximum(temps, np.float32(MIN_TEMPERATURE)), sampling.top_p, draws)


def _sample_top_p(logits: np.ndarray, top_p: float, uniform: np.ndarray) -> np.ndarray:
    """One draw (rows,) per row of ``logits`` (rows, vocab) from the smallest set of tokens whose
    probability reaches ``top_p``, made by each row's number in ``uniform`` (rows,), from [0, 1)."""
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    order = np.argsort(-probs, axis=1, kind="stable")
    ranked = np.take_along_axis(probs, order, axis=1)
    cumulative = np.cumsum(ranked, axis=1)
    ranked[(cumulative - ranked) > top_p] = 0.0
    cumulative = np.cumsum(ranked, axis=1)
    draw = uniform * cumulative[:, -1]
    pick = np.minimum((cumulative < draw[:, None]).sum(axis=1), ranked.shape[1] - 1)
    return order[np.arange(len(order)), pick]
