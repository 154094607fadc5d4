"""The candidate's kit: every one-shot a track played, mapped in an SFZ the way the sampler played it."""

import json
import re
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from sample_library.sampler import Instrument, Zone
from template_engine.render.sfz import write_kit

SR = 44100


def regions(sfz: Path) -> list[dict[str, str]]:
    return [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in sfz.read_text().splitlines()
            if line.startswith("<region>")]


def tone(hz: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.tile(0.4 * np.sin(2 * np.pi * hz * t), (2, 1)).astype(np.float32)


def test_pitched_layers_round_robins_and_loops_map_as_played(tmp_path):
    zones = [Zone("low", tone(131), root_midi=48.3, velocity=60), Zone("low loud", tone(131), root_midi=48.3, velocity=120),
             Zone("mid a", tone(262), root_midi=60.0), Zone("mid b", tone(262), root_midi=60.0),
             Zone("high", tone(523), root_midi=72.0)]
    inst = Instrument("pad", zones, SR, sustained=True, mono=True, release=0.2)
    files = write_kit(tmp_path, "Song_120BPM_Am", {"pad": ("Pad", inst)})
    assert files[-1] == "kit/Song_120BPM_Am_Pad.sfz" and len(files) == 6
    sfz = tmp_path / files[-1]
    got = regions(sfz)
    assert "polyphony=1" in sfz.read_text()
    for zone, r in zip(zones, got):
        audio, sr = sf.read(str(tmp_path / "kit" / r["sample"]), always_2d=True)
        assert sr == SR and np.max(np.abs(audio.T - zone.audio)) < 1e-4
        assert abs(int(r["pitch_keycenter"]) + int(r["tune"]) / 100 - zone.root_midi) <= 0.005
        assert r["loop_mode"] == "loop_sustain" and 0 < int(r["loop_start"]) < int(r["loop_end"]) < zone.audio.shape[1]
    assert [(r["lokey"], r["hikey"]) for r in got] == [("0", "54")] * 2 + [("55", "66")] * 2 + [("67", "127")]
    assert [(r.get("lovel"), r.get("hivel")) for r in got[:2]] == [("1", "90"), ("91", "127")]
    assert [(r.get("seq_length"), r.get("seq_position")) for r in got[2:4]] == [("2", "1"), ("2", "2")]
    assert "seq_length" not in got[0] and "seq_length" not in got[4]


def test_hats_choke_and_an_untriggered_drum_plays_every_note(tmp_path):
    hats = Instrument("hats", [Zone("closed", tone(8000, 0.05), trigger_note=42), Zone("open", tone(8000, 0.3), trigger_note=46)],
                      SR, choke_notes=frozenset({42, 46}))
    kick = Instrument("kick", [Zone("kick", tone(55, 0.3))], SR, choke_all=True)
    write_kit(tmp_path, "S", {"hats": ("Hats", hats), "kick": ("Kick", kick)})
    assert [(r["key"], r["group"], r["off_by"], r["loop_mode"]) for r in regions(tmp_path / "kit" / "S_Hats.sfz")] == \
        [("42", "1", "1", "one_shot"), ("46", "1", "1", "one_shot")]
    (kick_region,) = regions(tmp_path / "kit" / "S_Kick.sfz")
    assert (kick_region["lokey"], kick_region["hikey"], kick_region["pitch_keytrack"]) == ("0", "127", "0")
    assert (kick_region["group"], kick_region["off_by"]) == ("1", "1")


def test_a_candidate_kit_plays_every_note_of_its_midi(rendered):
    _, folder = rendered
    info = json.loads((folder / "render.json").read_text())
    sfz_files = [f for f in info["files"]["kit"] if f.endswith(".sfz")]
    assert len(sfz_files) == len(info["roles"])
    for name in sfz_files:
        track = re.search(r"_([A-Za-z]+)\.sfz$", name).group(1)
        got = regions(folder / name)
        assert got and all((folder / "kit" / r["sample"]).resolve().is_relative_to((folder / "kit").resolve())
                           and (folder / "kit" / r["sample"]).is_file() for r in got)
        midi = next(folder / f for f in info["files"]["midi"] if f.endswith(f"_{track}.mid"))
        pitches = {m.note for t in mido.MidiFile(str(midi)).tracks for m in t if m.type == "note_on" and m.velocity}

        def covered(p: int, r: dict) -> bool:
            return int(r.get("lokey", r.get("key"))) <= p <= int(r.get("hikey", r.get("key")))

        assert all(any(covered(p, r) for r in got) for p in pitches), track


def test_the_candidate_sfz_files_pass_sfzlint(rendered):
    import subprocess
    import sys

    _, folder = rendered
    for sfz in sorted((folder / "kit").glob("*.sfz")):
        lint = subprocess.run([sys.executable, "-c", "from sfzlint.cli import sfzlint; sfzlint()", sfz.name], cwd=sfz.parent,
                              capture_output=True, text=True, timeout=120)
        assert lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(), (sfz.name, lint.stdout, lint.stderr)
