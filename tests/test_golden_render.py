"""Refactors keep the output: a short candidate of the tiny artist (fixed training steps, fixed
seed) hashes to what was recorded before the code moved.

The recorded hashes are in ``golden/render_hashes.json``; render.json is compared without the library
versions (they name the machine's install) and the bundle hash (artist.json records the source
projects' paths, which are pytest's temporary folders)."""

import hashlib
import json
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "render_hashes.json"
VOLATILE = ("versions", "bundle_hash")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def candidate_hashes(folder: Path) -> dict[str, str]:
    """sha256 of the mastered WAV, every MIDI file and render.json (less its volatile fields)."""
    info = json.loads((folder / "render.json").read_text())
    stable = {k: v for k, v in info.items() if k not in VOLATILE}
    hashes = {"render.json": _digest(json.dumps(stable, sort_keys=True).encode())}
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".wav", ".mid") and "stems" not in path.parts:
            hashes[str(path.relative_to(folder))] = _digest(path.read_bytes())
    return hashes


def test_short_demo_candidate_hashes_as_recorded(rendered):
    _, folder = rendered
    got = candidate_hashes(folder)
    want = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    assert got == want, json.dumps(got, indent=1)
