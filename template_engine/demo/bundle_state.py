"""Whether the built-in demo artist is there to render, known without loading what builds it
(``build``: the synthesis kit, ingest and training), so rendering the demo starts as fast as any
artist's render."""

from __future__ import annotations

from pathlib import Path

from project_ingest.bundle import bundle_path

DEMO = "demo"
BUILTIN_MARKER = ".builtin-demo"  # in the bundle: built by this program, not ingested by the user


def demo_needs_building(root: Path) -> bool:
    """Whether the built-in demo must be built under ``root``: no artist ``demo`` there, or the
    built-in one left untrained by an interrupted build. A user's own artist named ``demo`` (no
    ``BUILTIN_MARKER``) is never built over."""
    folder = bundle_path(DEMO, root)
    if not folder.exists():
        return True
    return (folder / BUILTIN_MARKER).exists() and not (folder / "model" / "model.safetensors").exists()
