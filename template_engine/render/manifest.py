"""``template batch``: the rows of a manifest rendered in a pool of processes or on a Ray cluster.

A manifest is JSON lines (``.jsonl``) or CSV (``.csv``) with one row per batch of candidates:
``artist`` and any ``render-template`` option (``count``, ``seed``, ``bpm``, ``key``, ``bars``,
``title``, ``formats``, ``stems``, ``bit_depth``, ``lufs``, ``temperature``, ``top_p``), and
optionally ``out`` (a folder under the batch's output folder; default: the artist's name). Every
row is checked before anything renders; a bad one is named by file and line.

Each row runs ``render_batch`` in a worker process (a local pool, or a Ray task with ``--ray``), so
a row gives the same bytes as the same ``render-template`` call, and writes its candidate folders
atomically (a killed worker leaves no half-written folder; Ray runs its row again). A finished row
leaves a marker in ``<out>/.batch/``: a batch started again after a kill renders only the rows
without one (a row it had begun is rendered again over whatever candidate folders it had written).
A failed row is reported and the others go on. The driver writes each output folder's
gallery once the rows are done, and ``batch_summary.json``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from project_ingest.bundle import ArtistBundle, bundle_path, validate_artist_name, write_json
from sample_library.errors import InputError
from sample_library.processes import RAY_RETRIES, ray_session
from template_engine.render.gallery import write_gallery
from template_engine.render.settings import RenderSettings
from template_engine.threads import share_cores

OPTION_TYPES = {f.name: f.type for f in dataclasses.fields(RenderSettings)}
MARKERS = ".batch"


@dataclass
class ManifestRow:
    """One row: where it is in the manifest, the artist, the render settings and its output folder."""

    line: int
    artist: str
    settings: RenderSettings
    out: Path

    @property
    def key(self) -> str:
        """What identifies the row's work (a hash of artist, settings and folder)."""
        options = {k: v for k, v in dataclasses.asdict(self.settings).items() if k != "force"}
        text = json.dumps([self.artist, options, str(self.out)], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class BatchSummary:
    """What a batch did: rows in the manifest, rendered now, done by an earlier run, begun by an
    earlier run that was killed and so rendered again (``resumed``), failed, candidates, seconds."""

    rows: int
    rendered: int
    already_done: int
    resumed: int = 0
    failed: list[dict] = field(default_factory=list)
    candidates: int = 0
    seconds: float = 0.0


def _value(name: str, raw: object, where: str) -> object:
    """A manifest value as ``RenderSettings`` wants it (CSV gives strings)."""
    kind = str(OPTION_TYPES[name])
    if raw in ("", None):
        return None
    try:
        if name == "formats":
            items = raw.split(",") if isinstance(raw, str) else list(raw) if isinstance(raw, (list, tuple)) else [raw]
            return tuple(str(f).strip() for f in items if str(f).strip())
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
        return str(raw)
    except (TypeError, ValueError):
        wanted = {"int": "whole number", "float": "number"}.get(kind.split(" ")[0], kind)
        raise InputError(where, f"{name} {raw!r} is not a {wanted}") from None


def parse_row(record: dict, where: str, out_root: Path) -> ManifestRow:
    """One manifest record checked: the artist's name, known options of the right types and ranges."""
    if not isinstance(record, dict):
        raise InputError(where, "is not an object of options")
    unknown = sorted(set(record) - set(OPTION_TYPES) - {"artist", "out"})
    if unknown:
        raise InputError(where, f"unknown option {', '.join(unknown)}")
    artist = validate_artist_name(str(record.get("artist") or ""))
    options = {k: _value(k, v, where) for k, v in record.items() if k in OPTION_TYPES}
    settings = RenderSettings(**{k: v for k, v in options.items() if v is not None})
    try:
        settings.check()
    except InputError as exc:
        raise InputError(where, str(exc)) from None
    out = Path(str(record.get("out") or artist))
    if out.is_absolute() or ".." in out.parts:
        raise InputError(where, f"out {out} must be a folder inside the batch's output folder")
    return ManifestRow(int(where.rsplit(":", 1)[1]), artist, settings, out_root / out)


def read_manifest(path: Path, out_root: Path) -> list[ManifestRow]:
    """Every row of a ``.jsonl`` or ``.csv`` manifest, checked."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such manifest")
    text = path.read_text()
    if path.suffix.lower() == ".csv":
        records = [(i + 2, r) for i, r in enumerate(csv.DictReader(text.splitlines()))]
    elif path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        records = []
        for i, line in enumerate(text.splitlines()):
            if line.strip():
                try:
                    records.append((i + 1, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{i + 1}", f"is not JSON ({exc.msg})") from None
    else:
        raise InputError(path, "a manifest is .jsonl or .csv")
    rows = [parse_row(r, f"{path}:{line}", out_root) for line, r in records]
    if not rows:
        raise InputError(path, "has no rows")
    return rows


def render_row(root: str, artist: str, settings: RenderSettings, out: str) -> list[str]:
    """One row, in a worker process: the candidate folders it wrote."""
    from template_engine.render.batch import render_batch

    folders = render_batch(ArtistBundle.load(bundle_path(artist, Path(root))), Path(out), settings, progress=False)
    return [str(f) for f in folders]


def run_manifest(rows: list[ManifestRow], root: Path, *, workers: int, progress: bool, ray_address: str | None = None,
                 ) -> BatchSummary:
    """Render the rows without a done marker, in ``workers`` local processes or as Ray tasks on the
    cluster at ``ray_address`` ("local": a Ray instance started here); write galleries and the summary."""
    for row in rows:
        if not bundle_path(row.artist, root).is_dir():
            raise InputError(f"line {row.line}", f"no artist '{row.artist}' in {root}")
    start = time.monotonic()
    todo = [r for r in rows if not (r.out / MARKERS / f"{r.key}.json").exists()]
    summary = BatchSummary(rows=len(rows), rendered=0, already_done=len(rows) - len(todo))
    for row in todo:
        started = row.out / MARKERS / f"{row.key}.started"
        if started.exists():  # an earlier batch began this row and was killed: its folders are this row's to replace
            row.settings = dataclasses.replace(row.settings, force=True)
            summary.resumed += 1
        started.parent.mkdir(parents=True, exist_ok=True)
        started.touch()
    bar = tqdm(total=len(todo), desc="batch", unit="row", disable=not progress)
    results = on_ray(todo, root, ray_address) if ray_address else in_processes(todo, root, workers)
    for row, outcome in results:
        if isinstance(outcome, Exception):
            summary.failed.append({"line": row.line, "artist": row.artist, "error": str(outcome)})
        else:
            write_json(row.out / MARKERS / f"{row.key}.json", {"line": row.line, "folders": outcome})
            summary.rendered += 1
            summary.candidates += len(outcome)
        bar.update()
    bar.close()
    for out in sorted({r.out for r in rows if r.out.is_dir()}):
        write_gallery(out)
    summary.seconds = round(time.monotonic() - start, 1)
    return summary


Outcome = Iterator[tuple[ManifestRow, "list[str] | Exception"]]


def in_processes(todo: list[ManifestRow], root: Path, workers: int) -> Outcome:
    """Each row's folders (or its error) as rows finish, from a pool of spawned processes that share
    the cores (``share_cores``)."""
    workers = max(1, min(workers, len(todo) or 1))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=share_cores,
                             initargs=(workers,)) as pool:
        running = {pool.submit(render_row, str(root), r.artist, r.settings, str(r.out)): r for r in todo}
        for future in as_completed(running):
            try:
                yield running[future], future.result()
            except Exception as exc:  # a row's failure is reported; the other rows go on
                yield running[future], exc


def on_ray(todo: list[ManifestRow], root: Path, address: str) -> Outcome:
    """Each row's folders (or its error) as rows finish, each row a Ray task (retried when its worker
    dies). Every node reads the artists from ``root``, which must be a path all nodes share."""
    with ray_session(address) as ray:
        task = ray.remote(max_retries=RAY_RETRIES)(render_row)
        running = {task.remote(str(root), r.artist, r.settings, str(r.out)): r for r in todo}
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            row = running.pop(ref)
            try:
                yield row, ray.get(ref)
            except Exception as exc:  # a row's failure (after its retries) is reported; the other rows go on
                yield row, exc
