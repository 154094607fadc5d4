"""The demo material is valid input with a known mix, and its kit is in tune."""

import json

import mido
import numpy as np
import pytest
import soundfile as sf

from project_ingest.discovery import pairing_key
from sample_library.pitch import estimate_f0, midi_to_hz
from template_engine.demo.synth_kit import SR, demo_kit


def test_tiny_projects_are_valid_input(tiny_material):
    projects, _ = tiny_material
    songs = sorted(p for p in projects.iterdir() if p.is_dir())
    assert len(songs) == 2
    for song in songs:
        stems = sorted((song / "stems").glob("*.wav"))
        lengths = {sf.info(str(s)).frames for s in stems}
        assert len(lengths) == 1, "every stem has the same length"
        mid = mido.MidiFile(str(next((song / "midi").glob("*.mid"))))
        names = {pairing_key(t.name) for t in mid.tracks[1:]}
        assert {pairing_key(s.stem) for s in stems} == names
        meta = json.loads((song / "project.json").read_text())
        assert set(meta["demo_mix"]["tracks"]) == {n for n in meta["roles"]}
        assert "sidechain" in meta["demo_mix"]["tracks"]["SUB"]
        assert meta["bpm"] >= 122 and meta["bpm"] <= 132


@pytest.mark.parametrize("shot", [s for s in demo_kit() if s.root_midi is not None], ids=lambda s: s.name)
def test_pitched_kit_is_at_its_named_pitch(shot):
    mono = shot.audio.mean(axis=0)
    f0, _ = estimate_f0(mono[int(0.05 * SR):int(0.5 * SR)], SR, fmin=25)
    assert f0 is not None
    assert abs(1200 * np.log2(f0 / midi_to_hz(shot.root_midi))) < 5


def test_two_processes_print_the_same_demo_projects(tiny_material, tmp_path):
    import hashlib

    from template_engine.demo.projects import TINY, build_demo_material

    def digests(folder):
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
                if p.is_file()}

    projects, _ = tiny_material
    again, _ = build_demo_material(tmp_path, sizes=TINY, progress=False, workers=2)
    assert digests(again) == digests(projects)
