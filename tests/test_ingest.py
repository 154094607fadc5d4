"""Ingest recovers what the demo mix did, and reports bad input per file."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from project_ingest.bundle import read_json
from project_ingest.ingest import ingest
from sample_library.errors import InputError


def _truth(projects: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(projects.glob("*/project.json"))]


def test_roles_are_all_correct(tiny_bundle, tiny_material):
    projects, _ = tiny_material
    report = read_json(tiny_bundle.path / "ingest_report.json")
    truth = {t: r for m in _truth(projects) for t, r in m["roles"].items()}
    for row in report["tracks"]:
        assert row["role"] == truth[row["track"]]


def test_relative_loudness_within_1db(tiny_bundle, tiny_material):
    projects, _ = tiny_material
    for meta in _truth(projects):
        song = read_json(tiny_bundle.path / "corpus" / f"{meta['title']}.json")
        for track, role in meta["roles"].items():
            got = song["mix"]["roles"][role]["relative_loudness_db"]
            assert abs(got - meta["measured"]["relative_loudness_db"][track]) < 1.0, track


@pytest.mark.parametrize("role, track", [("sub", "SUB")])
def test_sidechain_depth_and_release_recovered(tiny_bundle, tiny_material, role, track):
    projects, _ = tiny_material
    for meta in _truth(projects):
        song = read_json(tiny_bundle.path / "corpus" / f"{meta['title']}.json")
        got = song["mix"]["roles"][role]["sidechain"]
        want = meta["demo_mix"]["tracks"][track]["sidechain"]
        assert abs(got["depth_db"] - want["depth_db"]) < 1.5
        assert abs(got["release_beats"] - want["release_beats"]) < 0.1


def test_build_lowpass_sweep_shows_rising_brightness(tiny_bundle):
    auto = tiny_bundle.mix_profile["roles"]["chords"]["automation"]["build"]["brightness_oct"]
    values = [v for v in auto if v is not None]
    assert values[-1] - values[0] > 1.0


def test_master_loudness_within_half_lu(tiny_bundle, tiny_material):
    projects, _ = tiny_material
    want = np.median([m["measured"]["master_lufs"] for m in _truth(projects)])
    got = tiny_bundle.mix_profile["master"]["integrated_lufs"]["median"]
    assert abs(got - want) < 0.5


def test_drum_hits_are_harvested(tiny_bundle):
    from sample_library.library import SampleLibrary

    with SampleLibrary(tiny_bundle.samples_dir) as lib:
        kicks = lib.query(role="kick", origin="harvest")
        assert kicks and all(k.song for k in kicks)


def test_same_input_same_bundle_hash(tiny_material, tmp_path, tiny_bundle):
    projects, samples = tiny_material
    again = ingest(projects, artist="tiny", root=tmp_path, sample_dirs=[samples], progress=False).bundle
    assert again.content_hash() == tiny_bundle.content_hash()


def _copy_song(tiny_material, tmp_path) -> Path:
    projects, _ = tiny_material
    dest = tmp_path / "projects" / "Song"
    shutil.copytree(next(p for p in projects.iterdir() if p.is_dir()), dest)
    return dest


def test_bad_inputs_are_reported_by_file(tiny_material, tmp_path):
    song = _copy_song(tiny_material, tmp_path)
    stems = sorted((song / "stems").glob("*.wav"))
    (song / "stems" / "99_Broken.wav").write_bytes(b"not audio")
    (song / "stems" / "98_Empty.wav").write_bytes(b"")
    data, sr = sf.read(str(stems[0]), always_2d=True)
    sf.write(str(song / "stems" / "97_Short Pad.wav"), data[: len(data) // 2], sr)
    sf.write(str(stems[1]), data[: len(data) - int(0.02 * sr)], sr)
    result = ingest(song.parent, artist="bad", root=tmp_path / "artists", progress=False)
    problems = {Path(p["file"]).name: p for p in result.report["problems"]}
    assert "unreadable" in problems["99_Broken.wav"]["reason"]
    assert problems["98_Empty.wav"]["action"] == "skipped"
    assert "more than 50 ms" in problems["97_Short Pad.wav"]["reason"]
    assert problems[stems[1].name]["action"] == "padded or trimmed"


def test_no_usable_project_fails_and_keeps_previous_bundle(tiny_bundle, tmp_path):
    empty = tmp_path / "nothing"
    (empty / "Song" / "stems").mkdir(parents=True)
    root = tiny_bundle.path.parent
    before = tiny_bundle.content_hash()
    with pytest.raises(InputError, match="no usable project"):
        ingest(empty, artist="tiny", root=root, force=True, progress=False)
    from project_ingest.bundle import ArtistBundle

    assert ArtistBundle.load(tiny_bundle.path).content_hash() == before


def test_existing_artist_needs_force(tiny_material, tiny_bundle):
    projects, _ = tiny_material
    with pytest.raises(InputError, match="--update"):
        ingest(projects, artist="tiny", root=tiny_bundle.path.parent, progress=False)
