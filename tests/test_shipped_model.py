"""The shipped demo model: installed where the demo's material and settings are those it was trained
on (the same bytes as training gives), never where anything differs."""

import json
import re
import shutil
from pathlib import Path

import mido
import pytest
from safetensors.torch import load_file

from project_ingest.bundle import ArtistBundle
from template_engine.demo.build import demo_train_settings, model_origin
from template_engine.demo.shipped_model import RECORD, SHIPPED_DEMO, SHIPPED_START, WEIGHTS, install_shipped, ship
from template_engine.model.base_model import load_base
from template_engine.model.config import ModelConfig
from template_engine.model.decoder import load_decoder
from template_engine.model.pretrain import pretrain
from template_engine.model.train import TrainSettings, train
from template_engine.model.transformer import MusicTransformer
from tests.test_pretrain import small_settings


@pytest.fixture(scope="module")
def shipped(tiny_bundle, tmp_path_factory) -> tuple[Path, TrainSettings, Path]:
    """A small base, a copy of the tiny artist fine-tuned from it for two steps, and that model shipped."""
    work = tmp_path_factory.mktemp("shipped")
    base = work / "base.safetensors"
    pretrain([tiny_bundle.path / "corpus"], base, small_settings(2), progress=False)
    settings = TrainSettings(max_steps=2, base=base, batch_size=2)
    trained = _copy(tiny_bundle, work / "trained")
    train(trained, settings, progress=False)
    ship(trained, settings, work / "ship")
    return work / "ship", settings, trained.model_dir


def _copy(bundle: ArtistBundle, dest: Path) -> ArtistBundle:
    shutil.copytree(bundle.path, dest, ignore=shutil.ignore_patterns("model", ".model.work"))
    return ArtistBundle.load(dest)


def test_the_same_material_installs_the_trained_bytes(shipped, tiny_bundle, tmp_path):
    folder, settings, trained = shipped
    bundle = _copy(tiny_bundle, tmp_path / "fresh")
    summary = install_shipped(bundle, settings, shipped=folder)
    assert summary is not None and summary.extra["start"] == SHIPPED_START
    assert model_origin(summary).startswith("the shipped model")
    assert (bundle.model_dir / "model.safetensors").read_bytes() == (trained / "model.safetensors").read_bytes()
    written = json.loads((bundle.model_dir / "training_summary.json").read_text())
    assert written["valid_loss"] == json.loads((trained / "training_summary.json").read_text())["valid_loss"]
    model, tok = load_decoder(ArtistBundle.load(bundle.path))
    assert tok.vocab_size == load_base(settings.base).tok.vocab_size == model.cfg.vocab_size


def _louder_first_note(bundle: ArtistBundle) -> None:
    song = sorted((bundle.path / "corpus").glob("*.mid"))[0]
    mid = mido.MidiFile(str(song))
    for track in mid.tracks:
        for i, msg in enumerate(track):
            if msg.type == "note_on" and msg.velocity:
                track[i] = msg.copy(velocity=1 if msg.velocity > 1 else 127)
                mid.save(str(song))
                return


@pytest.mark.parametrize("change", ["one note's velocity", "one more step"])
def test_other_material_or_settings_install_nothing(shipped, tiny_bundle, tmp_path, change):
    folder, settings, _ = shipped
    bundle = _copy(tiny_bundle, tmp_path / "other")
    if change == "one more step":
        settings = TrainSettings(max_steps=3, base=settings.base, batch_size=2)
    else:
        _louder_first_note(bundle)
    assert install_shipped(bundle, settings, shipped=folder) is None
    assert not bundle.model_dir.exists()


def test_the_shipped_demo_model_is_small_speaks_the_base_vocabulary_and_beats_the_bigram():
    assert (SHIPPED_DEMO / WEIGHTS).stat().st_size <= 25 * 2**20
    record = json.loads((SHIPPED_DEMO / RECORD).read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", record["fingerprint"])
    settings = demo_train_settings()
    assert record["summary"]["steps"] == settings.max_steps
    assert record["summary"]["valid_loss"] < record["summary"]["bigram_valid_loss"]
    assert record["config"]["vocab_size"] == load_base(settings.base).tok.vocab_size
    MusicTransformer(ModelConfig(**record["config"])).load_state_dict(load_file(str(SHIPPED_DEMO / WEIGHTS)))
