"""Every command keeps the exit-status contract: 0 done, 2 bad input (one line naming it), 1 an
internal error (one line, no traceback without --debug), 130 interrupted."""

import shutil

import pytest
from click.testing import CliRunner

from template_engine.cli import main, render_template

COMMANDS = {  # args after the shared options, and the function doing the work
    "ingest": (["ingest", "{projects}", "--artist", "fresh"], "project_ingest.ingest.ingest"),
    "train": (["train", "--artist", "tiny", "--max-steps", "2"], "template_engine.model.train.train"),
    "render": (["render", "--artist", "tiny", "--count", "1", "--bars", "4", "--out", "{out}"],
               "template_engine.render.batch.render_batch"),
    "regenerate": (["regenerate", "{candidate}", "--track", "{role}", "--bars", "1-4", "--out", "{out}/re"],
                   "template_engine.render.regenerate.regenerate"),
    "evaluate": (["evaluate", "--artist", "tiny", "{candidate}", "--json", "{out}/report.json"],
                 "template_engine.evaluate.report.evaluate"),
    "artists": (["artists"], "template_engine.cli.list_artists"),
    "samples add": (["samples", "add", "--artist", "tiny", "{samples}"], "sample_library.importer.import_folders"),
    "samples ls": (["samples", "ls", "--artist", "tiny", "--role", "kick"], "sample_library.library.SampleLibrary.query"),
}


@pytest.fixture
def world(trained_bundle, tiny_material, rendered, tmp_path):
    root = tmp_path / "artists"
    shutil.copytree(trained_bundle.path, root / "tiny")
    projects, samples = tiny_material
    _, candidate = rendered
    role = next(r for r in ("bass", "lead", "chords", "arp", "sub", "pad")
                if any((candidate / "midi").glob(f"*_{r.capitalize()}.mid")))
    fill = {"projects": str(projects), "samples": str(samples), "out": str(tmp_path / "out"),
            "candidate": str(candidate), "role": role}
    return root, fill


def _args(name, root, fill):
    args, _ = COMMANDS[name]
    return ["--artists-dir", str(root), "--quiet", *[a.format(**fill) for a in args]]


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("raised, code, says", [(RuntimeError("boom"), 1, "internal error: boom"),
                                                (KeyboardInterrupt(), 130, "interrupted")])
def test_internal_errors_and_interrupts_exit_1_and_130(world, monkeypatch, name, raised, code, says):
    root, fill = world
    module, attr = COMMANDS[name][1].rsplit(".", 1)
    if module.endswith("SampleLibrary"):
        module, cls = module.rsplit(".", 1)
        target = getattr(__import__(module, fromlist=[cls]), cls)
    else:
        target = __import__(module, fromlist=[attr])

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(target, attr, fail)
    result = CliRunner().invoke(main, _args(name, root, fill))
    assert result.exit_code == code, result.output
    assert says in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("name", [n for n in COMMANDS if n != "artists"])
def test_bad_input_exits_2_naming_it(world, name):
    root, fill = world
    args = _args(name, root, fill)
    if name == "ingest":
        args[args.index(fill["projects"])] = str(root / "no-such-folder")
    elif name == "regenerate":
        args[args.index(fill["candidate"])] = str(root / "no-such-folder")
    else:
        args[args.index("--artist") + 1] = "nobody"
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and ("nobody" in result.output or "no-such-folder" in result.output)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_succeeds_with_exit_0(world, name):
    root, fill = world
    result = CliRunner().invoke(main, _args(name, root, fill))
    assert result.exit_code == 0, result.output


def test_render_template_takes_the_shared_options_and_exits_like_template(world):
    root, fill = world
    ok = CliRunner().invoke(render_template, ["--artist", "tiny", "--count", "1", "--bars", "4", "--out", fill["out"],
                                              "--artists-dir", str(root), "--quiet"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(render_template, ["--artist", "tiny", "--bpm", "9000", "--artists-dir", str(root)])
    assert bad.exit_code == 2 and "--bpm" in bad.output


def test_shared_options_are_accepted_after_the_subcommand(world):
    root, _ = world
    result = CliRunner().invoke(main, ["artists", "--quiet", "--artists-dir", str(root)])
    assert result.exit_code == 0 and "tiny" in result.output


def test_train_says_loudly_when_the_model_is_no_better_than_a_bigram(world, monkeypatch):
    from template_engine.model import train as train_module

    root, _ = world
    real = train_module.train

    def trained(margin):
        def run(*args, **kwargs):
            summary = real(*args, **kwargs)
            summary.valid_loss = summary.bigram_valid_loss + margin
            return summary
        return run

    for margin, warned in ((0.1, True), (-0.5, False)):
        monkeypatch.setattr(train_module, "train", trained(margin))
        result = CliRunner().invoke(main, _args("train", root, {}))
        assert result.exit_code == 0 and ("NO BETTER THAN A BIGRAM" in result.output) == warned


@pytest.mark.parametrize("args, names", [(["--seed", "-1"], "--seed"), (["--format", ",,"], "--format")])
def test_bad_render_options_exit_2_naming_the_option_before_anything_is_written(world, args, names):
    root, fill = world
    out = root.parent / "never"
    result = CliRunner().invoke(main, ["--artists-dir", str(root), "render", "--artist", "tiny", "--count", "1",
                                       "--bars", "4", "--out", str(out), *args])
    assert result.exit_code == 2 and names in result.output and not out.exists()


@pytest.mark.parametrize("damage", ["truncated", "no sections"])
def test_a_damaged_render_json_is_named(world, tmp_path, damage):
    root, fill = world
    folder = tmp_path / "candidate"
    shutil.copytree(fill["candidate"], folder)
    meta = folder / "render.json"
    text = meta.read_text()
    meta.write_text(text[:40] if damage == "truncated" else text.replace('"sections"', '"sectionz"'))
    result = CliRunner().invoke(main, ["--artists-dir", str(root), "regenerate", str(folder), "--artist", "tiny",
                                       "--track", fill["role"], "--bars", "1-4"])
    assert result.exit_code == 2 and str(meta) in result.output


def test_damaged_weights_are_named_with_a_hint(world):
    root, fill = world
    (root / "tiny" / "model" / "model.safetensors").write_bytes(b"not weights")
    result = CliRunner().invoke(main, ["--artists-dir", str(root), "render", "--artist", "tiny", "--count", "1",
                                       "--bars", "4", "--out", fill["out"]])
    assert result.exit_code == 2 and "model.safetensors" in result.output and "retrain" in result.output
