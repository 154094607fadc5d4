"""The model's commands: ``template train`` (fine-tune the base on an artist) and ``template
pretrain`` (a base model from folders of MIDI files), and the bigram warning both give."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from sample_library.errors import InputError
from template_engine.cli_context import find_bundle, progress_on, shared_options

if TYPE_CHECKING:
    from template_engine.model.train import TrainSummary

DEFAULT_TRAIN_STEPS = 600  # fine-tuning steps of `template train`


@click.command()
@shared_options
@click.option("--artist", required=True)
@click.option("--minutes", type=click.FloatRange(0.05, 24 * 60), default=60.0, show_default=True,
              help="Time ceiling; on a working machine the step count ends training first.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--max-steps", type=click.IntRange(1), default=DEFAULT_TRAIN_STEPS, show_default=True,
              help="Training steps: with a seed, the same weights whatever the load (to float32 rounding).")
@click.option("--base", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Base model to fine-tune (default: the one shipped, pretrained on POP909).")
@click.option("--from-scratch", is_flag=True, help="Random weights in the base's vocabulary and shape (for comparison).")
@click.pass_context
def train(ctx: click.Context, artist: str, minutes: float, device: str, seed: int, max_steps: int,
          base: Path | None, from_scratch: bool) -> None:
    """Fine-tune the base model on the artist's corpus (resumes after a kill).

    \b
    Examples:
      template train --artist me
      template train --artist me --max-steps 1200 --seed 3
      template train --artist me --max-steps 600 --from-scratch
    """
    from template_engine.model.base_model import SHIPPED_BASE
    from template_engine.model.train import TrainSettings
    from template_engine.model.train import train as run_train

    _check_device(device)
    settings = TrainSettings(minutes=minutes, device=device, seed=seed, max_steps=max_steps,
                             base=base or SHIPPED_BASE, from_scratch=from_scratch)
    summary = run_train(find_bundle(ctx, artist), settings, progress=progress_on(ctx))
    click.echo(f"validation loss {summary.valid_loss:.3f} nats/token (bigram baseline {summary.bigram_valid_loss:.3f}), "
               f"{summary.steps} steps, {summary.params:,} parameters, {summary.extra['start']}")
    warn_if_no_better_than_bigram(summary)


@click.command()
@shared_options
@click.option("--corpus", "folders", required=True, multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="A folder of MIDI files, searched recursively (repeatable).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Base model file to write.")
@click.option("--max-steps", type=click.IntRange(1), default=3600, show_default=True)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.pass_context
def pretrain(ctx: click.Context, folders: tuple[Path, ...], out: Path, max_steps: int, seed: int, device: str,
             force: bool) -> None:
    """Pretrain a base model on folders of MIDI files (resumes after a kill; runs under torchrun).

    \b
    Examples:
      template pretrain --corpus ~/MIDI --out my_base.safetensors --max-steps 20000
      torchrun --nproc-per-node 2 -m template_engine.cli pretrain --corpus ~/MIDI --out my_base.safetensors
    """
    from template_engine.model.pretrain import pretrain as run_pretrain
    from template_engine.model.pretrain import pretrain_settings

    _check_device(device)
    if out.exists() and not force:
        raise InputError(out, "exists; pass --force to replace it")
    summary, skipped = run_pretrain(folders, out, pretrain_settings(max_steps, seed, device), progress=progress_on(ctx))
    for problem in skipped:
        click.echo(f"skipped {problem.file}: {problem.reason}", err=True)
    if summary is not None:
        click.echo(f"base model written to {out}: validation loss {summary.valid_loss:.3f} nats/token (bigram "
                   f"{summary.bigram_valid_loss:.3f}), {summary.steps} steps, {summary.extra['songs']} songs, "
                   f"{len(skipped)} files skipped")


def _check_device(device: str) -> None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device", "cuda was asked for but no CUDA device is available")


def warn_if_no_better_than_bigram(summary: TrainSummary) -> None:
    """Say loudly, on stderr, when the model predicts held-out songs no better than a bigram model."""
    if not summary.beats_bigram:
        click.echo(f"WARNING: the model is NO BETTER THAN A BIGRAM MODEL on held-out songs (validation loss "
                   f"{summary.valid_loss:.3f} against {summary.bigram_valid_loss:.3f}); its songs will not sound like "
                   f"the artist. Train longer (--max-steps) or give it more projects.", err=True)


def build_demo_if_needed(artist: str, root: Path, *, progress: bool) -> None:
    """Build the built-in demo artist under ``root`` when ``artist`` is it and it is not built yet;
    what builds it (the synthesis kit, ingest, training) is loaded only then."""
    from template_engine.demo.bundle_state import DEMO, demo_needs_building

    if artist != DEMO or not demo_needs_building(root):
        return
    from template_engine.demo.build import build_demo_artist, model_origin

    click.echo("The demo artist is not built yet: synthesising its one-shots and 12 past projects and "
               "ingesting them (a few minutes, once).", err=True)
    summary = build_demo_artist(root, progress=progress)
    click.echo(f"demo artist ready: {model_origin(summary)}, validation loss {summary.valid_loss:.3f} "
               f"(bigram {summary.bigram_valid_loss:.3f})", err=True)
    warn_if_no_better_than_bigram(summary)
