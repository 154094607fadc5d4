"""Ingest projects and fine-tune the shipped base model on them, through the Python API.

With no projects given it first synthesises the small demo material (two 16-bar songs and a
one-shot folder) to have something to ingest:

    python examples/ingest_and_train.py --artist example --steps 300
    python examples/ingest_and_train.py --projects ~/Projects --samples ~/Samples --artist me
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from template_engine import api
from template_engine.demo.projects import TINY, build_demo_material


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artist", default="example")
    parser.add_argument("--projects", type=Path, help="a folder of projects (default: synthesise the small demo)")
    parser.add_argument("--samples", type=Path, action="append", default=[], help="one-shot folders")
    parser.add_argument("--artists-dir", type=Path, default=None, help="where artists live (default: the user's)")
    parser.add_argument("--steps", type=int, default=300, help="fine-tuning steps")
    args = parser.parse_args()

    root = api.artists_dir(args.artists_dir)
    with tempfile.TemporaryDirectory() as tmp:
        projects, samples = args.projects, args.samples
        if projects is None:
            projects, demo_samples = build_demo_material(Path(tmp), sizes=TINY, progress=False)
            samples = [demo_samples]
        result = api.ingest(projects, artist=args.artist, root=root, sample_dirs=samples, force=True, progress=False)
    print(f"ingested {len(result.bundle.corpus_songs())} songs into {result.bundle.path}")
    summary = api.train(result.bundle, api.TrainSettings(max_steps=args.steps, base=api.SHIPPED_BASE), progress=False)
    verdict = "beats" if summary.beats_bigram else "does NOT beat"
    print(f"fine-tuned {summary.steps} steps: validation loss {summary.valid_loss:.3f}, "
          f"{verdict} the bigram baseline ({summary.bigram_valid_loss:.3f})")


if __name__ == "__main__":
    main()
