"""Bad input and collisions: every bad song reported with its reason, good songs kept, nothing replaced."""

import json
import os
import shutil
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from project_ingest.bundle import ArtistBundle
from sample_library.errors import InputError
from sample_library.importer import import_folders
from sample_library.library import SampleLibrary
from template_engine.cli import main


def _set_tempo(song: Path, tempo_us: int) -> None:
    path = next((song / "midi").glob("*.mid"))
    mid = mido.MidiFile(str(path))
    for track in mid.tracks:
        for i, msg in enumerate(track):
            if msg.type == "set_tempo":
                track[i] = msg.copy(tempo=tempo_us)
    mid.save(str(path))


def _edit_json(song: Path, change) -> None:
    path = song / "project.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def _damage_stems(song: Path, change) -> None:
    for path in sorted((song / "stems").glob("*.wav")):
        data, sr = sf.read(str(path), always_2d=True)
        sf.write(str(path), change(data), sr, subtype="FLOAT")


@pytest.fixture(scope="module")
def bad_catalogue(tiny_material, tmp_path_factory) -> Path:
    """One good song, and one song per fault, each a copy of the good one with one thing broken."""
    projects, _ = tiny_material
    source = next(p for p in projects.iterdir() if p.is_dir())
    root = tmp_path_factory.mktemp("catalogue")
    faults = {
        "Good": lambda s: None,
        "Slow MIDI tempo": lambda s: _set_tempo(s, 0xFFFFFF),
        "Fast MIDI tempo": lambda s: _set_tempo(s, 1),
        "Json array": lambda s: (s / "project.json").write_text("[1, 2]"),
        "Json wrong types": lambda s: _edit_json(s, lambda m: {**m, "bpm": "fast", "roles": ["kick"], "key": 5}),
        "NaN stem": lambda s: _damage_stems(s, lambda d: np.where(np.arange(len(d))[:, None] == 100, np.nan, d)),
        "Truncated stems": lambda s: _damage_stems(s, lambda d: d[:4]),
        "Short mix": lambda s: sf.write(str(s / "mix.wav"), np.zeros((44100, 2)), 44100),
        "Late stems": lambda s: _damage_stems(s, lambda d: np.concatenate([np.zeros((57330, d.shape[1])), d[:-57330]])),
        "Early stems": lambda s: _damage_stems(s, lambda d: np.concatenate([d[35280:], np.zeros((35280, d.shape[1]))])),
        "Song!": lambda s: None,
        "Song?": lambda s: None,
        "歌一": lambda s: None,
        "歌二": lambda s: None,
    }
    for name, fault in faults.items():
        shutil.copytree(source, root / name)
        fault(root / name)
    return root


def test_a_catalogue_of_faults_keeps_every_song_and_says_what_was_wrong(bad_catalogue, tmp_path):
    result = CliRunner().invoke(main, ["--artists-dir", str(tmp_path), "--quiet", "ingest", str(bad_catalogue), "--artist", "faults"])
    assert result.exit_code == 0, result.output
    bundle = ArtistBundle.load(tmp_path / "faults")
    titles = sorted(json.loads(p.read_text())["title"] for p in (bundle.path / "corpus").glob("[!.]*.json"))
    assert titles == sorted(p.name for p in bad_catalogue.iterdir())  # no title lost to another's file name
    problems = json.loads((bundle.path / "ingest_report.json").read_text())["problems"]

    def reasons(song: str) -> list[str]:
        return [p["reason"] for p in problems if f"/{song}/" in p["file"] + "/"]

    assert any("tempo 3.576 BPM is outside 40-250 BPM" in r for r in reasons("Slow MIDI tempo"))
    assert any("tempo 6e+07 BPM is outside 40-250 BPM" in r for r in reasons("Fast MIDI tempo"))
    assert "is a JSON list, not an object" in reasons("Json array")
    assert {"'bpm' is \"fast\", not a number", "'roles' is [\"kick\"], not a JSON object",
            "'key' is 5, not a string"} <= set(reasons("Json wrong types"))
    assert reasons("NaN stem").count("audio holds NaN or infinite samples") == 14
    assert any(r.startswith("the stems are 0.000 s long but the MIDI plays for") for r in reasons("Truncated stems"))
    assert any(r.startswith("is 1.00 s long but the stems 33.") for r in reasons("Short mix"))
    assert reasons("Late stems")[0].startswith("the stems play their MIDI 1.30 s late")
    assert reasons("Early stems")[0].startswith("the stems play their MIDI 0.80 s early")
    assert not reasons("Good") and not any("stems play their MIDI" in r for r in reasons("Song!"))
    tempos = [p["bpm"] for p in json.loads((bundle.path / "artist.json").read_text())["projects"]]
    assert all(40 <= bpm <= 250 for bpm in tempos)


def test_silent_short_and_nan_one_shots_are_refused_by_name(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    sf.write(str(folder / "silent.wav"), np.zeros(4410), 44100)
    sf.write(str(folder / "one sample.wav"), np.array([0.5]), 44100)
    sf.write(str(folder / "nan.wav"), np.where(np.arange(4410) == 7, np.nan, 0.5 * np.sin(np.arange(4410) / 5)), 44100,
             subtype="FLOAT")
    sf.write(str(folder / "good.wav"), 0.5 * np.sin(np.arange(4410) / 5) * np.exp(-np.arange(4410) / 800), 44100)
    with SampleLibrary(tmp_path / "library") as library:
        report = import_folders(library, [folder], progress=False)
    problems = dict(report.problems)
    assert problems[str(folder / "silent.wav")] == "silent (peak below -80 dBFS)"
    assert "too short for a one-shot" in problems[str(folder / "one sample.wav")]
    assert problems[str(folder / "nan.wav")] == "audio holds NaN or infinite samples"
    assert report.added == 1


def test_the_demo_never_builds_over_a_users_artist_named_demo(tiny_bundle, tmp_path):
    from template_engine.demo.build import demo_needs_building

    shutil.copytree(tiny_bundle.path, tmp_path / "demo", ignore=shutil.ignore_patterns("model", ".model.work"))
    before = ArtistBundle.load(tmp_path / "demo").content_hash()
    assert not demo_needs_building(tmp_path)
    result = CliRunner().invoke(main, ["--artists-dir", str(tmp_path), "render", "--artist", "demo", "--count", "1",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "no trained model" in result.output
    assert ArtistBundle.load(tmp_path / "demo").content_hash() == before


def test_a_candidate_that_appeared_meanwhile_is_not_replaced(tmp_path):
    from template_engine.render.candidate import claim_folder

    folder, staging = tmp_path / "Song_120BPM_Am", tmp_path / ".Song.partial"
    folder.mkdir()
    (folder / "render.json").write_text("theirs")
    staging.mkdir()
    (staging / "render.json").write_text("mine")
    with pytest.raises(InputError, match="another render"):
        claim_folder(staging, folder, force=False)
    assert (folder / "render.json").read_text() == "theirs" and not staging.exists()


def test_written_files_follow_the_umask(rendered):
    _, folder = rendered
    mask = os.umask(0o022)
    os.umask(mask)
    for path in [folder / "render.json", *sorted((folder / "midi").glob("*.mid"))[:2]]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path
    assert folder.stat().st_mode & 0o777 == 0o777 & ~mask


def test_a_long_artist_name_and_a_broken_bundle_are_named(tmp_path):
    long = CliRunner().invoke(main, ["--artists-dir", str(tmp_path), "ingest", str(tmp_path), "--artist", "a" * 300])
    assert long.exit_code == 2 and "300 bytes long; at most 100" in long.output
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "artist.json").write_text("{")
    listed = CliRunner().invoke(main, ["--artists-dir", str(tmp_path), "artists"])
    assert listed.exit_code == 0 and f"not an artist: {tmp_path / 'broken'}" in listed.output


def test_evaluate_skips_a_damaged_candidate_and_reports_the_rest(trained_bundle, rendered, tmp_path):
    _, folder = rendered
    batch = tmp_path / "batch"
    shutil.copytree(folder, batch / folder.name)
    shutil.copytree(folder, batch / "Damaged")
    (batch / "Damaged" / "render.json").write_text('{"title": ')
    result = CliRunner().invoke(main, ["--artists-dir", str(trained_bundle.path.parent), "evaluate", "--artist",
                                       trained_bundle.name, str(batch), "--json", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert f"skipped {batch / 'Damaged' / 'render.json'}: is not valid JSON" in result.output
    assert len(json.loads((tmp_path / "report.json").read_text())["candidates"]) == 1


def test_a_full_disk_or_an_unwritable_out_is_named_and_leaves_nothing(trained_bundle, tmp_path, monkeypatch):
    import errno

    from template_engine.render import candidate

    root = tmp_path / "artists"
    shutil.copytree(trained_bundle.path, root / "tiny")
    out = tmp_path / "renders"
    out.mkdir()
    (out / "mine.txt").write_text("the user's")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(candidate, "write_wav", full)
    args = ["--artists-dir", str(root), "--quiet", "render", "--artist", "tiny", "--count", "1", "--bars", "4",
            "--format", "wav", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"{out}: cannot be written (No space left on device)" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
    monkeypatch.undo()
    (tmp_path / "a-file").write_text("not a folder")
    result = CliRunner().invoke(main, args[:-1] + [str(tmp_path / "a-file" / "renders")])
    assert result.exit_code == 2 and "cannot be written" in result.output and "a-file" in result.output
