"""A rendered candidate: stems sum to the mix, lengths agree, MIDI and DAW project are right,
the master meets its targets, the same seed gives the same bytes, nothing is overwritten."""

import hashlib
import json
import zipfile
from html import escape as html_escape
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from lxml import etree

from project_ingest.score import Key
from sample_library.errors import InputError
from sample_library.loudness import integrated_loudness, true_peak_db
from template_engine.render.batch import render_batch
from template_engine.render.settings import RenderSettings

SCHEMA = Path(__file__).resolve().parents[1] / "template_engine" / "schemas" / "Project.xsd"


def _stems(folder):
    info = json.loads((folder / "render.json").read_text())
    groups = [folder / f for f in info["files"]["stems"] if f.startswith("stems/groups/")]
    tracks = [folder / f for f in info["files"]["stems"] if f.startswith("stems/tracks/")]
    assert groups and {p.stem.rsplit("_", 1)[-1] for p in groups} <= {"Drums", "Bass", "Synths", "Vocals", "Fx"}
    assert len(groups) + len(tracks) == len(info["files"]["stems"]) == len(list((folder / "stems").rglob("*.wav")))
    return info, groups, tracks


def test_stems_same_length_24bit_and_sum_to_premaster(rendered):
    _, folder = rendered
    info, groups, tracks = _stems(folder)
    infos = [sf.info(str(p)) for p in groups + tracks]
    assert len({i.frames for i in infos}) == 1 and all(i.subtype == "PCM_24" for i in infos)
    group_sum = sum(sf.read(str(p), always_2d=True)[0] for p in groups)
    track_sum = sum(sf.read(str(p), always_2d=True)[0] for p in tracks)
    residual = np.sqrt(np.mean((group_sum - track_sum) ** 2)) / np.sqrt(np.mean(track_sum ** 2))
    assert 20 * np.log10(residual + 1e-12) < -60


def test_master_meets_loudness_and_true_peak(rendered):
    _, folder = rendered
    info = json.loads((folder / "render.json").read_text())
    audio, sr = sf.read(str(folder / info["files"]["song"][0]), always_2d=True)
    assert abs(integrated_loudness(audio.T, sr) - info["master"]["target_lufs"]) < 0.5
    assert true_peak_db(audio.T) <= -1.0 + 0.05


def test_the_masters_report_gives_the_bar_spreads_of_the_premaster_and_of_the_song(rendered):
    """The spreads are measured after the master's MP3 starts encoding; they are still those of the
    stems' sum (the pre-master mix) and of the song, over the song's bars."""
    from sample_library.loudness import level_spread_db

    _, folder = rendered
    info, groups, _ = _stems(folder)
    bar = 4 * 60.0 / info["bpm"]
    premaster = sum(sf.read(str(p), always_2d=True, dtype="float32")[0] for p in groups).T
    song, sr = sf.read(str(folder / info["files"]["song"][0]), always_2d=True, dtype="float32")
    assert abs(level_spread_db(premaster, sr, bar) - info["master"]["bar_spread_before_db"]) < 0.02
    assert abs(level_spread_db(song.T, sr, bar) - info["master"]["bar_spread_after_db"]) < 0.02


def test_gallery_card_plays_the_song_and_draws_its_waveform(rendered):
    import re

    out, folder = rendered
    page = (out / "index.html").read_text()
    info = json.loads((folder / "render.json").read_text())
    assert page.count('class="card"') == 1 and html_escape(info["title"]) in page
    sources = re.findall(r'<audio[^>]* src="([^"]+)"', page)
    from urllib.parse import quote, unquote

    assert sources == [f"{quote(folder.name)}/{quote(folder.name)}.mp3"] and (out / unquote(sources[0])).exists()
    audio, _ = sf.read(str(folder / info["files"]["song"][0]), always_2d=True)
    columns = np.array_split(np.abs(audio).max(axis=1), 600)
    points = re.search(r'<polyline points="([^"]+)"', page).group(1).split()
    assert len(points) == 2 * 600
    drawn = np.array([30 - float(p.split(",")[1]) for p in points[::2]]) / 30
    assert np.allclose(drawn, [c.max() for c in columns], atol=0.01)


def test_full_midi_has_notes_tempo_and_markers(rendered):
    _, folder = rendered
    full = next((folder / "midi").glob("*_full.mid"))
    mid = mido.MidiFile(str(full))
    assert mid.ticks_per_beat >= 480
    markers = [m.text for t in mid.tracks for m in t if m.type == "marker"]
    info = json.loads((folder / "render.json").read_text())
    assert markers == [s["type"] for s in info["sections"]]
    pm = pretty_midi.PrettyMIDI(str(full))
    assert abs(pm.get_tempo_changes()[1][0] - info["bpm"]) < 0.01
    assert sum(len(i.notes) for i in pm.instruments) == sum(info["roles"].values())


@pytest.mark.parametrize("tonic, mode, short, long", [(3, "minor", "Ebm", "Eb minor"), (10, "major", "Bb", "Bb major"),
                                                      (8, "major", "Ab", "Ab major"), (6, "minor", "F#m", "F# minor"),
                                                      (1, "minor", "C#m", "C# minor"), (1, "major", "Db", "Db major")])
def test_keys_are_named_as_producers_write_them(tonic, mode, short, long):
    key = Key(tonic, mode)
    assert (key.short, str(key)) == (short, long) and Key.parse(short) == key == Key.parse(long)


def test_folder_midi_names_and_key_signatures_carry_bpm_and_the_same_key(rendered):
    _, folder = rendered
    info = json.loads((folder / "render.json").read_text())
    short = Key.parse(info["key"]).short
    base = f"{info['bpm']:.0f}BPM_{short}"
    assert folder.name.endswith(base) and all(f.endswith(".mid") and f"_{base}_" in f for f in info["files"]["midi"])
    for name in info["files"]["midi"]:
        signatures = [m.key for t in mido.MidiFile(str(folder / name)).tracks for m in t if m.type == "key_signature"]
        assert signatures == [short]


def test_dawproject_validates_against_schema(rendered):
    _, folder = rendered
    archive = next(folder.glob("*.dawproject"))
    with zipfile.ZipFile(archive) as z:
        doc = etree.fromstring(z.read("project.xml"))
        assert "metadata.xml" in z.namelist()
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    assert schema.validate(doc), schema.error_log
    files = doc.findall(".//File")
    assert files and all(f.get("external") == "true" and (archive.parent / f.get("path")).is_file() for f in files)
    info, _, tracks = _stems(folder)
    assert {f.get("path") for f in files} == {str(t.relative_to(folder)) for t in tracks}


def test_same_seed_same_bytes_and_no_overwrite(trained_bundle, rendered, tmp_path):
    out, folder = rendered
    with pytest.raises(InputError, match="already exists"):
        render_batch(trained_bundle, out, RenderSettings(count=1, seed=5, bars=16), progress=False)
    again = render_batch(trained_bundle, tmp_path, RenderSettings(count=1, seed=5, bars=16, formats=("wav", "mp3")),
                         progress=False)[0]
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".wav", ".mid", ".mp3")):
        other = again / f.relative_to(folder)
        assert hashlib.sha256(f.read_bytes()).digest() == hashlib.sha256(other.read_bytes()).digest(), f.name


def test_a_batch_encodes_each_mp3_beside_the_next_mix_and_keeps_what_it_finished(trained_bundle, tmp_path, monkeypatch):
    from template_engine.render import candidate
    from template_engine.render.candidate import read_song

    folders = render_batch(trained_bundle, tmp_path / "two", RenderSettings(count=2, seed=5, bars=8), progress=False)
    assert [f.parent for f in folders] == [tmp_path / "two"] * 2 and not list((tmp_path / "two").glob(".*"))
    for folder in folders:
        info = json.loads((folder / "render.json").read_text())
        song, _ = read_song(folder, info)
        mp3, rate = sf.read(str(folder / f"{folder.name}.mp3"), always_2d=True)
        assert rate == info["sample_rate"] and abs(mp3.shape[0] - song.shape[1]) < 0.1 * rate
        assert abs(integrated_loudness(mp3.T, rate) - info["master"]["integrated_lufs"]) < 0.3
    calls = []

    def full_at_the_second(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return written(*args, **kwargs)

    written = candidate.write_midi_files
    monkeypatch.setattr(candidate, "write_midi_files", full_at_the_second)
    with pytest.raises(InputError, match="No space left"):
        render_batch(trained_bundle, tmp_path / "full", RenderSettings(count=2, seed=5, bars=8), progress=False)
    kept = sorted((tmp_path / "full").iterdir())
    assert [p.name for p in kept] == [folders[0].name] and (kept[0] / f"{kept[0].name}.mp3").stat().st_size > 0
    assert (kept[0] / "render.json").exists()


def test_bass_ducks_at_kicks_by_profile_depth(trained_bundle):
    from project_ingest.mix_analysis import ducking_curve
    from project_ingest.score import BeatNote, Key, Score, Section
    from sample_library.library import SampleLibrary
    from template_engine.render.mix import mix_song

    profile = trained_bundle.mix_profile
    want = profile.roles["sub"].sidechain
    score = Score(128.0, Key(0, "minor"), [Section("drop", 0, 8, 1.0)],
                  {"kick": [BeatNote(b, 0.25, 36, 120) for b in range(32)],
                   "sub": [BeatNote(4 * b, 4, 36, 110) for b in range(8)]})
    with SampleLibrary(trained_bundle.samples_dir) as lib:
        mixed = mix_song(score, lib, profile, seed=0)
    got = ducking_curve(mixed.tracks["sub"].dense().mean(axis=0), 44100, np.arange(32) * 60 / 128, 60 / 128)
    assert abs(got.depth_db - want.depth_db) < 1.0


def test_the_mix_is_the_same_on_one_thread_as_on_four(trained_bundle, monkeypatch):
    from project_ingest.corpus import load_corpus
    from sample_library.library import SampleLibrary
    from template_engine.render.mix import mix_song
    from template_engine.threads import THREADS_ENV

    _, score = load_corpus(trained_bundle.path)[0]
    mixes = []
    for threads in ("1", "4"):
        monkeypatch.setenv(THREADS_ENV, threads)
        with SampleLibrary(trained_bundle.samples_dir) as lib:
            mixes.append(mix_song(score, lib, trained_bundle.mix_profile, seed=0))
    one, four = mixes
    assert "reverb_return" in one.tracks and list(one.tracks) == list(four.tracks)
    assert np.array_equal(one.premaster, four.premaster)
    for name in one.tracks:
        assert np.array_equal(one.tracks[name].dense(), four.tracks[name].dense()), name
    for name in one.groups:
        assert np.array_equal(one.groups[name].dense(), four.groups[name].dense()), name


def test_regenerate_rewrites_one_track_in_the_bar_range_only(trained_bundle, rendered):
    from template_engine.render.candidate import load_candidate
    from template_engine.render.regenerate import regenerate

    _, folder = rendered
    before = {p: hashlib.sha256(p.read_bytes()).digest() for p in folder.rglob("*") if p.is_file()}
    info, old = load_candidate(folder)
    role = next(r for r in ("bass", "lead", "chords", "arp", "sub") if r in old.tracks)
    new_folder = regenerate(trained_bundle, folder, role, "5-12", seed=3)
    _, new = load_candidate(new_folder)
    inside = lambda n: 16 <= n.start < 48  # noqa: E731 - bars 5-12 in beats
    for r in old.tracks:
        if r != role:
            assert new.tracks[r] == old.tracks[r], r
    assert [n for n in new.tracks[role] if not inside(n)] == [n for n in old.tracks[role] if not inside(n)]
    assert [n for n in new.tracks[role] if inside(n)] != [n for n in old.tracks[role] if inside(n)]
    assert all(n.start + n.duration <= 48 + 1e-6 for n in new.tracks[role] if inside(n))
    meta = json.loads((new_folder / "render.json").read_text())
    assert meta["regenerated"] == {"from": folder.name, "track": role, "bars": [5, 12], "seed": 3}
    assert meta["samples"] == info["samples"]
    from urllib.parse import quote

    page = (folder.parent / "index.html").read_text()  # the gallery adds the new candidate next to the original
    assert f'src="{quote(folder.name)}/' in page and f'src="{quote(new_folder.name)}/' in page
    assert before == {p: hashlib.sha256(p.read_bytes()).digest() for p in folder.rglob("*") if p.is_file()}


def test_regenerate_rejects_a_bad_bar_range(trained_bundle, rendered):
    from click.testing import CliRunner

    from template_engine.cli import main

    _, folder = rendered
    root = trained_bundle.path.parent
    result = CliRunner().invoke(main, ["--artists-dir", str(root), "regenerate", str(folder), "--track", "bass",
                                       "--bars", "40-9000"])
    assert result.exit_code == 2 and "--bars" in result.output


def test_evaluate_reports_a_rendered_batch(trained_bundle, rendered):
    from click.testing import CliRunner

    from template_engine.cli import main

    out, folder = rendered
    report_path = out / "report.json"
    result = CliRunner().invoke(main, ["--artists-dir", str(trained_bundle.path.parent), "evaluate", "--artist",
                                       trained_bundle.name, str(out), "--json", str(report_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    (candidate,) = [c for c in report["candidates"] if c["folder"] == str(folder)]
    assert candidate["audio"]["stems_same_length"] and candidate["audio"]["stems_vs_mix_residual_db"] < -60
    assert candidate["audio"]["true_peak_dbtp"] <= -1.0 + 0.05
    assert 0 <= candidate["novelty"]["copied_share"] <= 1 and set(report["style_fit"]) >= {"pitch_class_histogram", "ioi"}
    assert candidate["structure"]["found"] and "style" in result.output
    macro = report["macro_drop_minus_db"]
    assert macro and all(v["artist"] is not None for v in macro.values()) and "macro-dynamics" in result.output
    kinds = {s["type"] for s in json.loads((folder / "render.json").read_text())["sections"]}
    assert "drop" not in kinds or set(candidate["macro_drop_minus_db"]) == kinds - {"drop"}


def test_mix_fidelity_recovers_the_learned_chains(trained_bundle):
    from template_engine.evaluate.mix_fidelity import mix_fidelity

    report = mix_fidelity(trained_bundle)
    assert report["mean"]["roles_compared"] >= 5
    assert report["mean"]["abs_loudness_error_db"] < 3.0
    subs = [roles["sub"] for roles in report["songs"].values() if "sub" in roles]
    assert subs and all(r["ducking_curve_correlation"] > 0.8 and abs(r["ducking_depth_error_db"]) < 2 for r in subs)


def test_stem_format_bit_depth_and_loudness_options(trained_bundle, tmp_path):
    flac = render_batch(trained_bundle, tmp_path / "flac", RenderSettings(count=1, seed=5, bars=8, formats=("wav",), stems="flac",
                                                                           bit_depth="32f", lufs=-12.0), progress=False)[0]
    info = json.loads((flac / "render.json").read_text())
    assert info["files"]["stems"] and all(f.endswith(".flac") for f in info["files"]["stems"])
    assert sf.info(str(flac / info["files"]["song"][0])).subtype == "FLOAT"
    song, sr = sf.read(str(flac / info["files"]["song"][0]), always_2d=True)
    assert abs(integrated_loudness(song.T, sr) - -12.0) < 0.5
    bare = render_batch(trained_bundle, tmp_path / "bare", RenderSettings(count=1, seed=5, bars=8, formats=("wav",), stems="none"),
                        progress=False)[0]
    assert json.loads((bare / "render.json").read_text())["files"]["stems"] == [] and not (bare / "stems").exists()
    with pytest.raises(InputError, match="--lufs"):
        RenderSettings(lufs=-1.0).check()


def test_reaper_project_has_tempo_markers_stems_and_every_note(rendered):
    _, folder = rendered
    info = json.loads((folder / "render.json").read_text())
    rpp = folder / next(f for f in info["files"]["dawproject"] if f.endswith(".rpp"))
    lines = [line.strip() for line in rpp.read_text().splitlines()]
    assert sum(line.startswith("<") for line in lines) == sum(line == ">" for line in lines)
    assert f"TEMPO {info['bpm']:g} 4 4" in lines
    assert [line.split('"')[1] for line in lines if line.startswith("MARKER")] == [s["type"] for s in info["sections"]]
    files = [line.split('"')[1] for line in lines if line.startswith("FILE")]
    assert files and all((folder / f).is_file() for f in files) and all(f.startswith("stems/tracks/") for f in files)
    note_ons, tick = [], 0
    for line in lines:
        if line.startswith("HASDATA"):
            tick = 0
        elif line.startswith("E "):
            _, delta, status, pitch, velocity = line.split()
            tick += int(delta)
            if status == "90":
                note_ons.append((tick, int(pitch, 16)))
    full = next(folder / f for f in info["files"]["midi"] if f.endswith("_full.mid"))
    mid = mido.MidiFile(str(full))
    want = []
    for track in mid.tracks:
        now = 0
        for m in track:
            now += m.time
            if m.type == "note_on" and m.velocity:
                want.append((now * 960 // mid.ticks_per_beat, m.note))
    assert sorted(note_ons) == sorted(want)


def _envelope_gain(points, frames, sample_rate, bpm):
    """Linear gain (frames,) of a (beats, dB) envelope, linear in dB between points."""
    beats = np.arange(frames) / sample_rate * bpm / 60
    return 10 ** (np.interp(beats, [b for b, _ in points], [v for _, v in points]) / 20)


def test_dry_stems_come_with_projects_that_rebuild_the_chain(trained_bundle, tmp_path):
    """--dry-stems: every track also before its chain, and a .dawproject/.rpp pair whose faders, EQ,
    compressor and volume envelopes are the chain's; a dry sub with the fader and envelope applied
    is the wet sub (it has no EQ, compression or sweep in this test's profile)."""
    from dataclasses import replace

    from template_engine.render.candidate import load_candidate

    profile = trained_bundle.mix_profile
    settings = RenderSettings(count=1, seed=5, bars=8, formats=("wav",), dry_stems=True, sample_rate=48000)
    folder = render_batch(trained_bundle, tmp_path, settings, progress=False)[0]
    info, score = load_candidate(folder)
    assert info["sample_rate"] == 48000
    dry = sorted(f for f in info["files"]["stems"] if f.startswith("stems/dry/"))
    wet = sorted(f for f in info["files"]["stems"] if f.startswith("stems/tracks/"))
    assert len(dry) == len(score.tracks) and all(sf.info(str(folder / f)).samplerate == 48000 for f in dry + wet)
    name = next(f for f in info["files"]["dawproject"] if f.endswith("_dry.dawproject"))
    with zipfile.ZipFile(folder / name) as z:
        doc = etree.fromstring(z.read("project.xml"))
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    assert schema.validate(doc), schema.error_log
    paths = {f.get("path") for f in doc.findall(".//File")}
    assert set(dry) <= paths and paths - set(dry) == {f for f in wet if f.endswith("Fx-ReverbReturn.wav")}
    assert doc.findall(".//Equalizer/Band") and doc.findall(".//Points/RealPoint")
    rpp = (folder / name.replace(".dawproject", ".rpp")).read_text()
    assert rpp.count("<VOLENV2") == len(doc.findall(".//Points"))

    from project_ingest.score import BeatNote, Score, Section
    from sample_library.library import SampleLibrary
    from template_engine.render.mix import mix_song

    sub = {"sub": replace(profile.roles["sub"], eq_db=None, crest_db=None, width=None, automation={})}
    plain = replace(profile, roles={**profile.roles, **sub})
    score = Score(128.0, Key(0, "minor"), [Section("drop", 0, 8, 1.0)],
                  {"kick": [BeatNote(b, 0.25, 36, 120) for b in range(32)],
                   "sub": [BeatNote(4 * b, 4, 36, 110) for b in range(8)]})
    with SampleLibrary(trained_bundle.samples_dir) as lib:
        mixed = mix_song(score, lib, plain, seed=0, keep_dry=True)
    chain = mixed.chains["sub"]
    assert chain.envelope and not chain.eq_bands and chain.compressor is None
    wet_sub, dry_sub = mixed.tracks["sub"].dense(), mixed.dry["sub"].dense()
    rebuilt = dry_sub * _envelope_gain(chain.envelope, dry_sub.shape[1], 44100, score.bpm)
    error = np.sqrt(np.mean((rebuilt - wet_sub) ** 2)) / np.sqrt(np.mean(wet_sub ** 2))
    assert 20 * np.log10(error) < -20
