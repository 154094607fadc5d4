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
        path.unlink()
        sf.write(str(path), change(data), sr, subtype="FLOAT")


def _halve_rate(path: Path) -> None:
    data, rate = sf.read(str(path), always_2d=True)
    path.unlink()
    sf.write(str(path), data[::2], rate // 2)


def _replace_stem(song: Path, index: int, content: bytes) -> None:
    path = sorted((song / "stems").glob("*.wav"))[index]
    path.unlink()
    path.write_bytes(content)


def _link_stems(source: str, dest: str) -> None:
    """Stems are hard-linked (a fault replaces the file, never writes through it), the rest copied."""
    if Path(source).parent.name == "stems":
        os.link(source, dest)
    else:
        shutil.copy2(source, dest)


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
        "Garbage MIDI": lambda s: next((s / "midi").glob("*.mid")).write_bytes(b"MThd\x00\x00\x00\x06junk"),
        "Empty stem": lambda s: _replace_stem(s, 0, b""),
        "Text stem": lambda s: _replace_stem(s, 1, b"a text file, not audio"),
        "Broken json": lambda s: (s / "project.json").write_text('{"bpm": 124,'),
        "Unknown key": lambda s: _edit_json(s, lambda m: {**m, "key": "H#m"}),
        "No MIDI": lambda s: shutil.rmtree(s / "midi"),
        "No stems": lambda s: shutil.rmtree(s / "stems"),
        "Half rate stem": lambda s: _halve_rate(sorted((s / "stems").glob("*.wav"))[2]),
        "Song!": lambda s: None,
        "Song?": lambda s: None,
        "歌一": lambda s: None,
        "歌二": lambda s: None,
    }
    shared = {path: path.stat().st_mtime_ns for path in (source / "stems").iterdir()}
    for name, fault in faults.items():
        shutil.copytree(source, root / name, copy_function=_link_stems)
        fault(root / name)
    assert {path: path.stat().st_mtime_ns for path in shared} == shared, "a fault wrote through a linked stem"
    return root


def test_a_catalogue_of_faults_keeps_every_song_and_says_what_was_wrong(bad_catalogue, tmp_path):
    result = CliRunner().invoke(main, ["--artists-dir", str(tmp_path), "--quiet", "ingest", str(bad_catalogue), "--artist", "faults"])
    assert result.exit_code == 0, result.output
    bundle = ArtistBundle.load(tmp_path / "faults")
    titles = sorted(json.loads(p.read_text())["title"] for p in (bundle.path / "corpus").glob("[!.]*.json"))
    unusable = {"Garbage MIDI", "No MIDI"}  # nothing with notes: reported, not kept
    assert titles == sorted(p.name for p in bad_catalogue.iterdir() if p.name not in unusable)  # none lost to a collision
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
    assert "not a readable MIDI file (EOFError)" in reasons("Garbage MIDI")
    assert "no track with notes could be used" in reasons("Garbage MIDI") + reasons("No MIDI")
    assert "empty file (0 bytes)" in reasons("Empty stem")
    assert "unreadable audio (Format not recognised.)" in reasons("Text stem")
    assert any(r.startswith("not valid JSON") for r in reasons("Broken json"))
    assert reasons("No stems") and all(r == "MIDI track with no stem" for r in reasons("No stems"))
    assert "sample rate 22050 Hz differs from the song's 44100 Hz" in reasons("Half rate stem")
    report = json.loads((bundle.path / "ingest_report.json").read_text())
    assert "project.json key 'H#m' not understood; detecting the key" in report["flags"]["Unknown key"]
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


def test_an_interrupted_import_keeps_what_it_added_and_resumes(tmp_path, monkeypatch):
    import sample_library.library as library_module

    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(5):
        t = np.arange(4410)
        sf.write(str(folder / f"hit {i}.wav"), 0.5 * np.sin(t / (3 + i)) * np.exp(-t / 800), 44100)
    analyse = library_module.analyse_sample
    seen = []

    def interrupted_at_the_fourth(audio, sample_rate, **kwargs):
        seen.append(kwargs["name"])
        if len(seen) == 4:
            raise KeyboardInterrupt
        return analyse(audio, sample_rate, **kwargs)

    monkeypatch.setattr(library_module, "analyse_sample", interrupted_at_the_fourth)
    with SampleLibrary(tmp_path / "library") as library, pytest.raises(KeyboardInterrupt):
        import_folders(library, [folder], progress=False)
    monkeypatch.setattr(library_module, "analyse_sample", analyse)
    with SampleLibrary(tmp_path / "library") as library:
        assert len(library) == 3
        assert [library.known_source(folder / f"hit {i}.wav") for i in range(5)] == [True] * 3 + [False] * 2
        report = import_folders(library, [folder], progress=False)
        assert (report.added, report.already_in, len(library)) == (2, 3, 5)


def test_the_demo_never_builds_over_a_users_artist_named_demo(tiny_bundle, tmp_path):
    from template_engine.demo.bundle_state import demo_needs_building

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

    from template_engine.render import audio_files

    root = tmp_path / "artists"
    shutil.copytree(trained_bundle.path, root / "tiny")
    out = tmp_path / "renders"
    out.mkdir()
    (out / "mine.txt").write_text("the user's")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audio_files, "write_wav", full)
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


# The fault table: every kind of bad input or fault on the command line, each with the exit status
# it gets (2 with one line naming the file or option, 0 where the bad part is reported and skipped),
# no traceback, and the artist, the candidates and the user's files byte-identical afterwards.

def _write_tone(path: Path, seconds: float = 3.0, level: float = 0.3) -> None:
    t = np.arange(int(seconds * 44100)) / 44100
    tone = level * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack([tone, tone], axis=1), 44100)


def _damaged_copy(world: dict, tmp: Path, damage) -> None:
    """A copy of the artist as 'hurt' in ``tmp/artists``, with ``damage(bundle_path)`` done to it."""
    shutil.copytree(world["root"] / "tiny", tmp / "artists" / "hurt")
    damage(tmp / "artists" / "hurt")


def _candidate_copy(world: dict, tmp: Path, damage) -> None:
    shutil.copytree(world["cand"], tmp / "cand")
    damage(tmp / "cand")


def _render_json(change):
    def damage(folder: Path) -> None:
        path = folder / "render.json"
        path.write_text(change(path.read_text()))
    return damage


def _config(**changed):
    """A damage that changes the model's config.json."""
    def damage(bundle: Path) -> None:
        path = bundle / "model" / "config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **changed}))
    return damage


def _catalogue_of(tmp: Path, world: dict, name: str, fault) -> None:
    shutil.copytree(world["song"], tmp / "projects" / "Good")
    shutil.copytree(world["song"], tmp / "projects" / name)
    fault(tmp / "projects" / name)


FAULTS = {
    # render options
    "render count 0": (["render", "--artist", "tiny", "--count", "0"], 2, "--count", None),
    "render count 101": (["render", "--artist", "tiny", "--count", "101"], 2, "--count", None),
    "render seed -1": (["render", "--artist", "tiny", "--seed", "-1"], 2, "--seed", None),
    "render bpm 9000": (["render", "--artist", "tiny", "--bpm", "9000"], 2, "--bpm", None),
    "render bpm nan": (["render", "--artist", "tiny", "--bpm", "nan"], 2, "--bpm", None),
    "render key H#m": (["render", "--artist", "tiny", "--key", "H#m"], 2, "--key", None),
    "render bars 0": (["render", "--artist", "tiny", "--bars", "0"], 2, "--bars", None),
    "render format ,,": (["render", "--artist", "tiny", "--format", ",,"], 2, "--format", None),
    "render format ogg": (["render", "--artist", "tiny", "--format", "ogg"], 2, "--format", None),
    "render stems bogus": (["render", "--artist", "tiny", "--stems", "bogus"], 2, "--stems", None),
    "render bit depth 8": (["render", "--artist", "tiny", "--bit-depth", "8"], 2, "--bit-depth", None),
    "render sample rate 22050": (["render", "--artist", "tiny", "--sample-rate", "22050"], 2, "--sample-rate", None),
    "render dry stems without stems": (["render", "--artist", "tiny", "--dry-stems", "--stems", "none"], 2, "--dry-stems", None),
    "artists show of a missing artist": (["artists", "show", "nobody", "--html", "page.html"], 2, "nobody", None),
    "render lufs +5": (["render", "--artist", "tiny", "--lufs", "5"], 2, "--lufs", None),
    "render temperature 9": (["render", "--artist", "tiny", "--temperature", "9"], 2, "--temperature", None),
    "render unknown artist": (["render", "--artist", "nobody"], 2, "nobody", None),
    "render artist escaping": (["render", "--artist", "../escape"], 2, "artist", None),
    "render artist 300 bytes": (["render", "--artist", "x" * 300], 2, "artist", None),
    "render over a candidate": (["render", "--artist", "tiny", "--count", "1", "--seed", "5", "--bars", "16",
                                 "--format", "wav,mp3", "--out", "{out}"], 2, "already exists", None),
    "render corrupt model": (["--artists-dir", "{tmp}/artists", "render", "--artist", "hurt", "--count", "1"], 2,
                             "model.safetensors", lambda w, t: _damaged_copy(
                                 w, t, lambda b: (b / "model" / "model.safetensors").write_bytes(b"\x00" * 64))),
    "render model of another shape": (["--artists-dir", "{tmp}/artists", "render", "--artist", "hurt", "--count", "1"], 2,
                                      "model.safetensors", lambda w, t: _damaged_copy(w, t, _config(d_model=64))),
    "render corrupt model config": (["--artists-dir", "{tmp}/artists", "render", "--artist", "hurt", "--count", "1"], 2,
                                    "config.json", lambda w, t: _damaged_copy(
                                        w, t, lambda b: (b / "model" / "config.json").write_text('{"layers": 2}'))),
    "render untrained artist": (["--artists-dir", "{tmp}/artists", "render", "--artist", "hurt"], 2, "no trained model",
                                lambda w, t: _damaged_copy(w, t, lambda b: shutil.rmtree(b / "model"))),
    "render corrupt mix profile": (["--artists-dir", "{tmp}/artists", "render", "--artist", "hurt"], 2, "mix_profile.json",
                                   lambda w, t: _damaged_copy(w, t, lambda b: (b / "mix_profile.json").write_text("{"))),
    "render corrupt artist.json": (["--artists-dir", "{tmp}/artists", "render", "--artist", "hurt"], 2, "artist.json",
                                   lambda w, t: _damaged_copy(w, t, lambda b: (b / "artist.json").write_text("[]"))),
    # regenerate
    "regenerate unknown track": (["regenerate", "{cand}", "--track", "bogus", "--bars", "1-4"], 2, "--track", None),
    "regenerate bars backwards": (["regenerate", "{cand}", "--track", "bass", "--bars", "9-4"], 2, "--bars", None),
    "regenerate bars words": (["regenerate", "{cand}", "--track", "bass", "--bars", "abc"], 2, "--bars", None),
    "regenerate not a candidate": (["regenerate", "{tmp}", "--track", "bass", "--bars", "1-4"], 2, "render.json", None),
    "regenerate truncated render.json": (["regenerate", "{tmp}/cand", "--track", "bass", "--bars", "1-4"], 2, "render.json",
                                         lambda w, t: _candidate_copy(w, t, _render_json(lambda s: s[:40]))),
    "regenerate render.json a list": (["regenerate", "{tmp}/cand", "--track", "bass", "--bars", "1-4"], 2, "render.json",
                                      lambda w, t: _candidate_copy(w, t, _render_json(lambda s: "[1]"))),
    "regenerate render.json without sections": (
        ["regenerate", "{tmp}/cand", "--track", "bass", "--bars", "1-4"], 2, "sections",
        lambda w, t: _candidate_copy(w, t, _render_json(
            lambda s: json.dumps({k: v for k, v in json.loads(s).items() if k != "sections"})))),
    "regenerate without its MIDI": (["regenerate", "{tmp}/cand", "--track", "bass", "--bars", "1-4"], 2, "MIDI",
                                    lambda w, t: _candidate_copy(w, t, lambda c: shutil.rmtree(c / "midi"))),
    # evaluate
    "evaluate nothing given": (["evaluate", "--artist", "tiny"], 2, "candidate", None),
    "evaluate an empty folder": (["evaluate", "--artist", "tiny", "{tmp}", "--json", "{tmp}/r.json"], 2, "neither", None),
    "evaluate unknown artist": (["evaluate", "--artist", "nobody", "{out}"], 2, "nobody", None),
    # samples
    "samples ls unknown role": (["samples", "ls", "--artist", "tiny", "--role", "bogus"], 2, "--role", None),
    "samples add missing folder": (["samples", "add", "--artist", "tiny", "{tmp}/nope"], 2, "nope", None),
    "samples add unknown artist": (["samples", "add", "--artist", "nobody", "{tmp}"], 2, "nobody", None),
    # train and pretrain
    "train unknown artist": (["train", "--artist", "nobody"], 2, "nobody", None),
    "train missing base": (["train", "--artist", "tiny", "--base", "{tmp}/missing.safetensors"], 2, "missing.safetensors", None),
    "train damaged base": (["train", "--artist", "tiny", "--base", "{tmp}/bad.safetensors"], 2, "bad.safetensors",
                           lambda w, t: (t / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")),
    "train zero steps": (["train", "--artist", "tiny", "--max-steps", "0"], 2, "--max-steps", None),
    "train device bogus": (["train", "--artist", "tiny", "--device", "tpu"], 2, "--device", None),
    "pretrain empty corpus": (["pretrain", "--corpus", "{tmp}", "--out", "{tmp}/b.safetensors"], 2, "{tmp}", None),
    "pretrain missing corpus": (["pretrain", "--corpus", "{tmp}/nope", "--out", "{tmp}/b.safetensors"], 2, "nope", None),
    "pretrain only bad MIDI": (["pretrain", "--corpus", "{tmp}/midi", "--out", "{tmp}/b.safetensors"], 2, "midi",
                               lambda w, t: (t / "midi").mkdir() or (t / "midi" / "a.mid").write_bytes(b"MThd junk")),
    "pretrain over a file": (["pretrain", "--corpus", "{tmp}", "--out", "{tmp}/b.safetensors"], 2, "b.safetensors",
                             lambda w, t: (t / "b.safetensors").write_text("the user's")),
    # batch manifests
    "batch missing manifest": (["batch", "{tmp}/rows.jsonl", "--out", "{tmp}/r"], 2, "rows.jsonl", None),
    "batch empty manifest": (["batch", "{tmp}/rows.jsonl", "--out", "{tmp}/r"], 2, "no rows",
                             lambda w, t: (t / "rows.jsonl").write_text("")),
    "batch broken line": (["batch", "{tmp}/rows.jsonl", "--out", "{tmp}/r"], 2, "rows.jsonl:2",
                          lambda w, t: (t / "rows.jsonl").write_text('{"artist": "tiny"}\n{"artist": \n')),
    "batch unknown artist": (["batch", "{tmp}/rows.jsonl", "--out", "{tmp}/r"], 2, "nobody",
                             lambda w, t: (t / "rows.jsonl").write_text('{"artist": "nobody"}\n')),
    "batch bad field": (["batch", "{tmp}/rows.jsonl", "--out", "{tmp}/r"], 2, "count",
                        lambda w, t: (t / "rows.jsonl").write_text('{"artist": "tiny", "count": "many"}\n')),
    "batch unknown column": (["batch", "{tmp}/rows.csv", "--out", "{tmp}/r"], 2, "tempo",
                             lambda w, t: (t / "rows.csv").write_text("artist,tempo\ntiny,120\n")),
    # master
    "master missing input": (["master", "{tmp}/none.wav", "--artist", "tiny", "-o", "{tmp}/o.wav"], 2, "none.wav", None),
    "master corrupt input": (["master", "{tmp}/bad.wav", "--artist", "tiny", "-o", "{tmp}/o.wav"], 2, "bad.wav",
                             lambda w, t: (t / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")),
    "master over a file": (["master", "{user}/mix.wav", "--artist", "tiny", "-o", "{user}/keep.wav"], 2, "--force", None),
    "master onto its input": (["master", "{user}/mix.wav", "--artist", "tiny", "-o", "{user}/mix.wav", "--force"], 2,
                              "is the input", None),
    "master to ogg": (["master", "{user}/mix.wav", "--artist", "tiny", "-o", "{tmp}/o.ogg"], 2, "o.ogg", None),
    "master too short": (["master", "{tmp}/short.wav", "--artist", "tiny", "-o", "{tmp}/o.wav"], 2, "short.wav",
                         lambda w, t: _write_tone(t / "short.wav", 0.3)),
    "master lufs +5": (["master", "{user}/mix.wav", "--artist", "tiny", "--lufs", "5", "-o", "{tmp}/o.wav"], 2, "--lufs", None),
    "master unknown artist": (["master", "{user}/mix.wav", "--artist", "nobody", "-o", "{tmp}/o.wav"], 2, "nobody", None),
    # ingest
    "ingest missing folder": (["ingest", "{tmp}/nope", "--artist", "new"], 2, "nope", None),
    "ingest folder of nothing": (["ingest", "{tmp}", "--artist", "new"], 2, "{tmp}", None),
    "ingest over an artist": (["ingest", "{projects}", "--artist", "tiny"], 2, "--force", None),
    "ingest update of nobody": (["ingest", "{projects}", "--artist", "nobody", "--update"], 2, "nobody", None),
    "ingest missing samples folder": (["--artists-dir", "{tmp}/a", "ingest", "{projects}", "--artist", "new", "--samples",
                                      "{tmp}/nosamples"], 2, "nosamples", None),
    "ingest artist escaping": (["ingest", "{projects}", "--artist", "../../x"], 2, "artist", None),
}


@pytest.fixture(scope="module")
def world(trained_bundle, rendered, tiny_material, tmp_path_factory) -> dict:
    """The artist, its candidates, the user's own files and a project to damage, in one folder."""
    from project_ingest.corpus import load_corpus

    base = tmp_path_factory.mktemp("world")
    shutil.copytree(trained_bundle.path, base / "artists" / "tiny")
    load_corpus(base / "artists" / "tiny")  # its parsed-corpus cache, written once
    out, cand = rendered
    shutil.copytree(out, base / "renders")
    _write_tone(base / "user" / "mix.wav", 4.0)
    _write_tone(base / "user" / "keep.wav", 1.0)
    projects, _ = tiny_material
    return {"root": base / "artists", "out": base / "renders", "cand": base / "renders" / cand.name,
            "user": base / "user", "projects": projects, "song": next(p for p in projects.iterdir() if p.is_dir())}


def _state(world: dict) -> dict[str, str]:
    return {**digests(world["root"]), **{f"renders/{k}": v for k, v in digests(world["out"]).items()},
            **{f"user/{k}": v for k, v in digests(world["user"]).items()}}


def digests(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_a_fault_gets_its_exit_status_one_line_and_no_damage(kind, world, tmp_path):
    args, code, named, prepare = FAULTS[kind]
    if prepare is not None:
        prepare(world, tmp_path)
    fill = {"tmp": str(tmp_path), "out": str(world["out"]), "cand": str(world["cand"]), "user": str(world["user"]),
            "projects": str(world["projects"])}
    before = _state(world)
    argv = [a.format(**fill) for a in args]
    if "--artists-dir" not in argv:
        argv = ["--artists-dir", str(world["root"]), *argv]
    result = CliRunner().invoke(main, ["--quiet", *argv])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith(("error:", "Error:"))]
    assert len(errors) == 1 and named.format(**fill) in result.output, result.output
    assert _state(world) == before
