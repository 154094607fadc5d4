"""``template master``: master any mix with an artist's master profile and print what each stage did."""

from __future__ import annotations

from pathlib import Path

import click

from sample_library.errors import InputError
from sample_library.loudness import LUFS_RANGE
from template_engine.cli_context import find_bundle, shared_options

MIN_SECONDS = 1.0
OUTPUT_SUFFIXES = (".wav", ".flac")


@click.command("master")
@shared_options
@click.argument("mix_path", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--artist", required=True, help="Whose masters to aim for (loudness, macro-dynamics, tonal balance).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Mastered file to write (.wav, 24-bit, or .flac).")
@click.option("--lufs", type=click.FloatRange(*LUFS_RANGE), default=None,
              help="Integrated loudness to reach (default: the artist's masters' median).")
@click.option("--bpm", type=click.FloatRange(40.0, 250.0), default=None,
              help="The song's tempo: the loud-to-quiet spread is then measured per bar (else per 2 s).")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.pass_context
def master(ctx: click.Context, mix_path: Path, artist: str, out: Path, lufs: float | None, bpm: float | None,
           force: bool) -> None:
    """Master a mix the way the artist's masters sound, and report loudness, true peak, the clipper's
    and the limiter's gain reduction, the loud-to-quiet spread and the tonal balance before and after.

    \b
    Examples:
      template master song_premaster.wav --artist me -o song_master.wav
      template master mix.flac --artist demo --lufs -11 --bpm 126 -o mix_master.wav
    """
    from sample_library.audio_io import read_audio, write_wav
    from sample_library.loudness import SPREAD_WINDOW_S
    from template_engine.render.master import macro_allowance_db, target_lufs_for
    from template_engine.render.master import master as run_master

    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(out, f"has suffix '{out.suffix}'; write a .wav or .flac")
    if out.exists() and not force:
        raise InputError(out, "exists; add --force to replace it")
    if out.resolve() == mix_path.resolve():
        raise InputError(out, "is the input; write the master to another file")
    profile = find_bundle(ctx, artist).mix_profile
    audio, rate = read_audio(mix_path)
    if audio.shape[1] < MIN_SECONDS * rate:
        raise InputError(mix_path, f"is {audio.shape[1] / rate:.2f} s long; a master needs at least {MIN_SECONDS:.0f} s")
    mastered, report = run_master(audio, rate, target_lufs=target_lufs_for(profile, lufs), allowance_db=macro_allowance_db(profile),
                                  spread_window_s=4 * 60.0 / bpm if bpm else SPREAD_WINDOW_S, tone_db=profile.master_eq_db)
    write_wav(out, mastered, rate)
    r = report.to_dict()
    click.echo(f"{out}: {r['integrated_lufs']:.1f} LUFS (target {r['target_lufs']:.1f}), true peak "
               f"{r['true_peak_dbtp']:.1f} dBTP (ceiling {r['ceiling_dbtp']:.1f})")
    click.echo(f"  drive {r['drive_db']:+.1f} dB; clipper {r['clipper_max_db']:.1f} dB at most; limiter "
               f"{r['limiter_max_reduction_db']:.1f} dB at most, {r['limiter_mean_reduction_db']:.2f} dB on average; "
               f"macro-dynamics keeper {r['macro_gain_min_db']:.1f} dB at most")
    click.echo(f"  loud-to-quiet spread {r['bar_spread_before_db']:.1f} dB before, {r['bar_spread_after_db']:.1f} dB after "
               f"({'bars' if bpm else '2-s windows'})")
    if "tone_distance_before_db" in r:
        click.echo(f"  tonal balance: {r['tone_distance_before_db']:.1f} dB RMS from the artist's masters' spectrum "
                   f"before, {r['tone_distance_after_db']:.1f} dB after")
