"""The artist bundle: one folder holding everything learned about one artist.

::

    artists/<name>/
      artist.json         schema version, name, source projects (content hashes), tempo range, keys,
                          roles, section statistics, time of ingest
      ingest_report.json  what ingest found and skipped, per file
      corpus/<song>.mid   normalised MIDI: one track per role, section markers
      corpus/<song>.json  the song's sections, key, tempo, energy per bar, quantisation
      mix_profile.json    how the artist mixes (see ``mix_profile``)
      samples/            the one-shot library (sample_library)
      model/              weights (safetensors), tokenizer, config, training log

Every write goes to a temporary path first and is renamed into place: a whole new bundle is built
beside the old one and swapped in with two renames, and a crash between them is repaired on the
next load, so the previous bundle stays whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from project_ingest.corpus import load_corpus
from project_ingest.form import FormStats, learn_form
from project_ingest.profile import MixProfile
from sample_library.audio_io import atomic_path
from sample_library.errors import InputError

SCHEMA_VERSION = 1
ENV_ARTISTS_DIR = "TEMPLATE_ARTISTS"
REQUIRED_FILES = ("artist.json", "mix_profile.json")
SAMPLE_INDEX = "samples/index.sqlite"


MAX_ARTIST_NAME_BYTES = 100  # leaves room in a 255-byte file name for the staging suffixes


def validate_artist_name(name: str) -> str:
    """Return ``name`` if it is a safe folder name; raise InputError saying which rule it breaks."""
    if not name or not name.strip():
        raise InputError("--artist", "the artist name is empty")
    if "/" in name or "\\" in name or os.sep in name:
        raise InputError("--artist", f"'{name}' contains a path separator")
    if ".." in name:
        raise InputError("--artist", f"'{name}' contains '..'")
    if name.startswith("."):
        raise InputError("--artist", f"'{name}' starts with a dot")
    if any(ord(c) < 32 for c in name) or ":" in name:
        raise InputError("--artist", f"'{name}' contains a control character or ':'")
    if len(name.encode()) > MAX_ARTIST_NAME_BYTES:
        raise InputError("--artist", f"'{name[:20]}...' is {len(name.encode())} bytes long; at most {MAX_ARTIST_NAME_BYTES}")
    return name


def artists_dir(explicit: str | Path | None = None) -> Path:
    """Where artists live: ``explicit``, else $TEMPLATE_ARTISTS, else the user's data folder."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_ARTISTS_DIR)
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir("artist-templates", appauthor=False)) / "artists"


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=_json_default) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "file is missing") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def replace_dir(staging: Path, dest: Path) -> None:
    """Swap the finished folder ``staging`` in at ``dest`` with renames; the old ``dest`` is removed last."""
    old = dest.parent / f".{dest.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    if old.exists():
        shutil.rmtree(old)


def staging_dir(dest: Path) -> Path:
    """A fresh temporary folder beside ``dest`` to build its replacement in; staging folders left by
    writers that were killed (their process is gone) are removed."""
    for stale in dest.parent.glob(f".{dest.name}.staging-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    staging = dest.parent / f".{dest.name}.staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(dest: Path) -> None:
    """Undo a swap that a crash cut between its two renames: put the old folder back."""
    old = dest.parent / f".{dest.name}.old"
    if not dest.exists() and old.exists():
        os.replace(old, dest)


@dataclass
class ArtistBundle:
    """An artist bundle on disk. Use ``ArtistBundle.load``; write through ``project_ingest.ingest``."""

    path: Path
    artist: dict

    @property
    def name(self) -> str:
        return self.artist["name"]

    @classmethod
    def load(cls, path: Path) -> ArtistBundle:
        """Load and validate the bundle at ``path``."""
        path = Path(path)
        recover(path)
        if not path.is_dir():
            raise InputError(path, "no artist bundle here")
        for name in REQUIRED_FILES:
            if not (path / name).is_file():
                raise InputError(path / name, "missing from the artist bundle")
        artist = read_json(path / "artist.json")
        if not isinstance(artist, dict):
            raise InputError(path / "artist.json", f"is a JSON {type(artist).__name__}, not an object: the bundle is damaged")
        version = artist.get("schema_version")
        if version != SCHEMA_VERSION:
            raise InputError(path / "artist.json", f"schema version {version} is not the supported {SCHEMA_VERSION}")
        for key in ("name", "projects", "roles"):
            if key not in artist:
                raise InputError(path / "artist.json", f"has no '{key}'")
        return cls(path=path, artist=artist)

    @property
    def mix_profile(self) -> MixProfile:
        """The artist's mix profile, typed; InputError naming the file when it does not parse."""
        path = self.path / "mix_profile.json"
        try:
            return MixProfile.from_dict(read_json(path))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(path, f"is not a valid mix profile ({exc})") from None

    @property
    def form(self) -> FormStats:
        """How the artist's songs bring their ideas back (``form.json``); learned from the corpus for
        a bundle written before ingest kept it, or before it kept which of the theme's parts each section
        type plays and in which bars."""
        path = self.path / "form.json"
        if path.is_file() and "theme_bars" in (kept := read_json(path)):
            return FormStats.from_dict(kept)
        return learn_form([s for _, s in load_corpus(self.path)])

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def corpus_dir(self) -> Path:
        return self.path / "corpus"

    def corpus_songs(self) -> list[str]:
        return sorted(p.stem for p in self.corpus_dir.glob("[!.]*.json"))

    def song_meta(self, song: str) -> dict:
        return read_json(self.corpus_dir / f"{song}.json")

    @property
    def is_trained(self) -> bool:
        return (self.model_dir / "model.safetensors").is_file()

    def content_hash(self, *, include_model: bool = False) -> str:
        """SHA-256 over every file's relative path and bytes (the model and logs only on request)."""
        h = hashlib.sha256()
        for file in sorted(p for p in self.path.rglob("*") if p.is_file()):
            rel = file.relative_to(self.path).as_posix()
            if rel.startswith("model/") and not include_model:
                continue
            if rel.endswith(".log") or "/." in f"/{rel}" or rel == "ingest_report.json" or rel.startswith(SAMPLE_INDEX):
                continue  # the index (and the journal SQLite keeps beside it while another process writes) is derived
            data = file.read_bytes()
            if rel == "artist.json":
                meta = json.loads(data)
                meta.pop("ingested_at", None)
                data = json.dumps(meta, sort_keys=True).encode()
            h.update(rel.encode())
            h.update(hashlib.sha256(data).digest())
        return h.hexdigest()

    def model_hash(self) -> str | None:
        weights = self.model_dir / "model.safetensors"
        return hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else None

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def bundle_path(name: str, root: Path) -> Path:
    """The folder of artist ``name`` under ``root``, after checking the name."""
    return Path(root) / validate_artist_name(name)


def list_artists(root: Path) -> tuple[list[ArtistBundle], list[InputError]]:
    """Every loadable bundle under ``root``, by name, and the problem of each folder that is not one."""
    if not Path(root).is_dir():
        return [], []
    bundles, broken = [], []
    for child in sorted(Path(root).iterdir()):
        if child.name.startswith(".") or not child.is_dir():
            continue
        try:
            bundles.append(ArtistBundle.load(child))
        except InputError as exc:
            broken.append(exc)
    return bundles, broken


def safe_song_name(name: str) -> str:
    """A song title as a file name that stays inside its folder (letters of any script are kept)."""
    cleaned = re.sub(r"[^\w ().\-]+", "_", name).strip(" .") or "song"
    return cleaned.replace("..", "_")[:100]


def song_file_stem(corpus: Path, title: str) -> str:
    """The corpus file name (no suffix) for ``title``: its safe name, numbered when another title
    already holds that name (``Song_``, ``Song_ (2)``), the same name when the title is already there."""
    safe = safe_song_name(title)
    for n in range(1, 10_000):
        stem = safe if n == 1 else f"{safe} ({n})"
        meta = corpus / f"{stem}.json"
        if not meta.exists() or read_json(meta).get("title") == title:
            return stem
    raise InputError(corpus, f"holds too many songs named like '{title}'")
