"""The Python API: what the ``template`` commands do, callable from a script or a notebook.

::

    from template_engine import api

    result = api.ingest(Path("~/Projects").expanduser(), artist="me", root=api.artists_dir(),
                        sample_dirs=[Path("~/Samples").expanduser()])
    summary = api.train(result.bundle, api.TrainSettings(max_steps=600, base=api.SHIPPED_BASE))
    folders = api.render_batch(api.load_artist("me"), Path("renders/me"), api.RenderSettings(count=10, seed=7))
    again = api.regenerate(api.load_artist("me"), folders[0], "bass", "33-48", seed=1)
    report = api.evaluate(api.load_artist("me"), folders)

Every function raises ``InputError`` (naming the file or option) on bad input, as the commands do.
``examples/`` holds runnable scripts built on it.
"""

from __future__ import annotations

from pathlib import Path

from project_ingest.bundle import ArtistBundle, artists_dir, bundle_path
from project_ingest.ingest import IngestResult, ingest
from sample_library.errors import InputError
from template_engine.evaluate.artist_page import write_artist_page
from template_engine.evaluate.report import evaluate
from template_engine.evaluate.report_html import write_report_html
from template_engine.model.base_model import SHIPPED_BASE
from template_engine.model.train import TrainSettings, TrainSummary, train
from template_engine.render.batch import render_batch
from template_engine.render.candidate import load_candidate
from template_engine.render.regenerate import regenerate
from template_engine.render.settings import RenderSettings

__all__ = ["SHIPPED_BASE", "ArtistBundle", "IngestResult", "InputError", "RenderSettings", "TrainSettings", "TrainSummary",
           "artists_dir", "evaluate", "ingest", "load_artist", "load_candidate", "regenerate", "render_batch", "train", "write_artist_page",
           "write_report_html"]


def load_artist(name: str, root: Path | None = None) -> ArtistBundle:
    """The bundle of artist ``name`` under ``root`` (default: ``artists_dir()``, or ``$TEMPLATE_ARTISTS``)."""
    path = bundle_path(name, artists_dir(root))
    if not path.exists():
        raise InputError(path, f"no artist '{name}' here (ingest it first)")
    return ArtistBundle.load(path)
