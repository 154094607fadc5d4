"""The built-in demo artist, built through the real pipeline on first use: its one-shots and past
projects are synthesised, ingested, and the shipped base model fine-tuned on them for a fixed number
of steps, so the demo is the same model on any machine whatever its load. Those weights ship in the
package (``shipped_model``): they are installed where the ingested material is the material they
were trained on, and the base is fine-tuned where it is not."""

from __future__ import annotations

import tempfile
from pathlib import Path

from project_ingest.bundle import ArtistBundle, bundle_path
from project_ingest.ingest import default_workers, ingest
from template_engine.demo.bundle_state import BUILTIN_MARKER, DEMO
from template_engine.demo.projects import FULL, build_demo_material
from template_engine.demo.shipped_model import SHIPPED_START, install_shipped
from template_engine.model.base_model import SHIPPED_BASE
from template_engine.model.train import TrainSettings, TrainSummary, train

DEMO_TRAIN_STEPS = 150  # fine-tuning steps from the base
DEMO_TRAIN_MINUTES = 60.0  # a ceiling only: the step count ends training first on any working machine


def demo_train_settings() -> TrainSettings:
    """How the demo artist is fine-tuned: a fixed number of steps from the shipped base."""
    return TrainSettings(minutes=DEMO_TRAIN_MINUTES, max_steps=DEMO_TRAIN_STEPS, base=SHIPPED_BASE)


def build_demo_artist(root: Path, *, progress: bool) -> TrainSummary:
    """Synthesise the demo material, ingest it as artist ``demo`` under ``root``, and install the
    shipped demo model where it was trained on this material, else fine-tune the base on it."""
    with tempfile.TemporaryDirectory(prefix="demo-material-") as tmp:
        projects, samples = build_demo_material(Path(tmp), sizes=FULL, progress=progress, workers=default_workers())
        ingest(projects, artist=DEMO, root=root, sample_dirs=[samples], force=True, progress=progress,
               workers=default_workers())
    (bundle_path(DEMO, root) / BUILTIN_MARKER).write_text("the built-in demo artist\n")
    bundle, settings = ArtistBundle.load(bundle_path(DEMO, root)), demo_train_settings()
    return install_shipped(bundle, settings, progress=progress) or train(bundle, settings, progress=progress)


def model_origin(summary: TrainSummary) -> str:
    """Where the demo's model came from, in words, from ``build_demo_artist``'s summary."""
    if summary.extra.get("start") == SHIPPED_START:
        return "the shipped model, trained on this material"
    return "fine-tuned here (the shipped model was trained on other material)"
