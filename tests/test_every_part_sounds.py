"""Every part sounds, in the artist's own sound: ingest harvests pitched notes from the stems, and a
role without any sample is played by a neighbour's samples or the built-in instrument, and says so."""

import json

import numpy as np
import pytest

from project_ingest.bundle import read_json
from project_ingest.score import BeatNote, Key, Score, Section
from sample_library.library import SampleLibrary
from sample_library.loudness import integrated_loudness
from sample_library.roles import PITCHED_ROLES


def test_ingest_harvests_every_pitched_role_with_stems_and_reports_it(tiny_bundle):
    report = read_json(tiny_bundle.path / "ingest_report.json")["pitched_harvest"]
    corpus_roles = set(read_json(tiny_bundle.path / "artist.json")["roles"]) & set(PITCHED_ROLES)
    assert corpus_roles and set(report) == corpus_roles
    with SampleLibrary(tiny_bundle.samples_dir) as lib:
        for role in corpus_roles:
            sliced = [r for r in lib.query(role=role, origin="harvest") if r.chord_size]
            assert report[role]["kept"] >= 1 and sliced, role
            singles = [r for r in sliced if r.chord_size == 1]
            assert all(abs(r.root_midi - r.note) * 100 < 10 and r.sustain_end > 0 for r in singles)
            assert len(sliced) - len(singles) <= report[role]["chords"]


@pytest.fixture(scope="module")
def drums_only(tiny_bundle, tmp_path_factory):
    """A copy of the tiny artist's library holding its kick and pluck samples only."""
    folder = tmp_path_factory.mktemp("drums-only")
    with SampleLibrary(tiny_bundle.samples_dir) as full, SampleLibrary(folder) as lib:
        for role in ("kick", "pluck"):
            for r in full.query(role=role):
                lib.add_file(full.path_of(r), origin="import", role=role)
    return folder


def test_roles_without_samples_sound_through_a_neighbour_or_the_builtin_and_say_so(tiny_bundle, drums_only):
    from template_engine.render.mix import mix_song

    score = Score(124.0, Key(9, "minor"), [Section("drop", 0, 4, 1.0)],
                  {"kick": [BeatNote(b, 0.25, 36, 120) for b in range(16)],
                   "lead": [BeatNote(2 * b, 1.5, 69 + b % 3, 100) for b in range(8)],
                   "sub": [BeatNote(4 * b, 4, 33, 110) for b in range(4)]})
    with SampleLibrary(drums_only) as lib:
        mixed = mix_song(score, lib, tiny_bundle.mix_profile, seed=0)
    assert mixed.played_by == {"kick": "kick", "lead": "pluck", "sub": "built-in"}
    profile = tiny_bundle.mix_profile
    for role in ("lead", "sub"):
        level = integrated_loudness(mixed.tracks[role].dense(), 44100) - integrated_loudness(mixed.premaster, 44100)
        want = profile.role(role).relative_loudness_db
        assert np.isfinite(level) and (want is None or abs(level - want) < 15), role


def test_render_json_and_the_console_name_what_plays_each_role(rendered):
    _, folder = rendered
    info = json.loads((folder / "render.json").read_text())
    assert set(info["played_by"]) == set(info["roles"])
