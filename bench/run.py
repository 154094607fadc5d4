"""Benchmarks: speed and peak memory of every stage, printed with the machine's CPU count.

    python bench/run.py --quick    # CI: tiny demo material, a minute or two
    python bench/run.py            # full: the 12-song demo artist, 3-minute songs, a batch of ten

Each stage runs in its own process, so its peak memory (max RSS) is its own; the scientific modules
the product loads on first use are imported before a stage starts, so its figures are throughput,
not imports (start-up measures those in a fresh process of its own), and it collects reference
cycles as the CLI does (``cli_context.COLLECT_AFTER``). Stages: sampler (notes
per second into a 3-minute stereo buffer), sample import (files per second) and index queries (ms),
ingest (x real time of stem audio), training (held-out loss after a fixed number of steps fine-tuned
from the shipped base, from scratch, and the bigram baseline), start-up (seconds from a fresh process to
a render's first note), one candidate (a whole ``render-template --count 1`` process of a 3-minute
song, launch to exit), generation (tokens per second, seconds for one
3-minute song and for a batch of ten), render (the mix and every stem of a 3-minute song written,
in x real time; then the whole candidate: mix, master, song files, stems, MIDI and DAW project), the
master on stem sums (loudness, true peak, gain reduction, loud-to-quiet bar spread before and after) and a
batch of candidates end to end through ``render_batch``. Figures, not tests.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 44100


@dataclass
class Plan:
    """What a run measures on: the demo material's size, batch size, song bars."""

    quick: bool
    work: Path

    @property
    def batch(self) -> int:
        return 2 if self.quick else 10

    @property
    def batch_bars(self) -> int | None:
        return 16 if self.quick else None

    @property
    def import_files(self) -> int:
        return 200 if self.quick else 2000


def bench_sampler(plan: Plan) -> str:
    from sample_library.sampler import Instrument, Note, Zone

    t = np.arange(int(0.5 * SR)) / SR
    tone = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    inst = Instrument(role="lead", zones=[Zone("z", np.stack([tone, tone]), root_midi=57)], sample_rate=SR, sustained=True)
    notes = [Note(i * 0.125, i * 0.125 + 0.2, 48 + (i * 5) % 24, 100) for i in range(1440)]
    start = time.perf_counter()
    inst.render(notes, 180 * SR)
    return f"sampler: {len(notes) / (time.perf_counter() - start):,.0f} notes/s into a 3-minute stereo buffer"


def bench_import(plan: Plan) -> str:
    import soundfile as sf

    from sample_library.importer import import_folders
    from sample_library.library import SampleLibrary

    folder = plan.work / "oneshots"
    rng = np.random.default_rng(0)
    kinds = [("Kicks/Kick_{}.wav", 55.0), ("Snares/Snare_{}.wav", 0.0), ("Hats/Hat_{}.wav", 0.0),
             ("Bass/Bass_{}_C2.wav", 65.41), ("Leads/Lead_{}_A3.wav", 220.0)]
    for i in range(plan.import_files):
        name, hz = kinds[i % len(kinds)]
        t = np.arange(int(rng.uniform(0.15, 0.6) * SR)) / SR
        body = np.sin(2 * np.pi * hz * t) if hz else rng.standard_normal(t.size)
        path = folder / name.format(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), (0.5 * body * np.exp(-t * rng.uniform(4, 12))).astype(np.float32), SR)
    with SampleLibrary(plan.work / "library") as library:
        start = time.perf_counter()
        report = import_folders(library, [folder], progress=False)
        dt = time.perf_counter() - start
        queries = [dict(role="kick"), dict(role="bass", pitch_range=(30, 50)), dict(role="hats", max_duration=0.3)]
        start = time.perf_counter()
        for _ in range(20):
            for q in queries:
                library.query(**q)
        per_query = (time.perf_counter() - start) / 60 * 1000
        some_kick = library.query(role="kick")[0]
        start = time.perf_counter()
        for _ in range(20):
            library.similar(some_kick, role="kick")
        per_similar = (time.perf_counter() - start) / 20 * 1000
    return (f"sample import: {report.added / dt:,.1f} files/s ({report.added} files in {dt:.1f} s); "
            f"index query {per_query:.2f} ms, timbre similarity {per_similar:.1f} ms")


def bench_ingest(plan: Plan) -> str:
    import soundfile as sf

    from project_ingest.ingest import ingest
    from template_engine.demo.projects import FULL, TINY, build_demo_material

    projects, samples = build_demo_material(plan.work / "material", sizes=TINY if plan.quick else FULL, progress=False)
    audio_seconds = sum(sf.info(str(p)).duration for p in projects.glob("*/stems/*.wav"))
    start = time.perf_counter()
    ingest(projects, artist="bench", root=plan.work / "artists", sample_dirs=[samples], progress=False)
    dt = time.perf_counter() - start
    return f"ingest: {audio_seconds / dt:,.1f}x real time of stem audio ({audio_seconds:.0f} s of stems in {dt:.1f} s)"


def compare_starts(bundle_dir: Path, steps: int) -> str:
    """Held-out validation loss after ``steps`` steps from random weights and fine-tuned from the shipped
    base (the same vocabulary, songs and seed), against the bigram baseline; the bundle keeps the
    fine-tuned model."""
    from project_ingest.bundle import ArtistBundle
    from template_engine.model.base_model import SHIPPED_BASE
    from template_engine.model.train import TrainSettings, train

    runs = {}
    for name, scratch in (("from scratch", True), ("fine-tuned", False)):
        start = time.perf_counter()
        runs[name] = (train(ArtistBundle.load(bundle_dir), TrainSettings(minutes=60, max_steps=steps, base=SHIPPED_BASE,
                                                                         from_scratch=scratch), progress=False),
                      time.perf_counter() - start)
    tuned, dt = runs["fine-tuned"]
    order = "fine-tuned < from scratch < bigram" if tuned.valid_loss < runs["from scratch"][0].valid_loss < \
        tuned.bigram_valid_loss else "NOT fine-tuned < from scratch < bigram"
    return (f"held-out loss after {steps} steps (nats/token): fine-tuned {tuned.valid_loss:.3f}, from scratch "
            f"{runs['from scratch'][0].valid_loss:.3f}, bigram {tuned.bigram_valid_loss:.3f} ({order}); fine-tuning "
            f"{dt:.0f} s ({steps / dt:.1f} steps/s), {tuned.params:,} parameters")


def bench_train(plan: Plan) -> str:
    return "training (demo artist): " + compare_starts(plan.work / "artists" / "bench", 30 if plan.quick else 300)


FIRST_NOTE = """
import sys, time
from template_engine.cli import render_main
import template_engine.render.batch
from template_engine.model.decoder import Decoder
imported = time.time()

def first_note(*args, **kwargs):
    print(imported, time.time())
    sys.stdout.flush()
    sys.exit(0)  # from the process that writes the songs, the render's exits with it

Decoder.next_logits = first_note
sys.argv = ["render-template", "--artist", sys.argv[1], "--artists-dir", sys.argv[2], "--out", sys.argv[3], "--count", "1",
            "--quiet"]
render_main()
"""


def bench_startup(plan: Plan) -> str:
    """Seconds from launching a fresh Python running ``render-template`` to the imports done and to
    the model's first forward pass (the first note), three times."""
    runs = []
    for _ in range(3):
        launched = time.time()
        out = subprocess.run([sys.executable, "-c", FIRST_NOTE, "bench", str(plan.work / "artists"),
                              str(plan.work / "startup-renders")],
                             capture_output=True, text=True, check=True).stdout.split()
        runs.append([float(t) - launched for t in out])
    imports, first = (sorted(column) for column in zip(*runs))
    return (f"start-up: the first note {first[0]:.2f}-{first[-1]:.2f} s after the process starts, "
            f"of which imports {imports[0]:.2f}-{imports[-1]:.2f} s (3 runs)")


ONE_CANDIDATE = "from template_engine.cli import render_main; render_main()"


def bench_candidate(plan: Plan) -> str:
    """A whole ``render-template --count 1`` process of a 3-minute song (96 bars at 128 BPM; 16 bars
    in quick mode), seed 0, from launch to exit into an empty folder, three times (twice in quick
    mode); the peak memory of its largest process (the render or one it waited for), in MB."""
    import shutil

    bars, runs = (16, 2) if plan.quick else (96, 3)
    seconds, peaks_mb = [], []
    for n in range(runs):
        out = plan.work / f"candidate-{n}"
        launched = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", ONE_CANDIDATE, "--artist", "bench",
                                    "--artists-dir", str(plan.work / "artists"), "--out", str(out), "--count", "1",
                                    "--seed", "0", "--bars", str(bars), "--bpm", "128", "--quiet"],
                                   stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds.append(time.perf_counter() - launched)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: Popen must not wait for it
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, process.args)
        peaks_mb.append(usage.ru_maxrss / 1024)
        shutil.rmtree(out)
    return (f"one candidate: a render-template --count 1 process of {bars} bars at 128 BPM "
            f"({bars * 4 * 60 / 128:.0f} s) {min(seconds):.2f}-{max(seconds):.2f} s ({runs} runs), "
            f"its largest process {max(peaks_mb):,.0f} MB")


def bench_generate(plan: Plan) -> str:
    """Writing 3-minute songs (96 bars at 128 BPM) as a render does: the artist's form, catalogue and
    habits as the bundle keeps them (learned before the clock starts)."""
    from project_ingest.bundle import ArtistBundle
    from project_ingest.corpus import load_corpus
    from template_engine.model.artist_catalogue import ArtistCatalogue
    from template_engine.model.decoder import load_decoder
    from template_engine.model.generate import GeneratedBatch, generate_songs

    bundle = ArtistBundle.load(plan.work / "artists" / "bench")
    model, tok = load_decoder(bundle)
    corpus = load_corpus(bundle.path)
    learned = ArtistCatalogue.of_bundle(bundle.path, tok, corpus)

    def songs(count: int, seed: int, roles: tuple[str, ...] | None = None) -> GeneratedBatch:
        return generate_songs(model, tok, corpus, count=count, seed=seed, bpm=128, key=None, bars=96, roles=roles,
                              form=bundle.form, learned=learned)

    start = time.perf_counter()
    song = songs(1, 1).songs[0].score
    one = time.perf_counter() - start
    tracks = len(song.tracks)
    eight = ("kick", "snare", "hats", "bass", "chords", "lead", "pad", "arp")
    start = time.perf_counter()
    song8 = songs(1, 1, eight).songs[0].score
    one8 = time.perf_counter() - start
    start = time.perf_counter()
    batch = songs(10, 2)
    ten = time.perf_counter() - start
    return (f"generation: {batch.tokens_sampled / ten:,.0f} tokens/s; one 3-minute song: {tracks} tracks "
            f"{one:.1f} s, {len(song8.tracks)} tracks {one8:.1f} s; a batch of 10 {ten:.1f} s")


def bench_render(plan: Plan) -> str:
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    from project_ingest.bundle import ArtistBundle
    from project_ingest.corpus import load_corpus
    from sample_library.library import SampleLibrary
    from template_engine.model.decoder import load_decoder
    from template_engine.model.generate import generate_songs
    from template_engine.process_memory import release_free_memory, tune_malloc_for_render
    from template_engine.render.audio_files import ForkedWrites, write_audio
    from template_engine.render.batch_mixing import prepare_to_mix
    from template_engine.render.candidate import export_candidate, stem_files
    from template_engine.render.master import master
    from template_engine.render.mix import SAMPLE_RATE, mix_song
    from template_engine.render.settings import RenderSettings

    tune_malloc_for_render()  # as a render process does
    bundle = ArtistBundle.load(plan.work / "artists" / "bench")
    model, tok = load_decoder(bundle)
    corpus = load_corpus(bundle.path)
    song = generate_songs(model, tok, corpus, count=1, seed=3, bpm=128, key=None, bars=96).songs[0].score
    del model
    release_free_memory()  # a render writes the notes in another process, and meanwhile prepares this one
    prepare_to_mix(bundle, RenderSettings(bpm=128, bars=96), corpus)
    seconds = song.bars * 4 * 60 / song.bpm
    with SampleLibrary(bundle.samples_dir) as library:
        start = time.perf_counter()
        mixed = mix_song(song, library, bundle.mix_profile, seed=0)
        mixed_at = time.perf_counter()
        with ForkedWrites([(path, audio) for _, path, audio in stem_files(plan.work / "stems-only", "bench", mixed)],
                          SAMPLE_RATE) as shared, ThreadPoolExecutor(max_workers=shared.threads) as pool:
            for done in write_audio(pool, shared.here, SAMPLE_RATE):
                done.result()
        stems_at = time.perf_counter()
        mastered, _ = master(mixed.premaster, SAMPLE_RATE, target_lufs=-9.0)
        mastered_at = time.perf_counter()
        _, encoding = export_candidate(plan.work / "render-one", "bench", "Bench", song, mixed, mastered,
                                       formats=("wav", "mp3"))
        for mp3 in encoding:
            mp3.result()
        done_at = time.perf_counter()
    shutil.rmtree(plan.work / "stems-only")
    shutil.rmtree(plan.work / "render-one")
    stems = len(mixed.groups) + len(mixed.tracks)
    mix_and_stems = stems_at - start
    whole = (mixed_at - start) + (done_at - stems_at)
    return (f"render: mix + {stems} stems of a {seconds:.0f} s song at {seconds / mix_and_stems:.1f}x real time "
            f"({mix_and_stems:.2f} s: mix {mixed_at - start:.2f}, stems {stems_at - mixed_at:.2f}); whole candidate "
            f"(mix, master, WAV + MP3, stems, MIDI, DAW project) {seconds / whole:.1f}x ({whole:.2f} s: "
            f"master {mastered_at - stems_at:.2f}, export {done_at - mastered_at:.2f})")


def master_figures(folder: Path, tone_db: tuple[float, ...] | None = None) -> str:
    """One project's stems summed and mastered to -9 LUFS: loudness, true peak, clipper and limiter
    (largest gain reduction, dB), the bar spread (dB) before and after, and with ``tone_db`` (an
    artist's masters' spectrum) the tonal distance to it (dB RMS over the bands) before and after."""
    import json

    from template_engine.render.master import master

    meta = json.loads((folder / "project.json").read_text())
    mix = sum(sf_read(p) for p in sorted((folder / "stems").iterdir()) if p.suffix in (".wav", ".flac"))
    _, r = master(np.asarray(mix, dtype=np.float32), SR, target_lufs=-9.0, spread_window_s=240.0 / float(meta["bpm"]),
                  tone_db=tone_db)
    tone = f", tone {r.tone_before_db:.2f}->{r.tone_after_db:.2f}" if tone_db is not None else ""
    return (f"{folder.name[:14]} {r.loudness:.2f} LUFS {r.true_peak:.2f} dBTP, clipper {r.clip_db:.1f}, "
            f"limiter {r.max_reduction_db:.1f}, spread {r.spread_before_db:.1f}->{r.spread_after_db:.1f}{tone}")


def bench_master(plan: Plan) -> str:
    """The master at -9 LUFS on stem sums: the demo material's projects (aimed at the demo artist's
    masters' spectrum), and the corpus's real ones where ``TEMPLATE_CORPUS`` (or ../shared/corpus) is
    there (no masters to aim at); seconds per minute of song."""
    import soundfile as sf

    from project_ingest.bundle import ArtistBundle

    demo_tone = ArtistBundle.load(plan.work / "artists" / "bench").mix_profile.master_eq_db
    demo = sorted(p for p in (plan.work / "material" / "projects").iterdir() if p.is_dir())[:2]
    corpus = Path(os.environ.get("TEMPLATE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    real = ("Shovon-ProgressiveHousePluckDemo", "Saber-FinalStep", "DirtyLove")
    aims = [(folder, demo_tone) for folder in demo]
    aims += [(corpus / name, None) for name in real if (corpus / name / "project.json").is_file()]
    folders = [folder for folder, _ in aims]
    start = time.perf_counter()
    lines = [master_figures(folder, tone) for folder, tone in aims]
    minutes = sum(sf.info(str(next((f / "stems").iterdir()))).duration for f in folders) / 60
    return (f"master (-9 LUFS, stem sums, dB): {'; '.join(lines)}; {(time.perf_counter() - start) / minutes:.2f} s "
            f"per minute of song (reading the stems included)")


def bench_batch(plan: Plan) -> str:
    from project_ingest.bundle import ArtistBundle
    from template_engine.render.batch import render_batch
    from template_engine.render.settings import RenderSettings

    bundle = ArtistBundle.load(plan.work / "artists" / "bench")
    start = time.perf_counter()
    folders = render_batch(bundle, plan.work / "renders", RenderSettings(count=plan.batch, seed=0, bars=plan.batch_bars),
                           progress=False)
    dt = time.perf_counter() - start
    length = "16-bar" if plan.quick else "full-length"
    return f"batch: {len(folders)} {length} candidates end to end in {dt:.1f} s"


def bench_manifest(plan: Plan) -> str:
    """``template batch``'s local pool: candidates per minute with 1 and 2 worker processes (one
    candidate per row) and the largest worker's peak memory, and ingest of the demo projects with 1
    and 2 processes."""
    from project_ingest.ingest import ingest
    from template_engine.render.manifest import read_manifest, run_manifest

    rows = 2 if plan.quick else 4
    bars = f', "bars": {plan.batch_bars}' if plan.batch_bars else ""
    manifest = plan.work / "rows.jsonl"
    figures = []
    for workers in (1, 2):
        manifest.write_text("".join(f'{{"artist": "bench", "count": 1, "seed": {s}, "formats": "wav"{bars}}}\n'
                                    for s in range(rows)))
        summary = run_manifest(read_manifest(manifest, plan.work / f"manifest-{workers}"), plan.work / "artists",
                               workers=workers, progress=False)
        figures.append(f"{workers} worker{'s' * (workers > 1)} {60 * summary.candidates / summary.seconds:.1f}/min")
    worker_peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    ingests = []
    for workers in (1, 2):
        start = time.perf_counter()
        ingest(plan.work / "material" / "projects", artist=f"bench-ingest-{workers}", root=plan.work / "artists",
               sample_dirs=[plan.work / "material" / "samples"], progress=False, workers=workers)
        ingests.append(time.perf_counter() - start)
    return (f"batch manifest: {rows} rows of one candidate: {', '.join(figures)}, the largest worker peaking at "
            f"{worker_peak_gb:.2f} GB; ingest with 1 process "
            f"{ingests[0]:.1f} s, 2 processes {ingests[1]:.1f} s ({ingests[0] / ingests[1]:.2f}x)")


def bench_real_stems(plan: Plan) -> str:
    """Real projects (``$TEMPLATE_CORPUS``, default ``../shared/corpus``) ingested with no one-shot
    folder: the pitched notes harvested per role and how far their pitch is from the MIDI note; one
    32-bar candidate of that artist, each role's stem level against the learned one; mix fidelity for
    drum and pitched roles; held-out loss fine-tuned from the base against from scratch and bigram."""
    import json

    from project_ingest.bundle import read_json
    from project_ingest.ingest import ingest
    from sample_library.library import SampleLibrary
    from sample_library.loudness import integrated_loudness
    from sample_library.pitch import estimate_f0, hz_to_midi, midi_to_hz
    from template_engine.evaluate.mix_fidelity import mix_fidelity
    from template_engine.render.batch import render_batch
    from template_engine.render.candidate import stem_sets, track_label
    from template_engine.render.settings import RenderSettings

    corpus = Path(os.environ.get("TEMPLATE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    if not corpus.is_dir():
        return f"real stems: skipped, no corpus at {corpus} (set TEMPLATE_CORPUS)"
    start = time.perf_counter()
    bundle = ingest(corpus, artist="real", root=plan.work / "artists", progress=False).bundle
    harvest = read_json(bundle.path / "ingest_report.json")["pitched_harvest"]
    cents = []
    with SampleLibrary(bundle.samples_dir) as lib:
        for r in lib.query(origin="harvest"):
            if r.chord_size == 1:
                audio, sr = lib.load(r)
                held = audio[:, int(0.03 * sr):max(int((r.sustain_end - r.trim_start) * sr), int(0.08 * sr))]
                f0, _ = estimate_f0(held.mean(axis=0).astype(np.float64), sr, fmin=max(20.0, midi_to_hz(r.note - 37)),
                                    fmax=midi_to_hz(r.note + 13))
                off = hz_to_midi(f0) - r.note if f0 else float("inf")
                cents.append(abs(100 * (off - 12 * round(off / 12))))
    fidelity = mix_fidelity(bundle)["by_kind"]  # before training: every song is held out
    losses = compare_starts(bundle.path, 40 if plan.quick else 300)
    (folder,) = render_batch(bundle, plan.work / "real-renders", RenderSettings(count=1, seed=0, bars=32, formats=("wav",)),
                             progress=False)
    info = json.loads((folder / "render.json").read_text())
    _, tracks = stem_sets(folder, info)
    premaster = sum(sf_read(p) for p in tracks)
    mix_lufs = integrated_loudness(premaster, 44100)
    levels = {}
    for role in info["roles"]:
        stem = next(p for p in tracks if p.stem.endswith("-" + track_label(role)))
        want = bundle.mix_profile.role(role).relative_loudness_db
        levels[role] = (integrated_loudness(sf_read(stem), 44100) - mix_lufs, want)
    kept = ", ".join(f"{role} {row['kept']}" for role, row in harvest.items())
    off = ", ".join(f"{role} {got - want:+.1f}" if want is not None else f"{role} {got:.1f} (no target)"
                    for role, (got, want) in levels.items())
    return (f"real stems ({corpus.name}, {time.perf_counter() - start:.0f} s): pitched notes kept per role: {kept}; "
            f"single-note pitch vs MIDI (whole octaves of a transposing preset aside): max {max(cents):.1f} cents "
            f"over {len(cents)}, {sum(r['octave_shifted'] for r in harvest.values())} octave-shifted; candidate roles "
            f"{len(info['roles'])}, stem level minus learned level (dB): {off}; played by: {info['played_by']}; "
            f"mix fidelity drums {fidelity['drums']}; pitched {fidelity['pitched']}; {losses}")


def sf_read(path: Path) -> np.ndarray:
    """A WAV file as (channels, frames) float64."""
    import soundfile as sf

    return sf.read(str(path), always_2d=True)[0].T


STAGES = (bench_sampler, bench_import, bench_ingest, bench_train, bench_startup, bench_candidate, bench_generate,
          bench_render, bench_master, bench_batch, bench_manifest, bench_real_stems)


LOADED_ON_FIRST_USE = ("scipy.signal", "scipy.ndimage", "scipy.fft", "scipy.stats", "pyloudnorm")


def _run_stage(stage_name: str, quick: bool, work: str) -> tuple[str, float]:
    """One stage's line and its process's peak memory (MB), with the modules loaded on first use
    imported first and reference cycles collected as every command of the CLI collects them."""
    from template_engine.cli_context import COLLECT_AFTER

    gc.set_threshold(COLLECT_AFTER, 10, 10)
    for module in LOADED_ON_FIRST_USE:
        importlib.import_module(module)
    line = globals()[stage_name](Plan(quick, Path(work)))
    return line, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs (CI, a minute or two)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}; "
          f"mode: {'quick' if args.quick else 'full'}")
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        for stage in STAGES:
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                line, peak_mb = pool.submit(_run_stage, stage.__name__, args.quick, work).result()
            print(f"{line}; peak memory {peak_mb:,.0f} MB", flush=True)


if __name__ == "__main__":
    main()
