"""What every command shares: the options accepted before or after the subcommand (``--artists-dir``,
``--debug``, ``--quiet``), finding an artist, and the exit-status contract: 0 done, 2 bad input, 1 an
internal error, 130 interrupted, each failure one line naming the file or option and the problem.
"""

from __future__ import annotations

import atexit
import gc
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from project_ingest.bundle import ArtistBundle, artists_dir, bundle_path
from sample_library.errors import InputError

EXIT_BAD_INPUT = 2


EXIT_INTERNAL = 1


EXIT_INTERRUPTED = 130


# CPython collects young objects every 700 allocations; a render builds hundreds of thousands of
# small long-lived ones (the corpus's notes, torch's modules), walked again at every older-generation
# collection: 1.5 s of a one-song render went to it (0.3 s with this), timed by gc.callbacks.
COLLECT_AFTER = 50_000


def mapped(ctx: click.Context, call: Callable[[], Any]) -> Any:
    """Run ``call``, turning bad input into exit 2, an interrupt into 130 and internal errors into 1,
    one line each; reference cycles are collected every ``COLLECT_AFTER`` allocations, and none at
    exit (``gc.freeze`` as the process ends: the interpreter's last collections walked every object
    a render still held, its corpus, catalogue and modules: 0.2-0.4 s after a render was done; what
    is frozen is freed with the modules, and every file is closed before then)."""
    gc.set_threshold(COLLECT_AFTER, 10, 10)
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    try:
        return call()
    except InputError as exc:
        fail(ctx, exc, EXIT_BAD_INPUT)
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except KeyboardInterrupt:
        click.echo("interrupted; nothing was replaced", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # an internal error: say so plainly
        fail(ctx, exc, EXIT_INTERNAL)


class MappedGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        return mapped(ctx, lambda: click.Group.invoke(self, ctx))


def fail(ctx: click.Context, exc: BaseException, code: int) -> None:
    if shared(ctx).get("debug"):
        traceback.print_exc()
    prefix = "error" if code == EXIT_BAD_INPUT else "internal error"
    click.echo(f"{prefix}: {exc}", err=True)
    sys.exit(code)


def shared(ctx: click.Context) -> dict:
    """The options every command shares, wherever on the line they were given."""
    return ctx.find_root().ensure_object(dict)


def remember(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _: click.Parameter, value: Any) -> Any:
        if value:
            shared(ctx)[key] = value
        return value
    return callback


def shared_options(f: Callable) -> Callable:
    """``--artists-dir``, ``--debug`` and ``--quiet``: accepted before or after the subcommand."""
    for option in (
        click.option("--artists-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     expose_value=False, callback=remember("root"),
                     help="Where artists live (default: $TEMPLATE_ARTISTS, else your user data folder)."),
        click.option("--debug", is_flag=True, expose_value=False, callback=remember("debug"), help="Show tracebacks."),
        click.option("--quiet", is_flag=True, expose_value=False, callback=remember("quiet"), help="No progress bars."),
    ):
        f = option(f)
    return f


def progress_on(ctx: click.Context) -> bool:
    return not shared(ctx).get("quiet")


def artists_root(ctx: click.Context) -> Path:
    return artists_dir(shared(ctx).get("root"))


def find_bundle(ctx: click.Context, name: str) -> ArtistBundle:
    path = bundle_path(name, artists_root(ctx))
    if not path.exists():
        raise InputError("--artist", f"no artist '{name}' in {artists_root(ctx)} (see `template artists`)")
    return ArtistBundle.load(path)
