"""The section planner fits the artist's structures to the length asked for; the kit picks the
artist's samples per role, near the part's register, the same for the same seed."""

import numpy as np
import pytest

from project_ingest.corpus import load_corpus
from sample_library.library import SampleLibrary
from sample_library.roles import DRUM_ROLES
from template_engine.model.plan import learn_plan_stats, plan_song


@pytest.fixture(scope="module")
def stats(tiny_bundle):
    return learn_plan_stats(load_corpus(tiny_bundle.path))


@pytest.mark.parametrize("bars", [8, 16, 36, 64])
def test_plan_fills_the_bars_asked_for_on_4_bar_lines(stats, bars):
    plan = plan_song(stats, np.random.default_rng(0), bars)
    assert sum(s.bars for s in plan.sections) == bars
    assert all(s.bars % 4 == 0 for s in plan.sections)
    assert [s.start_bar for s in plan.sections] == list(np.cumsum([0] + [s.bars for s in plan.sections])[:-1])


def test_plan_uses_the_artists_section_types_and_roles(stats):
    plan = plan_song(stats, np.random.default_rng(3), None)
    structures = [[kind for kind, _, _ in st] for st in stats.structures]
    assert [s.kind for s in plan.sections] in structures
    for section, roles in zip(plan.sections, plan.roles):
        always = {r for r, p in stats.presence[section.kind].items() if p >= 0.5}
        never = {r for r, p in stats.presence[section.kind].items() if p <= 0.15}
        assert always <= set(roles) and not never & set(roles)


def test_kit_is_seeded_and_pitched_roles_sit_near_their_register(tiny_bundle):
    from sample_library.kit import select_kit

    roles = ["kick", "snare", "bass", "lead"]
    with SampleLibrary(tiny_bundle.samples_dir) as library:
        a = select_kit(library, roles, seed=4, pitch_centres={"bass": 40.0, "lead": 76.0})
        b = select_kit(library, roles, seed=4, pitch_centres={"bass": 40.0, "lead": 76.0})
        pool = {r: library.query(role=r) for r in roles}
    assert a.hashes() == b.hashes() and set(a.samples) == set(roles) and not a.missing
    for role in ("bass", "lead"):
        centre = {"bass": 40.0, "lead": 76.0}[role]
        nearest = min(abs(r.root_midi - centre) for r in pool[role] if r.root_midi is not None)
        assert abs(a.samples[role][0].root_midi - centre) < nearest + 12
    assert all(a.samples[r][0].role == r for r in roles if r in DRUM_ROLES)


def test_kit_plays_a_role_without_samples_with_its_nearest_role(tiny_bundle, tmp_path):
    from sample_library.kit import select_kit

    with SampleLibrary(tiny_bundle.samples_dir) as library:
        snare = library.query(role="snare")[0]
        with SampleLibrary(tmp_path / "lib") as only_snare:
            only_snare.add_file(library.path_of(snare), origin="import", role="snare")
            kit = select_kit(only_snare, ["clap", "bass"], seed=0)
    assert [r.hash for r in kit.samples["clap"]] == [snare.hash] and kit.missing == ["bass"]
