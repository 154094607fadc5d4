"""Mixing a song: every role played by the artist's one-shots through its learned chain, summed
into groups and the pre-master mix, with the shared reverb as its own return.

Arrays are channels-first float32, (2, frames), at ``SAMPLE_RATE``. Each chain runs only where its
track sounds (``sounding_spans``), in place.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from project_ingest.profile import Ducking, MixProfile, RoleProfile
from project_ingest.score import BEATS_PER_BAR, BeatNote, Score, step_in_bar
from sample_library.builtin import BUILTIN, builtin_zone
from sample_library.kit import Kit, build_instrument, select_kit
from sample_library.library import SampleLibrary
from sample_library.roles import GROUP_OF_ROLE, MONO_ROLES, SUSTAINED_ROLES
from sample_library.sampler import Instrument, Note
from sample_library.spans import sounding_spans
from template_engine.render import mixing
from template_engine.render.dsp import peak
from template_engine.render.span_audio import SpanAudio, SummedAudio
from template_engine.render.track_chain import TrackChain, octave_bands, volume_envelope
from template_engine.threads import render_threads

SAMPLE_RATE = 44100
TAIL_SECONDS = 2.0
GROUP_ORDER = ("drums", "bass", "synths", "vocals", "fx")
HEADROOM_PEAK = 10 ** (-3 / 20)  # pre-master stems peak at -3 dBFS at most, so 24-bit files never clip
REVERB_RETURN = "reverb_return"
MAX_REVERB_SEND = 0.5
OWN_DECAY_S = 0.25  # reverb tails this short are the sample's own decay, not a send
PEAK_TRACKS_PER_ROLE = 1.1  # a mix and its master hold about this many whole stereo tracks a role at their peak


@dataclass
class MixResult:
    """Pre-master stems per track (kept where they sound) and group (2, frames), the pre-master mix,
    the kit used, each track's level gain (dB), what plays each role (the role whose samples it uses,
    itself or a neighbour, or ``BUILTIN``) and the instrument that played it; with ``keep_dry``, each
    role's dry track (its notes before the chain, trimmed under the headroom) and its chain as a DAW
    would rebuild it from that."""

    tracks: dict[str, SpanAudio]
    groups: dict[str, SummedAudio]
    premaster: np.ndarray
    kit: dict[str, list[str]]
    gains_db: dict[str, float]
    played_by: dict[str, str]
    instruments: dict[str, Instrument]
    dry: dict[str, SpanAudio] = field(default_factory=dict)
    chains: dict[str, TrackChain] = field(default_factory=dict)


@dataclass
class SongTiming:
    """What every role's chain shares: the song's length (frames), seconds per beat, the kick onsets
    (seconds) the sidechain ducks at, and the sample rate (Hz)."""

    frames: int
    seconds_per_beat: float
    kicks: np.ndarray
    sample_rate: int


@dataclass
class PlayedTrack:
    """One role after its chain: its audio where it sounds, its level gain (dB), and where asked its
    dry track and chain (``MixResult``)."""

    audio: SpanAudio
    gain_db: float
    dry: SpanAudio | None = None
    chain: TrackChain | None = None


def mix_song(score: Score, library: SampleLibrary, profile: MixProfile, *, seed: int,
             sample_rate: int = SAMPLE_RATE, anchor_song: str | None = None, keep_dry: bool = False) -> MixResult:
    """Play every role of ``score`` with a kit from ``library`` and the learned chains of ``profile``.

    The roles' chains are independent until the sum, so they run on a thread pool (numpy, scipy's
    FFTs and pedalboard release the GIL): the roles that send to the shared reverb first, then the
    reverb, which runs while the other roles play. Each track keeps only its sounding spans
    (``SpanAudio``), so a whole track lives only while its chain runs; each group is summed on the
    pool as soon as its tracks are played (``sum_group``), this thread adds the groups into the mix
    (``Mixdown``), and the groups are kept as their tracks (``SummedAudio``). Every sum is in a fixed
    order, so the mix is the same whatever the scheduling.
    A queued task waits only on tasks queued before it, so the pool cannot deadlock. ``anchor_song`` starts the kit from that
    song's sounds (``select_kit``). ``keep_dry`` also keeps each role's dry track and chain.
    """
    centres = {r: float(np.median([n.pitch for n in ns])) for r, ns in score.tracks.items()}
    kit = select_kit(library, list(score.tracks), seed=seed, pitch_centres=centres, anchor_song=anchor_song)
    spb = 60.0 / score.bpm
    timing = SongTiming(frames=int((score.bars * BEATS_PER_BAR * spb + TAIL_SECONDS) * sample_rate),
                        seconds_per_beat=spb, kicks=np.array([n.start * spb for n in score.tracks.get("kick", [])]),
                        sample_rate=sample_rate)
    played = [(role, instrument_for(library, role, kit, sample_rate, seed), notes) for role, notes in score.tracks.items()]
    sends = {role: reverb_send(profile.role(role)) for role, _, _ in played}
    with ThreadPoolExecutor(max_workers=render_threads()) as pool:
        playing = {role: pool.submit(play_role, score, role, inst, notes, profile.role(role), timing, keep_dry)
                   for role, inst, notes in played if sends[role]}
        playing[REVERB_RETURN] = pool.submit(reverb_bus, [(playing[role], sends[role]) for role in playing], timing)
        playing |= {role: pool.submit(play_role, score, role, inst, notes, profile.role(role), timing, keep_dry)
                    for role, inst, notes in played if not sends[role]}
        order = [role for role, _, _ in played] + [REVERB_RETURN]
        summing = {group: pool.submit(sum_group, [playing[name] for name in order if group_of(name) == group])
                   for group in GROUP_ORDER}
        mixdown = Mixdown(np.zeros((2, timing.frames), dtype=np.float32))
        for group in GROUP_ORDER:
            mixdown.add(group, summing[group].result())
        tracks = {name: track for name in order if (track := playing[name].result()) is not None}
    premaster = mixdown.premaster
    groups, peak_sample = mixdown.groups, max(mixdown.peak, peak(premaster))
    headroom_db = leave_headroom([t.audio for t in tracks.values()], premaster, peak_sample)
    return MixResult(tracks={n: t.audio for n, t in tracks.items()}, groups=groups,
                     premaster=premaster, kit=kit.hashes(), gains_db={n: t.gain_db for n, t in tracks.items() if n != REVERB_RETURN},
                     played_by={role: kit.played_by.get(role, BUILTIN) for role in score.tracks},
                     instruments={role: inst for role, inst, _ in played},
                     dry={n: t.dry for n, t in tracks.items() if t.dry is not None},
                     chains={n: t.chain.scaled(headroom_db) for n, t in tracks.items() if t.chain is not None})


def mix_memory_bytes(seconds: float, roles: int, sample_rate: int = SAMPLE_RATE) -> int:
    """About the memory (bytes) mixing and mastering a song of ``seconds`` and ``roles`` tracks takes
    at its peak: its tracks where they sound, the groups and the mix, and the arrays in flight
    (measured: 745 MB for 14 roles of a 138-s song, 1.08 whole float32 tracks a role)."""
    return int(PEAK_TRACKS_PER_ROLE * roles * (seconds + TAIL_SECONDS) * sample_rate * 2 * 4)


def instrument_for(library: SampleLibrary, role: str, kit: Kit, sample_rate: int, seed: int) -> Instrument:
    """``role``'s instrument: the kit's samples for it, else the neutral built-in one (so no part with
    notes is silent)."""
    if kit.samples.get(role):
        return build_instrument(library, role, kit.samples[role], sample_rate=sample_rate, seed=seed)
    return Instrument(role=role, zones=[builtin_zone(role, sample_rate)], sample_rate=sample_rate,
                      sustained=role in SUSTAINED_ROLES, mono=role in MONO_ROLES, seed=seed)


def play_role(score: Score, role: str, inst: Instrument, notes: list[BeatNote], prof: RoleProfile,
              timing: SongTiming, keep_dry: bool = False) -> PlayedTrack:
    """One role through its chain: notes with the artist's velocity habits, the learned EQ on each
    note clip, compression towards the learned crest factor, width, section automation, level, and
    the sidechain at every kick (the kick itself is not ducked). ``keep_dry`` also keeps the notes
    before the chain, and the chain's settings (``dry_track``)."""
    sr, frames, spb = timing.sample_rate, timing.frames, timing.seconds_per_beat
    events = [Note(n.start * spb, (n.start + n.duration) * spb, n.pitch,
                   mixing.velocity_shaped(n.velocity, step_in_bar(n.start), prof.velocity_by_position))
              for n in notes]
    perf = inst.perform(events, frames)
    correction = (mixing.eq_correction_db(mixing.performance_band_levels_db(perf, sr), list(prof.eq_db))
                  if prof.eq_db else None)
    dry = perf.place(frames, mono_as_one=True) if keep_dry else None
    audio = perf.place(frames, None if correction is None else mixing.fir_clip_filter(mixing.eq_fir(correction, sr)),
                       mono_as_one=True)
    spans = sounding_spans(audio, sr)
    compressor = mixing.compress_to_crest(audio, sr, prof.crest_db, spans)
    mixing.set_width(audio, prof.width, spans)
    automation = mixing.plan_automation(score, sr, frames, prof.automation)
    automation.sweep(audio, sr, spans)
    for a, b in spans:
        ride = automation.ride_gain(a, b)
        if ride is not None:
            audio[:, a:b] *= ride
    gain_db = mixing.level_gain_db(audio, sr, prof.relative_loudness_db, spans)
    level = np.float32(10 ** (gain_db / 20))
    ducks = role != "kick" and prof.sidechain is not None
    for a, b in spans:
        duck = mixing.sidechain_gain(sr, prof.sidechain, timing.kicks, spb, a, b) if ducks else None
        audio[:, a:b] *= level if duck is None else duck * level
    played = PlayedTrack(SpanAudio.keep(audio, spans, channels=2), gain_db)
    if dry is not None:
        chain = TrackChain(level_db=gain_db, compressor=compressor,
                           eq_bands=() if correction is None else octave_bands(correction, sr))
        played.dry, played.chain = dry_track(dry, chain, automation, prof.sidechain if ducks else None, timing)
    return played


def dry_track(dry: np.ndarray, chain: TrackChain, automation: mixing.Automation, ducking: Ducking | None,
              timing: SongTiming) -> tuple[SpanAudio, TrackChain]:
    """A role's dry track (2, frames) kept where it sounds and trimmed to peak under
    ``HEADROOM_PEAK``, and its ``chain`` completed with the volume envelope of its rides and its
    sidechain (``ducking``, None when it does not duck)."""
    sr, spb = timing.sample_rate, timing.seconds_per_beat
    gain = np.ones(timing.frames, dtype=np.float32)
    ride = automation.ride_gain(0, timing.frames)
    duck = mixing.sidechain_gain(sr, ducking, timing.kicks, spb, 0, timing.frames) if ducking else None
    for part in (ride, duck):
        if part is not None:
            gain *= part
    if ride is not None or duck is not None:
        chain = replace(chain, envelope=volume_envelope(gain, sr, spb, chain.level_db))
    kept = SpanAudio.keep(dry, sounding_spans(dry, sr), channels=2)
    trim_db = min(0.0, 20 * float(np.log10(HEADROOM_PEAK / max(kept.peak(), 1e-9))))
    kept.scale(np.float32(10 ** (trim_db / 20)))
    return kept, chain.for_dry_stem(trim_db)


def reverb_bus(playing: list[tuple[Future, float]], timing: SongTiming) -> PlayedTrack | None:
    """The shared reverb's return, kept where it sounds, for the sending tracks (futures of
    ``PlayedTrack``, each with its linear send level), or None when nothing sends."""
    bus = np.zeros((2, timing.frames), dtype=np.float32)
    for future, level in playing:
        future.result().audio.add_into(bus, level)
    if not np.any(bus):
        return None
    wet = mixing.reverb_return(bus, timing.sample_rate)
    return PlayedTrack(SpanAudio.keep(wet, sounding_spans(wet, timing.sample_rate)), 0.0)


def sum_group(members: list[Future]) -> GroupSum | None:
    """A stem group from its tracks (futures of ``PlayedTrack`` or None, in the mix's order): their
    sum, made whole on a worker thread, or None when none sounds."""
    tracks = [track.audio for future in members if (track := future.result()) is not None]
    if not tracks:
        return None
    summed = SummedAudio(tracks)
    total = summed.dense()
    loudest = peak(total)
    return GroupSum(summed, total, loudest) if loudest > 0 else None


@dataclass
class GroupSum:
    """A stem group: its tracks, their sum (2, frames) and its largest absolute sample."""

    summed: SummedAudio
    total: np.ndarray
    peak: float


@dataclass
class Mixdown:
    """The pre-master mix (2, frames) summed group by group, in ``GROUP_ORDER`` (each group whole, its
    tracks in their order, then added in); the groups that sound, as their tracks; and the largest
    absolute sample of any group."""

    premaster: np.ndarray
    groups: dict[str, SummedAudio] = field(default_factory=dict)
    peak: float = 0.0

    def add(self, group: str, summed: GroupSum | None) -> None:
        """Add ``group`` to the mix (nothing when it is silent)."""
        if summed is None:
            return
        self.groups[group] = summed.summed
        self.peak = max(self.peak, summed.peak)
        self.premaster += summed.total


def leave_headroom(tracks: list[SpanAudio], premaster: np.ndarray, peak: float) -> float:
    """Scale every track and the mix in place by one factor, so that none of them, nor any group
    (``peak`` is the largest sample of the groups and the mix), peaks over ``HEADROOM_PEAK``; the
    stems still sum to the mix. Returns the gain applied (dB, 0 or negative)."""
    peak = max([peak] + [t.peak() for t in tracks] + [1e-9])
    if peak <= HEADROOM_PEAK:
        return 0.0
    scale = np.float32(HEADROOM_PEAK / peak)
    for track in tracks:
        track.scale(scale)
    premaster *= scale
    return 20 * float(np.log10(scale))


def reverb_send(prof: RoleProfile) -> float:
    """Send level (linear) of a role into the shared reverb: a quarter of its learned reverb tail (s),
    at most ``MAX_REVERB_SEND``; none for tails of ``OWN_DECAY_S`` or less."""
    tail = prof.reverb_tail_s
    return min(MAX_REVERB_SEND, tail / 4) if tail and tail > OWN_DECAY_S else 0.0


def group_of(track: str) -> str:
    """The stem group (one of GROUP_ORDER) a track sums into."""
    return GROUP_OF_ROLE.get(track, "fx")
