"""Ingest recovers what the demo mix did, and reports bad input per file."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from project_ingest.bundle import read_json
from project_ingest.ingest import ingest
from sample_library.audio_io import read_audio
from sample_library.errors import InputError
from sample_library.loudness import integrated_loudness


def _truth(projects: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(projects.glob("*/project.json"))]


def test_roles_are_all_correct(tiny_bundle, tiny_material):
    projects, _ = tiny_material
    report = read_json(tiny_bundle.path / "ingest_report.json")
    truth = {t: r for m in _truth(projects) for t, r in m["roles"].items()}
    for row in report["tracks"]:
        assert row["role"] == truth[row["track"]]


def _stems_relative_loudness(project: Path) -> dict[str, float]:
    """Each printed stem's loudness relative to the stems' sum (LU), by track name."""
    stems = {p.stem.split("_", 1)[1]: read_audio(p) for p in sorted((project / "stems").glob("*.wav"))}
    rate = next(iter(stems.values()))[1]
    total = integrated_loudness(sum(audio for audio, _ in stems.values()), rate)
    return {name: integrated_loudness(audio, rate) - total for name, (audio, _) in stems.items()}


def test_relative_loudness_within_1db(tiny_bundle, tiny_material):
    projects, _ = tiny_material
    for meta in _truth(projects):
        song = read_json(tiny_bundle.path / "corpus" / f"{meta['title']}.json")
        want = _stems_relative_loudness(projects / meta["title"])
        assert set(want) == set(meta["roles"])
        for track, role in meta["roles"].items():
            got = song["mix"]["roles"][role]["relative_loudness_db"]
            assert abs(got - want[track]) < 1.0, track


@pytest.mark.parametrize("role, track", [("sub", "SUB"), ("pad", "Pad"), ("chords", "Chord Stabs")])
def test_sidechain_depth_and_release_recovered(tiny_bundle, tiny_material, role, track):
    projects, _ = tiny_material
    for meta in _truth(projects):
        song = read_json(tiny_bundle.path / "corpus" / f"{meta['title']}.json")
        got = song["mix"]["roles"][role]["sidechain"]
        want = meta["demo_mix"]["tracks"][track]["sidechain"]
        assert abs(got["depth_db"] - want["depth_db"]) < 1.5
        assert abs(got["release_beats"] - want["release_beats"]) < 0.1


def test_build_lowpass_sweep_shows_rising_brightness(tiny_bundle):
    auto = read_json(tiny_bundle.path / "mix_profile.json")["roles"]["chords"]["automation"]["build"]["brightness_oct"]
    values = [v for v in auto if v is not None]
    assert values[-1] - values[0] > 1.0


def test_master_loudness_within_half_lu(tiny_bundle, tiny_material):
    projects, _ = tiny_material
    want = np.median([m["measured"]["master_lufs"] for m in _truth(projects)])
    got = read_json(tiny_bundle.path / "mix_profile.json")["master"]["integrated_lufs"]["median"]
    assert abs(got - want) < 0.5


def test_master_habits_are_measured_from_the_mix_files(tiny_bundle, tiny_material):
    """The demo's mix.wav files are its masters: their drop-over-section levels and the narrowing of
    the stems' bar spread are learned from them, song by song."""
    projects, _ = tiny_material
    master = read_json(tiny_bundle.path / "mix_profile.json")["master"]
    songs = _truth(projects)
    assert master["spread_narrowing_db"]["n"] == len(songs)
    assert -1.0 < master["spread_narrowing_db"]["median"] < 3.0
    kinds = {s["type"] for song in songs for s in song["sections"]} - {"drop"}
    assert set(master["drop_minus_db"]) == kinds
    assert all(master["drop_minus_db"][k]["median"] > 0 for k in kinds & {"intro", "breakdown"})


def test_drum_hits_are_harvested(tiny_bundle):
    from sample_library.library import SampleLibrary

    with SampleLibrary(tiny_bundle.samples_dir) as lib:
        kicks = lib.query(role="kick", origin="harvest")
        assert kicks and all(k.song for k in kicks)


def test_same_input_same_bundle_hash_with_one_process_or_two(tiny_material, tmp_path, tiny_bundle):
    projects, samples = tiny_material
    again = ingest(projects, artist="tiny", root=tmp_path, sample_dirs=[samples], progress=False, workers=2).bundle
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


def test_more_bad_inputs_are_reported_by_file(tiny_material, tmp_path):
    import mido
    from scipy.signal import resample_poly

    song = _copy_song(tiny_material, tmp_path)
    stems = sorted((song / "stems").glob("*.wav"))
    data, sr = sf.read(str(stems[2]), always_2d=True)
    sf.write(str(stems[2]), resample_poly(data, 160, 147, axis=0), 48000)
    shutil.copy(stems[3], song / "stems" / "50_Extra Noise.wav")
    stems[4].unlink()
    mid_path = next((song / "midi").glob("*.mid"))
    mid = mido.MidiFile(str(mid_path))
    for track in mid.tracks:
        for i, msg in enumerate(track):
            if msg.type == "time_signature":
                track[i] = msg.copy(numerator=3)
    mid.save(str(mid_path))
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="Nothing")]))
    empty.save(str(song / "midi" / "zz_empty.mid"))
    result = ingest(song.parent, artist="odd", root=tmp_path / "artists", progress=False)
    problems = {Path(p["file"]).name: p for p in result.report["problems"]}
    assert "48000 Hz" in problems[stems[2].name]["reason"] and "resampled" in problems[stems[2].name]["action"]
    assert problems["50_Extra Noise.wav"]["action"] == "used for mix analysis only"
    assert problems["zz_empty.mid"]["reason"] == "MIDI file has no notes"
    assert any(p["reason"] == "MIDI track with no stem" and p["action"] == "used for writing only"
               for p in result.report["problems"])
    meta = json.loads(next((result.bundle.path / "corpus").glob("[!.]*.json")).read_text())
    assert any("3/4 is not 4/4" in flag for flag in meta["flags"])


def test_update_adds_projects_to_the_artist(tiny_material, tmp_path):
    projects, samples = tiny_material
    first, second = sorted(p for p in projects.iterdir() if p.is_dir())
    for name, song in (("one", first), ("two", second)):
        shutil.copytree(song, tmp_path / name / song.name)
    root = tmp_path / "artists"
    before = ingest(tmp_path / "one", artist="grow", root=root, sample_dirs=[samples], progress=False).bundle
    samples_before = sum(before.artist["samples"].values())
    after = ingest(tmp_path / "two", artist="grow", root=root, update=True, progress=False).bundle
    assert sorted(p["title"] for p in after.artist["projects"]) == sorted([first.name, second.name])
    assert len(after.corpus_songs()) == 2
    assert sum(after.artist["samples"].values()) > samples_before
    assert read_json(after.path / "mix_profile.json")["roles"]["kick"]["relative_loudness_db"]["n"] == 2


def test_ingest_killed_midway_leaves_the_previous_bundle_whole(tiny_material, tiny_bundle, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from project_ingest.bundle import ArtistBundle

    projects, samples = tiny_material
    root = tmp_path / "artists"
    shutil.copytree(tiny_bundle.path, root / "tiny")
    before = ArtistBundle.load(root / "tiny").content_hash()
    code = ("from pathlib import Path; from project_ingest.ingest import ingest; "
            f"ingest(Path({str(projects)!r}), artist='tiny', root=Path({str(root)!r}), "
            f"sample_dirs=[Path({str(samples)!r})], force=True, progress=False)")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 120
    while not list(root.glob(".tiny.staging-*")) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert child.poll() is None, "ingest ended before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert ArtistBundle.load(root / "tiny").content_hash() == before
    again = ingest(projects, artist="tiny", root=root, sample_dirs=[samples], force=True, progress=False).bundle
    assert again.content_hash() == before
    assert not list(root.glob(".tiny.staging-*"))


def test_the_parsed_corpus_is_kept_and_follows_its_files(tiny_bundle, tmp_path):
    """A render reads the corpus from its parsed copy, which is the MIDI's songs exactly, and is
    parsed again when a file changes; a bundle where it cannot be written still loads."""
    from project_ingest.corpus import SCORES_CACHE, load_corpus

    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle.path, bundle)
    (bundle / "corpus" / SCORES_CACHE).unlink(missing_ok=True)
    parsed = load_corpus(bundle)
    assert (bundle / "corpus" / SCORES_CACHE).is_file() and load_corpus(bundle) == parsed
    first, second = sorted((bundle / "corpus").glob("[!.]*.mid"))[:2]
    shutil.copy(second, first)
    changed = load_corpus(bundle)
    assert changed[0][1].tracks == parsed[1][1].tracks and changed[0][0] == parsed[0][0]
    (bundle / "corpus" / SCORES_CACHE).unlink()
    (bundle / "corpus" / SCORES_CACHE / "in-the-way").mkdir(parents=True)  # unwritable, even for root
    assert load_corpus(bundle) == changed


def test_the_long_term_spectrum_is_welchs_and_skips_silent_segments():
    from scipy.signal import welch

    from project_ingest.spectrum import WELCH_SEGMENT, segment_power_spectrum

    rng = np.random.default_rng(5)
    sound = (rng.standard_normal(40 * WELCH_SEGMENT) * np.linspace(0.1, 0.5, 40 * WELCH_SEGMENT)).astype(np.float32)
    sound += 0.3 * np.sin(2 * np.pi * 1000.0 * np.arange(sound.size) / 44100).astype(np.float32)
    freqs, power = segment_power_spectrum(sound, 44100)
    _, want = welch(sound.astype(np.float64), 44100, window="hann", nperseg=WELCH_SEGMENT, noverlap=0, detrend="constant")
    ratio = power[1:-1] / want[1:-1]  # welch doubles the one-sided bins but DC and Nyquist
    assert np.allclose(ratio, ratio.mean(), rtol=1e-4)
    assert abs(freqs[np.argmax(power)] - 1000.0) < 44100 / WELCH_SEGMENT
    with_gaps = np.concatenate([np.zeros(7 * WELCH_SEGMENT, np.float32), sound, np.zeros(9 * WELCH_SEGMENT, np.float32)])
    assert np.allclose(segment_power_spectrum(with_gaps, 44100)[1], power, rtol=1e-6)
