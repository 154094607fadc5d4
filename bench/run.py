"""Benchmarks: print speed figures with the machine's CPU count. ``--quick`` uses the tiny demo material.

Measures: sampler speed (notes per second into a 3-minute stereo buffer), ingest speed (x real time
of stem audio), and render speed of one candidate (x real time). Not tests: figures only.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_sampler() -> str:
    from sample_library.sampler import Instrument, Note, Zone

    sr = 44100
    t = np.arange(int(0.5 * sr)) / sr
    tone = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    inst = Instrument(role="lead", zones=[Zone("z", np.stack([tone, tone]), root_midi=57)], sample_rate=sr, sustained=True)
    notes = [Note(i * 0.125, i * 0.125 + 0.2, 48 + (i * 5) % 24, 100) for i in range(1440)]
    start = time.perf_counter()
    inst.render(notes, 180 * sr)
    dt = time.perf_counter() - start
    return f"sampler: {len(notes) / dt:,.0f} notes/s into a 3-minute stereo buffer"


def bench_ingest(work: Path) -> str:
    import soundfile as sf

    from project_ingest.ingest import ingest
    from template_engine.demo.projects import TINY, build_demo_material

    projects, _ = build_demo_material(work / "material", sizes=TINY, progress=False)
    audio_seconds = sum(sf.info(str(p)).duration for p in projects.glob("*/stems/*.wav"))
    start = time.perf_counter()
    ingest(projects, artist="bench", root=work / "artists", progress=False)
    dt = time.perf_counter() - start
    return f"ingest: {audio_seconds / dt:,.1f}x real time of stem audio ({audio_seconds:.0f} s of stems in {dt:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small inputs (CI)")
    parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs")
    print(bench_sampler())
    with tempfile.TemporaryDirectory() as tmp:
        print(bench_ingest(Path(tmp)))


if __name__ == "__main__":
    main()
