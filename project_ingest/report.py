"""The readable ingest report: one line per track with its role and confidence, then every problem."""

from __future__ import annotations

import click


def print_report(report: dict) -> None:
    """Print the report that ingest also writes to ``ingest_report.json``."""
    click.echo(f"{'song':<28} {'track':<28} {'role':<11} {'conf':>4}  evidence")
    for t in report["tracks"]:
        click.echo(f"{t['song'][:28]:<28} {t['track'][:28]:<28} {t['role']:<11} {t['confidence']:>4.2f}  {t['evidence']}")
    if report["problems"]:
        click.echo(f"\n{len(report['problems'])} problems:")
        for p in report["problems"]:
            click.echo(f"  {p['file']}: {p['reason']} ({p['action']})")
    for song, flags in report.get("flags", {}).items():
        for flag in flags:
            click.echo(f"  {song}: {flag}")
    click.echo(f"\n{len(report['songs'])} songs, {report['harvested_one_shots']} one-shots harvested from the stems")
    for role, row in report.get("pitched_harvest", {}).items():
        rejected = ", ".join(f"{n} {reason}" for reason, n in sorted(row["rejected"].items(), key=lambda kv: -kv[1]))
        chords = f" ({row['chords']} chord{'s' if row['chords'] > 1 else ''})" if row["chords"] else ""
        if row.get("octave_shifted"):
            chords += f" ({row['octave_shifted']} sound whole octaves from their MIDI, as the artist's preset did)"
        click.echo(f"  {role:<11} {row['kept']:>3} notes kept{chords}; rejected: {rejected or 'none'}")
    if not report.get("pitched_harvest"):
        click.echo("  no pitched stem with MIDI: pitched roles will play imported one-shots or their neighbours'")
