"""Writing new songs: a section plan learned from the artist, then every section's phrases written by
the model in one batched, grammar-masked, KV-cached pass; copies of the catalogue are rewritten."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from project_ingest.score import BEATS_PER_BAR, BeatNote, Key, Score, Section
from sample_library.roles import DRUM_ROLES, ROLES
from template_engine.dataset import key_shift, song_phrases, transposed
from template_engine.model import KVCache, MusicTransformer
from template_engine.tokens import (PHRASE_BARS, ArtistTokenizer, GrammarState, Phrase, advance, allowed_mask,
                                    start_state)

MAX_TRACK_TOKENS = 400
COMPACT_BELOW = 0.75  # drop finished phrases from the batch once a quarter of its rows are done


@dataclass
class SongPlan:
    """Sections with the roles that play in each."""

    sections: list[Section]
    roles: list[list[str]]


def learn_plan_stats(corpus: list[tuple[str, Score]]) -> dict:
    """How often each role plays in each section type, and the artists' section orders (bars)."""
    presence: dict[str, dict[str, list[int]]] = {}
    for _, score in corpus:
        for s in score.sections:
            row = presence.setdefault(s.kind, {})
            for role in ROLES:
                played = any(s.start_bar * 4 <= n.start < s.end_bar * 4 for n in score.tracks.get(role, []))
                row.setdefault(role, []).append(int(played))
    return {"presence": {k: {r: float(np.mean(v)) for r, v in row.items()} for k, row in presence.items()},
            "structures": [[(s.kind, s.bars, s.energy) for s in score.sections] for _, score in corpus]}


def plan_song(stats: dict, rng: np.random.Generator, bars: int | None) -> SongPlan:
    """A structure the artist used, fitted to ``bars`` (multiple of 4) by stretching or trimming the
    longest sections, and the roles of each section drawn with the artist's frequencies."""
    structure = [list(s) for s in stats["structures"][int(rng.integers(len(stats["structures"])))]]
    if bars:
        target = max(PHRASE_BARS, int(bars) // PHRASE_BARS * PHRASE_BARS)
        total = sum(s[1] for s in structure)
        guard = 0
        while total != target and guard < 200:
            guard += 1
            if total < target:
                i = max(range(len(structure)), key=lambda j: (structure[j][0] == "drop", structure[j][1], -j))
                if structure[i][1] >= 16:
                    structure.insert(i + 1, [structure[i][0], 4, structure[i][2]])
                else:
                    structure[i][1] += 4
                total += 4
            else:
                i = max(range(len(structure)), key=lambda j: (structure[j][1], j))
                if structure[i][1] > 4:
                    structure[i][1] -= 4
                else:
                    structure.pop(i)
                total -= 4
    sections, start, roles = [], 0, []
    for kind, length, energy in structure:
        length = max(1, int(length))
        sections.append(Section(kind, start, length, float(energy)))
        start += length
        probs = stats["presence"].get(kind, {})
        chosen = [r for r in ROLES if probs.get(r, 0) >= 0.5 or (probs.get(r, 0) > 0.15 and rng.random() < probs[r])]
        roles.append(chosen or [max(probs, key=probs.get)] if probs else chosen)
    return SongPlan(sections, roles)


@dataclass
class SamplingSettings:
    temperature: float = 1.0
    top_p: float = 0.95
    role_temperature: dict[str, float] | None = None
    density: float = 1.0


def _phrase_jobs(plan: SongPlan, key: Key) -> list[tuple[int, str, Phrase]]:
    """The phrases to write for a plan, in C (the model writes key-relative; see ``dataset``)."""
    jobs = []
    for i, (s, roles) in enumerate(zip(plan.sections, plan.roles)):
        parts = ["end"] if s.bars <= PHRASE_BARS else ["main", "end"]
        for part in parts:
            jobs.append((i, part, Phrase(s.kind, s.energy, part, 0, key.mode, {r: [] for r in roles})))
    return jobs


@torch.no_grad()
def write_phrases(model: MusicTransformer, tok: ArtistTokenizer, phrases: list[Phrase], *, seed: int,
                  sampling: SamplingSettings) -> tuple[list[dict[str, list[BeatNote]]], int]:
    """Write the empty tracks of every phrase in one batched pass; returns role -> notes (beats) per
    phrase and the number of tokens the model sampled.

    A track that already has notes is kept: its tokens are fed to the model as given (so a track
    written later in the role order hears it), which is how one track is regenerated in place.
    """
    gen = torch.Generator().manual_seed(seed)
    batch = len(phrases)
    plans = [[r for r in ROLES if r in ph.tracks] for ph in phrases]
    queues: list[list[int]] = [tok.condition_ids(ph) for ph in phrases]
    current_role: list[str | None] = [None] * batch

    def next_track(i: int) -> None:
        if not plans[i]:
            queues[i].append(tok.song_end)
            return
        role = plans[i].pop(0)
        current_role[i] = role
        queues[i].append(tok.framing[f"Role_{role}"])
        if phrases[i].tracks[role]:
            queues[i] += [*tok.bpe_ids(tok.track_base_ids(phrases[i].tracks[role])), tok.track_end]

    for i in range(batch):
        next_track(i)
    states: list[GrammarState | None] = [None] * batch
    track_len = [0] * batch
    out_ids: list[list[int]] = [[] for _ in range(batch)]
    done = [False] * batch
    sampled = 0
    cache, pos = KVCache(model.cfg, batch), 0
    rows = list(range(batch))  # the phrase in each row of the model's batch; finished ones are dropped
    last_logits = torch.zeros((batch, tok.vocab_size))
    role_temp = sampling.role_temperature or {}
    while not all(done) and pos < model.cfg.context - 1:
        row_of = {i: r for r, i in enumerate(rows)}
        chosen = torch.full((len(rows),), tok.song_end, dtype=torch.long)
        need_sample = [i for i in rows if not done[i] and not queues[i]]
        if need_sample:
            sampled += len(need_sample)
            mask = allowed_mask(tok, [states[i] for i in need_sample])
            for row, i in enumerate(need_sample):
                if track_len[i] >= MAX_TRACK_TOKENS and mask[row, tok.track_end]:
                    mask[row] = False
                    mask[row, tok.track_end] = True
            logits = last_logits[[row_of[i] for i in need_sample]]
            logits[~torch.from_numpy(mask)] = -float("inf")
            temps = torch.tensor([role_temp.get(current_role[i], sampling.temperature) for i in need_sample]).unsqueeze(1)
            if sampling.density != 1.0:
                logits[:, tok.track_end] -= float(np.log(max(sampling.density, 1e-3)))
            picks = _sample_top_p(logits / temps.clamp(min=1e-3), sampling.top_p, gen)
            for row, i in enumerate(need_sample):
                chosen[row_of[i]] = picks[row]
        for i in rows:
            if done[i]:
                continue
            if queues[i]:
                chosen[row_of[i]] = queues[i].pop(0)
            token = int(chosen[row_of[i]])
            out_ids[i].append(token)
            if token == tok.song_end:
                done[i] = True
            elif token == tok.track_end:
                next_track(i)
                states[i] = None
            elif token in tok.framing_names:
                name = tok.framing_names[token]
                if name.startswith("Role_"):
                    states[i] = start_state(name[5:])
                    track_len[i] = 0
            else:
                states[i] = advance(tok, states[i], token)
                track_len[i] += 1
        live = [r for r, i in enumerate(rows) if not done[i]]
        if len(live) <= COMPACT_BELOW * len(rows):
            index = torch.tensor(live, dtype=torch.long)
            cache.keep(index)
            rows, chosen = [rows[r] for r in live], chosen[index]
        if rows:
            last_logits = model(chosen.unsqueeze(1), cache, start=pos)[:, -1, :]
        pos += 1
    return [tok.decode_phrase(ids) for ids in out_ids], sampled


def _sample_top_p(logits: torch.Tensor, top_p: float, gen: torch.Generator) -> torch.Tensor:
    probs = torch.softmax(logits, dim=-1)
    sorted_p, idx = probs.sort(dim=-1, descending=True)
    cum = sorted_p.cumsum(dim=-1)
    sorted_p[(cum - sorted_p) > top_p] = 0.0
    sorted_p /= sorted_p.sum(dim=-1, keepdim=True)
    pick = torch.multinomial(sorted_p, 1, generator=gen).squeeze(1)
    return idx.gather(1, pick.unsqueeze(1)).squeeze(1)


def assemble(plan: SongPlan, jobs: list[tuple[int, str, Phrase]], written: list[dict[str, list[BeatNote]]],
             bpm: float, key: Key) -> Score:
    """Sections filled with their phrases (written in C): the main phrase repeats, the end phrase closes
    the section; the pitched roles are then moved into ``key``."""
    parts: dict[tuple[int, str], dict[str, list[BeatNote]]] = {(i, part): w for (i, part, _), w in zip(jobs, written)}
    tracks: dict[str, list[BeatNote]] = {}
    for i, s in enumerate(plan.sections):
        blocks = list(range(s.start_bar, s.end_bar, PHRASE_BARS))
        for j, bar in enumerate(blocks):
            part = "end" if j == len(blocks) - 1 else "main"
            phrase = parts.get((i, part)) or parts.get((i, "end"), {})
            span = min(PHRASE_BARS, s.end_bar - bar) * BEATS_PER_BAR
            for role, notes in phrase.items():
                for n in notes:
                    if n.start < span:
                        tracks.setdefault(role, []).append(
                            BeatNote(n.start + bar * BEATS_PER_BAR, min(n.duration, span - n.start), n.pitch, n.velocity))
    tracks = {r: sorted(ns, key=lambda n: (n.start, n.pitch)) for r, ns in tracks.items() if ns}
    tracks = transposed(tracks, -key_shift(key.tonic))
    return Score(bpm=bpm, key=key, sections=plan.sections, tracks=tracks, names={r: r for r in tracks})


def pattern_signature(role: str, notes: list[BeatNote]) -> tuple | None:
    """A phrase's pattern: drums by onsets and notes; pitched roles transposition-invariant."""
    if not notes:
        return None
    if role in DRUM_ROLES:
        return tuple((round(n.start * 4), n.pitch) for n in notes)
    base = notes[0].pitch
    return tuple((round(n.start * 4), round(n.duration * 4), n.pitch - base) for n in notes)


def catalogue(corpus: list[tuple[str, Score]]) -> tuple[dict[tuple, set[str]], float]:
    """Every (role, pattern) of the artist's songs with the songs it occurs in, and the artist's own
    self-borrowing: the share of a song's role-phrases also found in another of its songs."""
    table: dict[tuple, set[str]] = {}
    for title, score in corpus:
        for ph in song_phrases(score):
            for role, notes in ph.tracks.items():
                sig = pattern_signature(role, notes)
                if sig is not None:
                    table.setdefault((role, sig), set()).add(title)
    shared, total = 0, 0
    for title, score in corpus:
        for ph in song_phrases(score):
            for role, notes in ph.tracks.items():
                sig = pattern_signature(role, notes)
                if sig is not None:
                    total += 1
                    shared += len(table[(role, sig)] - {title}) > 0
    return table, shared / max(total, 1)


def copy_rate(written: list[dict[str, list[BeatNote]]], table: dict[tuple, set[str]]) -> tuple[float, list[bool]]:
    """Share of generated role-phrases found verbatim in the catalogue, and which phrases hold a copy
    of a pattern of four notes or more (a copied drum groove as much as a copied melody)."""
    copied, total, flags = 0, 0, []
    for phrase in written:
        flag = False
        for role, notes in phrase.items():
            sig = pattern_signature(role, notes)
            if sig is None:
                continue
            total += 1
            hit = (role, sig) in table
            copied += hit
            flag |= hit and len(notes) >= 4
        flags.append(flag)
    return copied / max(total, 1), flags


def generate_songs(model: MusicTransformer, tok: ArtistTokenizer, corpus: list[tuple[str, Score]], *, count: int,
                   seed: int, bpm: float | None, key: Key | None, bars: int | None,
                   sampling: SamplingSettings | None = None, roles: tuple[str, ...] | None = None,
                   stats: dict | None = None) -> list[tuple[Score, dict]]:
    """``count`` new songs written in one batched pass, each with its novelty figures.

    Phrases of a song whose copy rate exceeds the artist's own self-borrowing (+0.1) are rewritten
    hotter when they copy a pattern of the catalogue. ``roles``, when given, keeps only those roles of
    the plan. ``stats``, when given, receives the tokens sampled.
    """
    sampling = sampling or SamplingSettings()
    rng = np.random.default_rng(seed)
    plan_stats = learn_plan_stats(corpus)
    table, self_borrow = catalogue(corpus)
    tempos = [s.bpm for _, s in corpus]
    keys = [s.key for _, s in corpus]
    songs = []
    for _ in range(count):
        plan = plan_song(plan_stats, rng, bars)
        if roles is not None:
            plan.roles = [[r for r in section_roles if r in roles] for section_roles in plan.roles]
        song_key = key or keys[int(rng.integers(len(keys)))]
        song_bpm = float(bpm or round(float(rng.uniform(min(tempos), max(tempos)))))
        songs.append((plan, song_key, song_bpm))
    jobs = [_phrase_jobs(plan, song_key) for plan, song_key, _ in songs]
    flat = [j for js in jobs for j in js]
    owner = [n for n, js in enumerate(jobs) for _ in js]
    written, sampled = write_phrases(model, tok, [j[2] for j in flat], seed=seed, sampling=sampling)
    threshold = self_borrow + 0.1
    _, flags = copy_rate(written, table)
    over = {n for n in range(count)
            if copy_rate([w for w, o in zip(written, owner) if o == n], table)[0] > threshold}
    redo = [i for i, f in enumerate(flags) if f and owner[i] in over]
    if redo:
        hotter = SamplingSettings(sampling.temperature + 0.3, min(1.0, sampling.top_p + 0.03),
                                  sampling.role_temperature, sampling.density)
        again, more = write_phrases(model, tok, [flat[i][2] for i in redo], seed=seed + 1, sampling=hotter)
        sampled += more
        for i, w in zip(redo, again):
            written[i] = w
    if stats is not None:
        stats.update(tokens_sampled=sampled, phrases_written=len(flat) + len(redo))
    out = []
    for n, (js, (plan, song_key, song_bpm)) in enumerate(zip(jobs, songs)):
        mine = [w for w, o in zip(written, owner) if o == n]
        song_rate, _ = copy_rate(mine, table)
        score = assemble(plan, js, mine, song_bpm, song_key)
        out.append((score, {"copy_rate": round(song_rate, 3), "artist_self_borrowing": round(self_borrow, 3),
                            "phrases_rewritten": sum(owner[i] == n for i in redo),
                            "passes_guard": song_rate <= threshold}))
    return out
