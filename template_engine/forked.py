"""One call run in a forked copy of this process while this one goes on with other work.

A render writes its songs' notes in a forked process while the render process imports the audio
stack and writes its memory (``render.batch``): the two have nothing to share but the finished
songs, which come back pickled through a pipe. Separate processes, unlike threads, do not take turns
at the GIL: importing ``scipy.signal`` (0.36 s) on a thread beside the model slowed the model by
as much. The child runs only the call and ends (``os._exit``, by ``multiprocessing``), so it never
returns into the caller's code.

Fork is safe only where this process runs no other Python thread (a thread holding a lock when
the process forks leaves that lock held forever in the child), and only where the system has
fork; elsewhere the call runs in this process, when its result is asked for.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ForkedCall(Generic[T]):
    """``function(*args)`` started in a forked child on entering the ``with`` block; ``result()``
    waits for its return value, or raises what it raised (pickled back, so exceptions must pickle).
    Leaving the block early ends the child. With ``fork`` off the call runs here, in ``result()``."""

    def __init__(self, function: Callable[..., T], *args: Any, fork: bool = True) -> None:
        self._call = (function, args)
        self._fork = fork
        self._child: BaseProcess | None = None
        self._receive: Connection | None = None

    def __enter__(self) -> ForkedCall[T]:
        if self._fork and can_fork():
            context = multiprocessing.get_context("fork")
            self._receive, send = context.Pipe(duplex=False)
            self._child = context.Process(target=_run_and_send, args=(send, *self._call), name="forked-call")
            self._child.start()
            send.close()
        return self

    def result(self) -> T:
        """The call's return value (computed here where the call was not forked)."""
        if self._child is None or self._receive is None:
            function, args = self._call
            return function(*args)
        try:
            outcome = self._receive.recv()
        except EOFError:
            self._child.join()
            raise RuntimeError(f"the forked process of {self._call[0].__name__} ended (exit code "
                               f"{self._child.exitcode}) without its result") from None
        self._child.join()
        if isinstance(outcome, _Raised):
            raise outcome.exception
        return outcome

    def __exit__(self, *exc: object) -> None:
        if self._child is not None:
            if self._child.is_alive():
                self._child.terminate()
            self._child.join()
            self._child = None
        if self._receive is not None:
            self._receive.close()
            self._receive = None


class _Raised:
    """What the call raised, sent back in place of a result."""

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception


def can_fork() -> bool:
    """Whether a call may run in a forked child here: the system forks, and this process runs no
    other Python thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _run_and_send(send: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """In the child: the call's result, or what it raised, through ``send``."""
    try:
        outcome: Any = function(*args)
    except BaseException as exc:  # everything, SystemExit and KeyboardInterrupt too, goes back to the caller
        outcome = _Raised(exc)
    send.send(outcome)
    send.close()
