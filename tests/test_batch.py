"""``template batch``: manifest rows rendered in worker processes, the same bytes as one by one."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from template_engine.cli import main
from template_engine.render.batch import render_batch
from template_engine.render.settings import RenderSettings


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in ("index.html", "batch_summary.json") and ".batch" not in p.parts}


def test_a_manifest_renders_the_bytes_of_its_rows_and_resumes(trained_bundle, tmp_path):
    root = tmp_path / "artists"
    shutil.copytree(trained_bundle.path, root / "tiny")
    rows = [{"artist": "tiny", "count": 1, "seed": s, "bars": 4, "formats": "wav", "stems": "flac"} for s in (1, 2)]
    manifest = tmp_path / "rows.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["--artists-dir", str(root), "--quiet", "batch", str(manifest), "--out", str(tmp_path / "out"), "--workers", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "2 rows rendered (2 candidates, 0 begun by a killed batch), 0 already done, 0 failed" in result.output
    one_by_one = tmp_path / "local" / "tiny"
    for seed in (1, 2):
        render_batch(trained_bundle, one_by_one, RenderSettings(count=1, seed=seed, bars=4, formats=("wav",), stems="flac"),
                     progress=False)
    assert digests(tmp_path / "out" / "tiny") == digests(one_by_one)
    page = (tmp_path / "out" / "tiny" / "index.html").read_text()
    assert page.count('class="card"') == 2
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "0 rows rendered (0 candidates, 0 begun by a killed batch), 2 already done" in again.output


def test_a_bad_row_is_named_by_file_and_line_before_anything_renders(trained_bundle, tmp_path):
    csv = tmp_path / "rows.csv"
    csv.write_text("artist,count,seed,colour\ntiny,1,1,red\n")
    result = CliRunner().invoke(main, ["--quiet", "batch", str(csv), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and f"{csv}:2: unknown option colour" in result.output
    csv.write_text("artist,count,seed\ntiny,1,1\ntiny,many,2\n")
    result = CliRunner().invoke(main, ["--quiet", "batch", str(csv), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and f"{csv}:3: count 'many' is not a whole number" in result.output
    csv.write_text("artist,count,seed,bpm\ntiny,1,1,9000\n")
    result = CliRunner().invoke(main, ["--quiet", "batch", str(csv), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "--bpm: 9000 is outside" in result.output and not (tmp_path / "out").exists()


def _ray_workers_running(task: str) -> list[int]:
    """Pids of the processes whose title says they run Ray task ``task`` (Ray retitles a worker
    ``ray::<task>`` while it runs one)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(f"ray::{task}".encode()):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_on_a_local_ray_cluster_batch_render_and_ingest_give_the_same_bytes_and_survive_a_killed_worker(
        trained_bundle, tiny_material, tiny_bundle, tmp_path):
    """A local Ray cluster (a head and a worker node on 127.0.0.1): a manifest of two artists x two
    seeds, whose first row's worker process is SIGKILLed mid-row (Ray runs the row again, and no
    half-written folder is left); ``render-template --ray`` (each candidate a task); and
    ``template ingest --ray`` (each project a task) give the bytes of the same work done locally."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import pytest

    pytest.importorskip("ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray = [sys.executable, "-m", "ray.scripts.scripts"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
    common = ["--num-cpus", "1", "--object-store-memory", str(200 * 2**20), "--disable-usage-stats"]
    cli = [sys.executable, "-m", "template_engine.cli", "--quiet"]
    root, address = tmp_path / "artists", f"127.0.0.1:{port}"
    for name in ("tiny", "tiny2"):
        shutil.copytree(trained_bundle.path, root / name)
    subprocess.run([*ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--include-dashboard",
                    "false", *common], check=True, env=env, capture_output=True, timeout=180)
    try:
        subprocess.run([*ray, "start", "--address", address, *common], check=True, env=env, capture_output=True, timeout=180)
        manifest = tmp_path / "rows.jsonl"
        manifest.write_text("".join(json.dumps({"artist": a, "count": 1, "seed": s, "bars": 8, "formats": "wav"}) + "\n"
                                    for a in ("tiny", "tiny2") for s in (3, 4)))
        driver = subprocess.Popen([*cli, "--artists-dir", str(root), "batch", str(manifest), "--out", str(tmp_path / "out"),
                                   "--ray", address], cwd=Path(__file__).resolve().parents[1], env=env, stdout=subprocess.PIPE,
                                  text=True)
        killed, deadline = None, time.monotonic() + 300
        while killed is None and driver.poll() is None and time.monotonic() < deadline:
            running = _ray_workers_running("render_row")
            if running:
                killed = running[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.02)
        output, _ = driver.communicate(timeout=600)
        assert killed is not None, "no Ray worker was seen running a row"
        assert driver.returncode == 0, output
        assert "4 rows rendered (4 candidates" in output and "0 failed" in output
        rendered = subprocess.run([*cli, "--artists-dir", str(root), "render", "--artist", "tiny", "--count", "2", "--seed", "5",
                                   "--bars", "8", "--format", "wav", "--out", str(tmp_path / "by-candidate"), "--ray", address],
                                  env=env, capture_output=True, text=True, timeout=600)
        assert rendered.returncode == 0, rendered.stderr
        projects, samples = tiny_material
        ingested = subprocess.run([*cli, "--artists-dir", str(tmp_path / "ingested"), "ingest", str(projects), "--artist",
                                   "tiny", "--samples", str(samples), "--ray", address], env=env, capture_output=True, text=True,
                                  timeout=600)
        assert ingested.returncode == 0, ingested.stderr
    finally:
        subprocess.run([*ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
    assert not list((tmp_path / "out").rglob("*.partial"))
    for artist in ("tiny", "tiny2"):
        one_by_one = tmp_path / "local" / artist
        for seed in (3, 4):
            render_batch(trained_bundle, one_by_one, RenderSettings(count=1, seed=seed, bars=8, formats=("wav",)), progress=False)
        assert digests(tmp_path / "out" / artist) == digests(one_by_one)
    local = render_batch(trained_bundle, tmp_path / "local-two", RenderSettings(count=2, seed=5, bars=8, formats=("wav",)),
                         progress=False)
    assert digests(tmp_path / "by-candidate") == digests(local[0].parent)
    from project_ingest.bundle import ArtistBundle

    assert ArtistBundle.load(tmp_path / "ingested" / "tiny").content_hash() == tiny_bundle.content_hash()


def test_a_batch_killed_midway_renders_only_the_missing_rows_when_run_again(trained_bundle, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "artists"
    shutil.copytree(trained_bundle.path, root / "tiny")
    manifest = tmp_path / "rows.jsonl"
    seeds = (5, 6, 7)
    manifest.write_text("".join(json.dumps({"artist": "tiny", "count": 1, "seed": s, "bars": 4, "formats": "wav"}) + "\n"
                                for s in seeds))
    args = ["--artists-dir", str(root), "--quiet", "batch", str(manifest), "--out", str(tmp_path / "out"), "--workers", "1"]
    driver = subprocess.Popen([sys.executable, "-m", "template_engine.cli", *args], cwd=Path(__file__).resolve().parents[1],
                              start_new_session=True)
    markers = tmp_path / "out" / "tiny" / ".batch"
    deadline = time.monotonic() + 300
    while driver.poll() is None and time.monotonic() < deadline and not list(markers.glob("*.json")):
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its worker, as when a machine goes down
    driver.wait()
    done_before = len(list(markers.glob("*.json")))
    assert 1 <= done_before < len(seeds)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert f"{len(seeds) - done_before} rows rendered" in again.output and f"{done_before} already done" in again.output
    assert f"{len(seeds) - done_before} begun by a killed batch" in again.output
    one_by_one = tmp_path / "local" / "tiny"
    for seed in seeds:
        render_batch(trained_bundle, one_by_one, RenderSettings(count=1, seed=seed, bars=4, formats=("wav",)), progress=False)
    assert digests(tmp_path / "out" / "tiny") == digests(one_by_one)


def test_a_worker_gets_its_share_of_the_cores_for_generation():
    """A worker process started fresh (as the batch's spawned workers are) limits the BLAS library
    that generation's matrix products run on to cores // workers threads."""
    workers = os.cpu_count() or 1
    code = ("from template_engine.threads import share_cores\n"
            f"share_cores({workers})\n"
            "from threadpoolctl import threadpool_info\n"
            "print(' '.join(str(i['num_threads']) for i in threadpool_info() if i['user_api'] == 'blas'))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() and set(run.stdout.split()) == {"1"}


def test_a_batch_with_its_progress_bar_writes_its_phrases_on_two_cores(trained_bundle, tmp_path, monkeypatch,
                                                                     forked_batches):
    """Two songs' phrases are written in this process, under the progress bar. Called from Python,
    where tqdm starts a monitor thread beside a bar by default, the render turns it off, so the
    writer still forks its second batch (a process with another thread never forks)."""
    from tqdm import tqdm

    from template_engine.threads import THREADS_ENV

    monkeypatch.setenv(THREADS_ENV, "2")
    monkeypatch.setattr(tqdm, "monitor_interval", 10)
    render_batch(trained_bundle, tmp_path, RenderSettings(count=2, seed=1, bars=8, formats=("wav",)), progress=True)
    assert forked_batches and all(forked_batches)


def test_a_batch_expects_the_artists_median_song_or_the_bars_asked_for():
    from project_ingest.score import BeatNote, Key, Score, Section
    from template_engine.render.batch_mixing import likely_song

    def song(bars, bpm, roles):
        return Score(bpm, Key(0, "minor"), [Section("drop", 0, bars, 1.0)],
                     {role: [BeatNote(0, 1, 36, 100)] for role in roles})

    corpus = [("a", song(64, 120, ["kick", "bass"])), ("b", song(96, 128, ["kick", "bass", "lead"])),
              ("c", song(128, 140, ["kick", "bass", "lead", "pad"]))]
    assert likely_song(corpus, RenderSettings()) == (pytest.approx(96 * 4 * 60 / 128), 3)
    assert likely_song(corpus, RenderSettings(bars=32)) == (pytest.approx(32 * 4 * 60 / 128), 3)
    assert likely_song(corpus, RenderSettings(bars=32, bpm=160)) == (pytest.approx(48.0), 3)
    assert likely_song([], RenderSettings()) == (0.0, 0)


def test_candidates_exported_beside_a_forked_copy_have_the_bytes_of_ones_exported_alone(trained_bundle, tmp_path,
                                                                                      monkeypatch, forked_writes):
    """Each candidate's export forks a copy that writes about half its audio files, the second too
    while the first one's MP3 still encodes (no thread waits on ffmpeg); with one core it writes them
    all here. The folders are the same bytes."""
    from template_engine.threads import THREADS_ENV

    settings = RenderSettings(count=2, seed=2, bars=4, formats=("wav", "mp3"), dry_stems=True)
    monkeypatch.setenv(THREADS_ENV, "2")
    render_batch(trained_bundle, tmp_path / "two", settings, progress=False)
    monkeypatch.setenv(THREADS_ENV, "1")
    render_batch(trained_bundle, tmp_path / "one", settings, progress=False)
    assert forked_writes == [True, True]  # one core: no copy made
    two, one = digests(tmp_path / "two"), digests(tmp_path / "one")
    assert two == one and sum("/stems/" in name for name in two) > 10
