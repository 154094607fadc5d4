"""Render candidates of an ingested and trained artist, rewrite one part of the first, and judge
them against the artist, through the Python API:

    python examples/render_regenerate_evaluate.py --artist example --count 2 --bars 16 --out renders/example
"""

from __future__ import annotations

import argparse
from pathlib import Path

from template_engine import api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artist", default="example")
    parser.add_argument("--artists-dir", type=Path, default=None, help="where artists live (default: the user's)")
    parser.add_argument("--out", type=Path, default=Path("renders/example"))
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    bundle = api.load_artist(args.artist, args.artists_dir)
    settings = api.RenderSettings(count=args.count, seed=args.seed, bars=args.bars, formats=("wav",))
    folders = api.render_batch(bundle, args.out, settings, progress=False)
    for folder in folders:
        print(f"candidate: {folder}")
    _, score = api.load_candidate(folders[0])
    part = next(role for role in ("bass", "sub", "lead", "chords", *score.tracks) if role in score.tracks)
    again = api.regenerate(bundle, folders[0], part, f"1-{min(args.bars, 8)}", seed=args.seed + 1)
    print(f"{part} rewritten over bars 1-{min(args.bars, 8)}: {again}")
    report = api.evaluate(bundle, folders + [again])
    page = api.write_report_html(report, args.out / "evaluation.html")
    form = report["candidates_form"]
    print(f"harmonies recurring {form['harmony_recurrence']}, artist {report['artist_form']['harmony_recurrence']}; "
          f"page: {page}")


if __name__ == "__main__":
    main()
