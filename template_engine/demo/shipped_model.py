"""The demo artist's fine-tuned model, shipped in the package.

Fine-tuning the base on the demo's twelve projects takes minutes on two cores and, with its fixed
step count and seed, gives the same model on any machine, to float32 rounding (threaded CPU kernels
round differently from run to run and CPU to CPU). So the package carries those exact weights
(``model/model.safetensors``) with a record (``model/model.json``) of what they were trained from:
a ``fingerprint`` of the base file, the training settings and every tokenised phrase of the split.
Building the demo installs them where the fingerprint of the material it has just ingested is the
same, and fine-tunes as any artist is fine-tuned where anything differs.

After a change to the demo's material, the base or how training works, refresh them with
``python -m template_engine.demo.shipped_model ROOT`` on a demo built under the artists folder ROOT.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from project_ingest.bundle import ArtistBundle, bundle_path, write_json
from template_engine.model.base_model import load_base
from template_engine.model.checkpoint import publish
from template_engine.model.config import ModelConfig
from template_engine.model.train import TrainData, TrainSettings, TrainSummary, prepare_data

SHIPPED_DEMO = Path(__file__).with_name("model")
WEIGHTS = "model.safetensors"
RECORD = "model.json"
SHIPPED_START = "the shipped demo model: fine-tuned from base.safetensors on the same material and settings"


def fingerprint(data: TrainData, settings: TrainSettings) -> str:
    """sha256 (hex) of what fine-tuning's result depends on: the base file's bytes, the settings
    but the time budget (the step limit ends a demo's training), the songs of each side of the split
    and every phrase as training reads it: its condition tokens and each role's token ids. (Not the
    phrase's measured energy itself, which two builds of the demo may measure 0.002 apart on their
    printed stems, but the energy level it is given as a token.)"""
    h = hashlib.sha256()
    if settings.base is not None:
        h.update(hashlib.sha256(Path(settings.base).read_bytes()).digest())
    shaping = {k: v for k, v in asdict(settings).items() if k not in ("minutes", "base")}
    h.update(json.dumps(shaping, sort_keys=True, default=str).encode())
    for eps in (data.train_eps, data.valid_eps):
        read = [(data.tok.condition_ids(ep.phrase), list(ep.base.items())) for ep in eps]
        h.update(json.dumps(read).encode())
    h.update(json.dumps([data.train_titles, data.valid_titles]).encode())
    return h.hexdigest()


def install_shipped(bundle: ArtistBundle, settings: TrainSettings, *, shipped: Path = SHIPPED_DEMO,
                    progress: bool = False) -> TrainSummary | None:
    """Write the shipped model into ``bundle``'s ``model/`` (as ``train`` would) where it was trained
    from exactly the data and ``settings`` that training ``bundle`` would use; returns its summary,
    or None (nothing written) where there is no shipped model or anything differs."""
    record_path = shipped / RECORD
    if settings.base is None or not record_path.is_file() or not (shipped / WEIGHTS).is_file():
        return None
    record = json.loads(record_path.read_text())
    tok = load_base(settings.base).tok
    if record.get("fingerprint") != fingerprint(prepare_data(bundle, settings, tok, progress=progress), settings):
        return None
    summary = TrainSummary.from_dict({**record["summary"], "start": SHIPPED_START})
    with tempfile.TemporaryDirectory(prefix=".model.shipped.", dir=bundle.path) as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        shutil.copyfile(shipped / WEIGHTS, work / "best.safetensors")
        (work / "training_log.jsonl").write_text(record.get("log", ""))
        publish(bundle, work, tok, ModelConfig(**record["config"]), summary.to_dict())
    return summary


def ship(bundle: ArtistBundle, settings: TrainSettings, dest: Path = SHIPPED_DEMO) -> str:
    """Record ``bundle``'s trained model as the shipped one in ``dest``, with the fingerprint of the
    data and ``settings`` it was trained on; returns the fingerprint."""
    model_dir = bundle.model_dir
    data = prepare_data(bundle, settings, load_base(settings.base).tok if settings.base else None, progress=False)
    digest = fingerprint(data, settings)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_dir / "model.safetensors", dest / WEIGHTS)
    write_json(dest / RECORD, {
        "fingerprint": digest,
        "config": json.loads((model_dir / "config.json").read_text()),
        "summary": json.loads((model_dir / "training_summary.json").read_text()),
        "log": (model_dir / "training_log.jsonl").read_text(),
    })
    return digest


def main(argv: list[str]) -> None:
    """``python -m template_engine.demo.shipped_model ROOT``: ship the demo built under ROOT."""
    from template_engine.demo.build import demo_train_settings
    from template_engine.demo.bundle_state import DEMO

    root = Path(argv[0])
    print(ship(ArtistBundle.load(bundle_path(DEMO, root)), demo_train_settings()))


if __name__ == "__main__":
    main(sys.argv[1:])
