"""The base model: pretraining on a folder of MIDI files, resuming, torchrun, and fine-tuning from it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import pytest
from click.testing import CliRunner

from project_ingest.bundle import ArtistBundle
from template_engine.cli import main
from template_engine.model.base_model import SHIPPED_BASE, load_base
from template_engine.model.config import ModelConfig
from template_engine.model.pretrain import pretrain, pretrain_settings, work_folder
from template_engine.model.train import TrainSettings, train
from tests.kill_at import run_and_kill_at_checkpoint
from tests.same_weights import assert_same_weights

REPO = Path(__file__).resolve().parents[1]
SMALL = {"n_layer": 1, "d_model": 64, "n_head": 2, "dropout": 0.0}


def _waltz(path: Path) -> None:
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4)])
    for i in range(24):
        track += [mido.Message("note_on", note=60 + i % 5, velocity=90, time=0), mido.Message("note_off", note=60 + i % 5, time=480)]
    mid.tracks.append(track)
    mid.save(str(path))


@pytest.fixture
def midi_folder(tiny_bundle, tmp_path) -> Path:
    """The tiny artist's two songs as plain MIDI, a file that is not MIDI and a waltz, in nested folders."""
    folder = tmp_path / "midi"
    (folder / "nested").mkdir(parents=True)
    for i, song in enumerate(sorted((tiny_bundle.path / "corpus").glob("*.mid"))):
        shutil.copy(song, folder / ("nested" if i else ".") / song.name)
    (folder / "broken.mid").write_bytes(b"MThd this is not a MIDI file")
    _waltz(folder / "waltz.mid")
    return folder


def small_settings(max_steps: int, seed: int = 0) -> TrainSettings:
    settings = pretrain_settings(max_steps, seed)
    settings.model, settings.batch_size = ModelConfig(**SMALL), 4
    return settings


def test_pretrain_reports_each_bad_file_and_trains_on_the_rest(midi_folder, tmp_path):
    out = tmp_path / "base.safetensors"
    result = CliRunner().invoke(main, ["--quiet", "pretrain", "--corpus", str(midi_folder), "--out", str(out), "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    assert f"skipped {midi_folder / 'broken.mid'}: not a readable MIDI file" in result.output
    assert f"skipped {midi_folder / 'waltz.mid'}: in 3/4, which does not fill 4/4 bars" in result.output
    base = load_base(out)
    assert base.summary["songs"] == 2 and base.summary["skipped_files"] == 2 and base.summary["steps"] == 2
    assert not work_folder(out).exists() and out.with_suffix(".log.jsonl").exists()
    again = CliRunner().invoke(main, ["--quiet", "pretrain", "--corpus", str(midi_folder), "--out", str(out)])
    assert again.exit_code == 2 and "pass --force" in again.output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = CliRunner().invoke(main, ["--quiet", "pretrain", "--corpus", str(empty), "--out", str(tmp_path / "x.safetensors")])
    assert nothing.exit_code == 2 and "0 usable MIDI songs" in nothing.output


def test_pretrain_resumes_after_a_kill_to_the_weights_of_an_uninterrupted_run(midi_folder, tmp_path):
    whole = tmp_path / "whole.safetensors"
    pretrain([midi_folder], whole, small_settings(40), progress=False)
    killed = tmp_path / "killed.safetensors"
    code = ("from pathlib import Path; from tests.test_pretrain import small_settings; "
            "from template_engine.model.pretrain import pretrain; "
            f"pretrain([Path({str(midi_folder)!r})], Path({str(killed)!r}), small_settings(40), progress=False)")
    assert run_and_kill_at_checkpoint(code, work_folder(killed) / "checkpoint.json") < 40 and not killed.exists()
    pretrain([midi_folder], killed, small_settings(40), progress=False)
    a, b = load_base(whole), load_base(killed)
    assert a.tok.to_json() == b.tok.to_json()
    assert_same_weights(a.weights, b.weights)


def test_two_torchrun_processes_pretrain_a_base_that_train_fine_tunes(midi_folder, tiny_bundle, tmp_path):
    out = tmp_path / "ddp.safetensors"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "template_engine.cli", "--quiet", "pretrain", "--corpus", str(midi_folder), "--out", str(out),
                          "--max-steps", "4"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    base = load_base(out)
    assert base.summary["processes"] == 2 and base.summary["steps"] == 4
    root = tmp_path / "artists"
    shutil.copytree(tiny_bundle.path, root / "tiny", ignore=shutil.ignore_patterns("model", ".model.work"))
    result = CliRunner().invoke(main, ["--artists-dir", str(root), "--quiet", "train", "--artist", "tiny", "--base", str(out),
                                       "--max-steps", "1"])
    assert result.exit_code == 0, result.output
    assert "fine-tuned, base ddp.safetensors" in result.output
    tuned = root / "tiny" / "model"
    assert json.loads((tuned / "tokenizer.json").read_text()) == json.loads(base.tok.to_json())
    from safetensors.torch import load_file

    weights = load_file(str(tuned / "model.safetensors"))
    moved = max(float((weights[k] - base.weights[k]).abs().max()) for k in base.weights)
    assert 0 < moved < 0.01  # one gentle step away from the base, not a fresh model


def test_from_scratch_keeps_the_base_vocabulary_with_fresh_weights(midi_folder, tiny_bundle, tmp_path):
    out = tmp_path / "base.safetensors"
    pretrain([midi_folder], out, small_settings(2), progress=False)
    base = load_base(out)
    shutil.copytree(tiny_bundle.path, tmp_path / "tiny", ignore=shutil.ignore_patterns("model", ".model.work"))
    summary = train(ArtistBundle.load(tmp_path / "tiny"), TrainSettings(max_steps=1, base=out, from_scratch=True), progress=False)
    assert summary.vocab_size == base.tok.vocab_size and summary.extra["start"].startswith("random weights")


def test_the_shipped_base_is_small_documented_and_licensed():
    assert SHIPPED_BASE.stat().st_size <= 25 * 2**20
    base = load_base(SHIPPED_BASE)
    assert base.summary["valid_loss"] < base.summary["bigram_valid_loss"]
    folder = SHIPPED_BASE.parent
    assert "MIT" in (folder / "LICENSE-POP909").read_text()
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"{base.summary['steps']:,} steps" in card and "POP909" in card


def test_a_damaged_base_is_named(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    with pytest.raises(Exception, match="bad.safetensors"):
        load_base(bad)
