"""Command line: ``template`` (ingest, pretrain, train, render, batch, regenerate, master, evaluate, artists, samples) and
``render-template``.

Exit status: 0 on success, 2 on bad input or usage, 1 on an internal error. Errors print one line
naming the file or argument and the problem; ``--debug`` shows the traceback.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from project_ingest.bundle import list_artists, write_json
from sample_library.errors import InputError
from template_engine.cli_context import MappedGroup, artists_root, find_bundle, mapped, progress_on, shared_options
from template_engine.cli_master import master
from template_engine.cli_model import build_demo_if_needed, pretrain, train

tqdm.monitor_interval = 0  # no bar needs its monitor thread, and a render forks only a process that runs no other thread

@click.group(cls=MappedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="artist-templates")
@shared_options
def main() -> None:
    """Learn a producer's writing, sounds and mix from past projects, and render new songs with them.

    \b
    Examples:
      template ingest ~/Projects --artist me --samples ~/Samples
      template train --artist me
      template render --artist me --count 10
      template artists
    """


@main.command()
@shared_options
@click.argument("projects_dir", type=click.Path(path_type=Path))
@click.option("--artist", required=True, help="Name of the artist bundle to write.")
@click.option("--samples", "sample_dirs", multiple=True, type=click.Path(path_type=Path),
              help="A folder of the artist's one-shots (repeatable).")
@click.option("--update", is_flag=True, help="Add these projects to an existing artist.")
@click.option("--force", is_flag=True, help="Replace an existing artist.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes analysing projects at once (default: one per CPU, at most 4).")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help='Analyse each project as a task on the Ray cluster at ADDRESS (host:port, or "local"); needs the [ray] extra.')
@click.pass_context
def ingest(ctx: click.Context, projects_dir: Path, artist: str, sample_dirs: tuple[Path, ...], update: bool, force: bool,
           workers: int | None, ray_address: str | None) -> None:
    """Read past projects (stems + MIDI) and write the artist bundle.

    \b
    Examples:
      template ingest ~/Projects --artist me
      template ingest ~/NewProjects --artist me --update
    """
    from project_ingest.ingest import default_workers
    from project_ingest.ingest import ingest as run_ingest
    from project_ingest.report import print_report

    result = run_ingest(projects_dir, artist=artist, root=artists_root(ctx), sample_dirs=sample_dirs, update=update,
                        force=force, progress=progress_on(ctx), workers=workers or default_workers(), ray_address=ray_address)
    print_report(result.report)
    click.echo(f"artist '{artist}' written to {result.bundle.path}")


main.add_command(train)
main.add_command(pretrain)
main.add_command(master)


def _render_options(f):
    for option in reversed([
        click.option("--artist", required=True, help="Artist to render (the demo artist is 'demo')."),
        click.option("--count", type=click.IntRange(1, 100), default=10, show_default=True),
        click.option("--bpm", type=float, default=None, help="Tempo (default: within the artist's range)."),
        click.option("--key", default=None, help='Key, e.g. "F minor" (default: one the artist uses).'),
        click.option("--bars", type=int, default=None, help="Length in bars (default: the artist's song lengths)."),
        click.option("--seed", type=click.IntRange(0), default=0, show_default=True),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Output folder (default: renders/<artist>)."),
        click.option("--format", "formats", default="wav,mp3", show_default=True, help="Any of wav,mp3,flac."),
        click.option("--title", default=None, help="Song title (numbered within a batch)."),
        click.option("--temperature", type=click.FloatRange(0.1, 3.0), default=1.0, show_default=True),
        click.option("--top-p", type=click.FloatRange(0.05, 1.0), default=0.95, show_default=True),
        click.option("--stems", default="wav", show_default=True, help="Stem files: wav, flac (lossless, smaller) or none."),
        click.option("--bit-depth", default="24", show_default=True, help="WAV bit depth: 24 or 32f (32-bit float)."),
        click.option("--lufs", type=float, default=None, help="Master loudness in LUFS (default: the artist's)."),
        click.option("--sample-rate", type=int, default=44100, show_default=True, help="Sample rate of every file: 44100 or 48000."),
        click.option("--dry-stems", is_flag=True,
                     help="Also write each track before its mixing chain, with DAW projects that rebuild the chain."),
        click.option("--force", is_flag=True, help="Overwrite candidate folders that exist."),
        click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
                     help='Mix, master and write each candidate as a task on the Ray cluster at ADDRESS (host:port, or '
                          '"local"); the output folder must be on a path every node shares.'),
    ]):
        f = option(f)
    return f


@main.command("render")
@shared_options
@_render_options
@click.pass_context
def render(ctx: click.Context, **kw: Any) -> None:
    """Write new candidate songs: mix, stems, MIDI, DAW project, gallery.

    \b
    Examples:
      template render --artist demo --count 10
      template render --artist me --count 3 --bpm 126 --key "F minor" --bars 96 --seed 7
    """
    _render(ctx, **kw)


def _say_substitutes(folder: Path) -> None:
    """One line per role of a candidate played by another role's samples or the built-in instrument."""
    from template_engine.render.candidate import read_info

    for role, source in read_info(folder).get("played_by", {}).items():
        if source != role:
            what = "the neutral built-in instrument" if source == "built-in" else f"the artist's {source} samples"
            click.echo(f"  {role}: no {role} samples; played by {what}")


def _render(ctx: click.Context, *, artist: str, out: Path | None, formats: str, ray_address: str | None,
            **options: Any) -> None:
    """Render with the options of ``template render`` / ``render-template`` (``RenderSettings``'s
    fields); the demo artist is built first where it is not yet."""
    from template_engine.render.batch import render_batch
    from template_engine.render.settings import RenderSettings

    build_demo_if_needed(artist, artists_root(ctx), progress=progress_on(ctx))
    bundle = find_bundle(ctx, artist)
    out = out or Path("renders") / artist
    settings = RenderSettings(formats=tuple(f.strip() for f in formats.split(",") if f.strip()), **options)
    folders = render_batch(bundle, out, settings, progress=progress_on(ctx), ray_address=ray_address)
    for folder in folders:
        click.echo(str(folder))
        _say_substitutes(folder)
    click.echo(f"gallery: {out / 'index.html'}")


@main.command()
@shared_options
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("renders"), show_default=True,
              help="Folder the rows' output folders go in.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Rows rendered at once (default: one per CPU).")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help='Run each row as a task on the Ray cluster at ADDRESS (host:port, or "local"); needs the [ray] extra.')
@click.pass_context
def batch(ctx: click.Context, manifest: Path, out: Path, workers: int | None, ray_address: str | None) -> None:
    """Render the rows of a manifest (.jsonl or .csv: artist and render options), several at once;
    started again after a kill, only the unfinished rows render.

    \b
    Example (rows.jsonl):
      {"artist": "demo", "count": 2, "seed": 1, "bpm": 126, "key": "F#m"}
      {"artist": "me", "count": 5, "seed": 7, "stems": "flac"}
      template batch rows.jsonl --out renders
      template batch rows.jsonl --out /shared/renders --ray 10.0.0.5:6379
    """
    import os

    from template_engine.render.manifest import read_manifest, run_manifest

    rows = read_manifest(manifest, out)
    summary = run_manifest(rows, artists_root(ctx).resolve(), workers=workers or os.cpu_count() or 1, progress=progress_on(ctx),
                           ray_address=ray_address)
    write_json(out / "batch_summary.json", asdict(summary))
    for failure in summary.failed:
        click.echo(f"row {failure['line']} ({failure['artist']}) failed: {failure['error']}", err=True)
    click.echo(f"{summary.rendered} rows rendered ({summary.candidates} candidates, {summary.resumed} begun by a killed "
               f"batch), {summary.already_done} already done, "
               f"{len(summary.failed)} failed, in {summary.seconds:g} s; summary: {out / 'batch_summary.json'}")
    if summary.failed:
        ctx.exit(1)


@main.command()
@shared_options
@click.argument("render_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--track", required=True, help="Role of the track to rewrite, e.g. bass, lead, hats.")
@click.option("--bars", required=True, help="Bar range, 1-based and inclusive, e.g. 33-48.")
@click.option("--artist", default=None, help="Artist (default: the one in the candidate's render.json).")
@click.option("--seed", type=click.IntRange(0), default=1, show_default=True)
@click.option("--temperature", type=click.FloatRange(0.1, 3.0), default=1.0, show_default=True)
@click.option("--top-p", type=click.FloatRange(0.05, 1.0), default=0.95, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the new candidate (default: next to RENDER_DIR, named after the change).")
@click.option("--force", is_flag=True, help="Overwrite the new candidate's folder if it exists.")
@click.pass_context
def regenerate(ctx: click.Context, render_dir: Path, track: str, bars: str, artist: str | None, seed: int,
               temperature: float, top_p: float, out: Path | None, force: bool) -> None:
    """Rewrite one track of a candidate over a bar range, keeping everything else, as a new candidate.

    \b
    Example:
      template regenerate "renders/demo/Demo 0-03_126BPM_F-minor" --track bass --bars 33-48
    """
    from template_engine.render.candidate import read_info
    from template_engine.render.regenerate import regenerate as run_regenerate

    artist = artist or read_info(render_dir).get("artist")
    if not isinstance(artist, str):
        raise InputError(render_dir / "render.json", "names no artist: give --artist")
    folder = run_regenerate(find_bundle(ctx, artist), render_dir, track, bars, seed=seed, temperature=temperature,
                            top_p=top_p, out=out, force=force)
    click.echo(str(folder))


@main.group(cls=MappedGroup, invoke_without_command=True)
@shared_options
@click.pass_context
def artists(ctx: click.Context) -> None:
    """List installed artists: songs, roles, samples, trained or not, size.

    \b
    Examples:
      template artists
      template artists show demo --html demo.html
    """
    if ctx.invoked_subcommand is not None:
        return
    root = artists_root(ctx)
    bundles, broken = list_artists(root)
    click.echo(f"artists in {root}:")
    for b in bundles:
        a = b.artist
        click.echo(f"  {a['name']:<16} {len(a['projects']):>3} songs  {len(a['roles']):>2} roles  "
                   f"{sum(a.get('samples', {}).values()):>5} samples  {'trained' if b.is_trained else 'not trained':<11} "
                   f"{b.size_bytes() / 1e6:8.1f} MB")
    from template_engine.demo.bundle_state import DEMO

    if not any(b.name == DEMO and b.is_trained for b in bundles):
        click.echo(f"  {DEMO:<16} available: built on first `render-template --artist {DEMO}`")
    for exc in broken:
        click.echo(f"  not an artist: {exc}", err=True)


@artists.command("show")
@shared_options
@click.argument("artist")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the artist page here: training curve, each role's EQ, ducking and loudness, the songs' plans.")
@click.pass_context
def artists_show(ctx: click.Context, artist: str, html_path: Path | None) -> None:
    """What the product learned of one artist; --html draws it as a page.

    \b
    Example:
      template artists show demo --html demo.html
    """
    from template_engine.evaluate.artist_page import write_artist_page

    bundle = find_bundle(ctx, artist)
    a, profile = bundle.artist, bundle.mix_profile
    click.echo(f"{bundle.name}: {len(a['projects'])} songs, roles {', '.join(a['roles'])}, "
               f"{sum(a.get('samples', {}).values())} samples, {'trained' if bundle.is_trained else 'not trained'}")
    for role, p in profile.roles.items():
        loud = "-" if p.relative_loudness_db is None else f"{p.relative_loudness_db:+.1f} dB"
        duck = f", ducks {p.sidechain.depth_db:.1f} dB" if p.sidechain else ""
        click.echo(f"  {role:<10} loudness {loud}{duck}")
    if html_path is not None:
        click.echo(f"artist page: {write_artist_page(bundle, html_path)}")


@main.group(cls=MappedGroup)
def samples() -> None:
    """Manage an artist's one-shot library."""


@samples.command("add")
@shared_options
@click.option("--artist", required=True)
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def samples_add(ctx: click.Context, artist: str, folders: tuple[Path, ...]) -> None:
    """Import one-shot folders (recursively; resumable).

    \b
    Example:
      template samples add --artist me ~/Samples/Drums ~/Samples/Vox
    """
    from sample_library.importer import import_folders
    from sample_library.library import SampleLibrary

    bundle = find_bundle(ctx.find_root(), artist)
    for folder in folders:
        if not folder.is_dir():
            raise InputError(folder, "is not a folder of one-shots")
    with SampleLibrary(bundle.samples_dir) as library:
        report = import_folders(library, list(folders), progress=progress_on(ctx))
    click.echo(f"added {report.added}, already in {report.already_in}, problems {len(report.problems)}")
    for file, reason in report.problems[:20]:
        click.echo(f"  {file}: {reason}")
    click.echo("roles added: " + ", ".join(f"{r} {n}" for r, n in sorted(report.roles.items())))


@samples.command("ls")
@shared_options
@click.option("--artist", required=True)
@click.option("--role", default=None)
@click.pass_context
def samples_ls(ctx: click.Context, artist: str, role: str | None) -> None:
    """List the artist's samples.

    \b
    Example:
      template samples ls --artist me --role kick
    """
    from sample_library.library import SampleLibrary
    from sample_library.pitch import midi_to_name
    from sample_library.roles import ROLES

    if role is not None and role not in ROLES:
        raise InputError("--role", f"'{role}' is not a role; roles: {', '.join(ROLES)}")
    bundle = find_bundle(ctx.find_root(), artist)
    with SampleLibrary(bundle.samples_dir) as library:
        for r in library.query(role=role):
            root = midi_to_name(int(round(r.root_midi))) if r.root_midi is not None else "-"
            click.echo(f"{r.hash[:10]}  {r.role:<10} {root:<5} {r.duration:6.2f}s  {r.origin:<8} {r.original_name}")


@main.command()
@shared_options
@click.option("--artist", required=True)
@click.argument("render_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--mix-fidelity", is_flag=True,
              help="Re-render the artist's held-out songs from their MIDI and compare each role with the real stems.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the JSON report (default: evaluation.json in the batch folder, or mix_fidelity_<artist>.json here).")
@click.pass_context
def evaluate(ctx: click.Context, artist: str, render_dirs: tuple[Path, ...], mix_fidelity: bool,
             json_path: Path | None) -> None:
    """Compare candidates with the artist: style fit, novelty, sanity, structure, audio; or check the
    learned mixing chains against the artist's real stems (--mix-fidelity).

    \b
    Examples:
      template evaluate --artist demo renders/demo
      template evaluate --artist demo --mix-fidelity
    """
    from project_ingest.bundle import write_json
    from template_engine.evaluate.mix_fidelity import mix_fidelity as run_mix_fidelity
    from template_engine.evaluate.report import default_report_path, format_table
    from template_engine.evaluate.report import evaluate as run_evaluate

    bundle = find_bundle(ctx, artist)
    if not render_dirs and not mix_fidelity:
        raise click.UsageError("give candidate folders (or a batch folder) to evaluate, or --mix-fidelity")
    report: dict = {}
    if render_dirs:
        report = run_evaluate(bundle, list(render_dirs), progress=progress_on(ctx))
        click.echo(format_table(report))
    if mix_fidelity:
        report["mix_fidelity"] = fidelity = run_mix_fidelity(bundle, progress=progress_on(ctx))
        click.echo("mix fidelity over held-out songs: " + ", ".join(f"{k} {v}" for k, v in fidelity["mean"].items()))
        for kind, row in fidelity["by_kind"].items():
            click.echo(f"  {kind} roles: " + ", ".join(f"{k} {v}" for k, v in row.items()))
        for song, roles in fidelity["songs"].items():
            for role, row in roles.items():
                click.echo(f"  {song[:28]:<28} {role:<10} " + "  ".join(f"{k} {v}" for k, v in row.items()))
    path = json_path or (default_report_path(list(render_dirs)) if render_dirs else Path(f"mix_fidelity_{bundle.name}.json"))
    write_json(path, report)
    click.echo(f"report: {path}")
    if render_dirs:
        from template_engine.evaluate.report_html import write_report_html

        click.echo(f"page: {write_report_html(report, path.with_suffix('.html'))}")


def _render_template(**kw: Any) -> None:
    ctx = click.get_current_context()
    mapped(ctx, lambda: _render(ctx, **kw))


render_template = click.Command("render-template", callback=_render_template, help=render.help, params=render.params,
                                context_settings={"help_option_names": ["-h", "--help"]})


def render_main() -> None:
    """``render-template``: the same as ``template render``."""
    render_template(prog_name="render-template")


if __name__ == "__main__":
    main()
