"""The scripts in ``examples/`` run as a user would run them, on the Python API, and do what they say."""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_examples_ingest_train_render_regenerate_and_evaluate(tmp_path):
    artists, out = tmp_path / "artists", tmp_path / "renders"
    said = _run("ingest_and_train.py", "--artists-dir", str(artists), "--artist", "example", "--steps", "20")
    assert "ingested 2 songs" in said and "fine-tuned 20 steps" in said
    assert json.loads((artists / "example" / "model" / "training_summary.json").read_text())["steps"] == 20
    said = _run("render_regenerate_evaluate.py", "--artists-dir", str(artists), "--artist", "example", "--out", str(out),
                "--count", "1", "--bars", "8")
    folders = sorted(p for p in out.iterdir() if (p / "render.json").is_file())
    assert len(folders) == 2 and any(json.loads((p / "render.json").read_text()).get("regenerated") for p in folders)
    assert (out / "evaluation.html").is_file() and "harmonies recurring" in said
