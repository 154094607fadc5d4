"""The built-in demo artist, built through the real pipeline on first use: its one-shots and past
projects are synthesised, ingested, and its model trained for a fixed number of steps, so the demo
is the same model on any machine whatever its load."""

from __future__ import annotations

import tempfile
from pathlib import Path

from project_ingest.bundle import ArtistBundle, bundle_path
from project_ingest.ingest import ingest
from template_engine.demo.projects import FULL, build_demo_material
from template_engine.model.train import TrainSettings, TrainSummary, train

DEMO = "demo"
DEMO_TRAIN_STEPS = 300
DEMO_TRAIN_MINUTES = 60.0  # a ceiling only: the step count ends training first on any working machine


def demo_is_built(root: Path) -> bool:
    """Whether ``root`` holds a trained demo artist."""
    return (bundle_path(DEMO, root) / "model" / "model.safetensors").exists()


def build_demo_artist(root: Path, *, progress: bool) -> TrainSummary:
    """Synthesise the demo material, ingest it as artist ``demo`` under ``root`` and train its model."""
    with tempfile.TemporaryDirectory(prefix="demo-material-") as tmp:
        projects, samples = build_demo_material(Path(tmp), sizes=FULL, progress=progress)
        ingest(projects, artist=DEMO, root=root, sample_dirs=[samples], force=True, progress=progress)
    settings = TrainSettings(minutes=DEMO_TRAIN_MINUTES, max_steps=DEMO_TRAIN_STEPS)
    return train(ArtistBundle.load(bundle_path(DEMO, root)), settings, progress=progress)
