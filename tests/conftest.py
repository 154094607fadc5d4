"""Shared fixtures: the tiny demo material (2 songs x 16 bars), an ingested bundle, a trained model.

The model trains a fixed number of steps (the time budget never binds), so every fixture and the
golden render built on it are the same on a busy machine as on an idle one."""

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from tqdm import tqdm

from project_ingest.bundle import ArtistBundle
from project_ingest.ingest import ingest
from template_engine.demo.projects import TINY, build_demo_material
from template_engine.forked import ForkedCall
from template_engine.model.config import ModelConfig
from template_engine.model.train import TrainSettings, train
from template_engine.render.batch import render_batch
from template_engine.render.settings import RenderSettings

TINY_TRAIN_STEPS = 200
tqdm.monitor_interval = 0  # as the command line sets it: renders fork the process that writes the notes


@pytest.fixture
def record_forks(monkeypatch) -> Callable[[ModuleType], list[bool]]:
    """``record(module)`` replaces ``module``'s ``ForkedCall`` with one that records, in the list it
    returns, whether each call entered forked a child, in order."""

    def record(module: ModuleType) -> list[bool]:
        children: list[bool] = []

        class Recorded(ForkedCall):
            def __enter__(self):
                entered = super().__enter__()
                children.append(self._child is not None)
                return entered

        monkeypatch.setattr(module, "ForkedCall", Recorded)
        return children

    return record


@pytest.fixture
def forked_batches(record_forks) -> list[bool]:
    """Whether each call of the phrase writer that split its phrases forked its second batch, in order."""
    import template_engine.model.phrases as phrases_module

    return record_forks(phrases_module)


@pytest.fixture
def forked_writes(record_forks) -> list[bool]:
    """Whether each candidate export that shared its audio files with a forked copy forked it, in order."""
    import template_engine.render.audio_files as audio_files_module

    return record_forks(audio_files_module)


@pytest.fixture(scope="session")
def tiny_material(tmp_path_factory) -> tuple[Path, Path]:
    return build_demo_material(tmp_path_factory.mktemp("material"), sizes=TINY, progress=False)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_material, tmp_path_factory) -> ArtistBundle:
    projects, samples = tiny_material
    root = tmp_path_factory.mktemp("artists")
    return ingest(projects, artist="tiny", root=root, sample_dirs=[samples], progress=False).bundle


@pytest.fixture(scope="session")
def trained_bundle(tiny_bundle) -> ArtistBundle:
    settings = TrainSettings(minutes=30, max_steps=TINY_TRAIN_STEPS, eval_every=25, patience=100,
                             model=ModelConfig(n_layer=2, d_model=128, n_head=4, dropout=0.0))
    train(tiny_bundle, settings, progress=False)
    return ArtistBundle.load(tiny_bundle.path)


@pytest.fixture(scope="session")
def rendered(trained_bundle, tmp_path_factory) -> tuple[Path, Path]:
    """A batch folder holding one 16-bar candidate of the tiny artist (seed 5), and that candidate."""
    out = tmp_path_factory.mktemp("renders")
    folders = render_batch(trained_bundle, out, RenderSettings(count=1, seed=5, bars=16, formats=("wav", "mp3")),
                           progress=False)
    return out, folders[0]
