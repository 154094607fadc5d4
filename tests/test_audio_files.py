"""A candidate's audio files written in two processes: each file once, the work halved, the same
bytes as on threads, and a failure in the forked copy raised here."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from template_engine.render.audio_files import ForkedWrites, split_writes, write_audio, write_cost
from template_engine.render.span_audio import SpanAudio, SummedAudio
from template_engine.threads import THREADS_ENV

SR = 8000


def track(seconds_sounding: float, frames: int = 4 * SR, seed: int = 0) -> SpanAudio:
    audio = np.zeros((2, frames), dtype=np.float32)
    stop = int(seconds_sounding * SR)
    audio[:, :stop] = np.random.default_rng(seed).uniform(-0.5, 0.5, (2, stop))
    return SpanAudio.keep(audio, [(0, stop)] if stop else [])


def test_the_writes_are_split_in_two_halves_of_about_equal_cost_each_in_its_order(tmp_path):
    tracks = [track(s, seed=i) for i, s in enumerate([3.0, 0.5, 2.0, 1.0, 1.5, 0.25])]
    writes = [(tmp_path / f"t{i}.wav", t) for i, t in enumerate(tracks)]
    writes.insert(0, (tmp_path / "group.wav", SummedAudio(tracks[:2])))
    first, second = split_writes(writes)
    assert sorted(map(str, [p for p, _ in first + second])) == sorted(map(str, [p for p, _ in writes]))
    for half in (first, second):
        assert [writes.index(w) for w in half] == sorted(writes.index(w) for w in half)
    costs = [sum(write_cost(audio) for _, audio in half) for half in (first, second)]
    assert write_cost(writes[0][1]) == write_cost(writes[1][1]) + write_cost(writes[2][1])
    assert abs(costs[0] - costs[1]) <= max(write_cost(audio) for _, audio in writes) / 2


def test_files_written_beside_a_forked_copy_are_the_bytes_written_on_threads(tmp_path, monkeypatch, forked_writes):
    tracks = [track(s, seed=i) for i, s in enumerate([3.0, 0.5, 2.0, 1.0, 0.0])]
    stems = [SummedAudio(tracks)] + tracks

    def written(folder: Path, threads: str) -> dict[str, bytes]:
        monkeypatch.setenv(THREADS_ENV, threads)
        writes = [(folder / f"stem{i}.wav", audio) for i, audio in enumerate(stems)]
        with ForkedWrites(writes, SR) as shared, ThreadPoolExecutor(max_workers=shared.threads) as pool:
            for done in write_audio(pool, shared.here, SR):
                done.result()
        assert bool(shared.aside) == (threads == "2")
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}

    two, one = written(tmp_path / "two", "2"), written(tmp_path / "one", "1")
    assert forked_writes == [True]
    assert two == one and len(two) == len(stems)
    back, sr = sf.read(str(tmp_path / "two" / "stem1.wav"), always_2d=True, dtype="float32")
    assert sr == SR and np.abs(back.T - tracks[0].dense()).max() < 2 ** -22


def test_a_write_that_fails_in_the_forked_copy_is_raised_here(tmp_path, monkeypatch, forked_writes):
    monkeypatch.setenv(THREADS_ENV, "2")
    (tmp_path / "not-a-folder").write_text("a file")
    writes = [(tmp_path / "not-a-folder" / f"stem{i}.wav", track(1.0, seed=i)) for i in range(2)]
    with pytest.raises(OSError), ForkedWrites(writes, SR) as shared:
        assert shared.aside
    assert forked_writes == [True]
