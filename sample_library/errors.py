"""The one exception type for bad input: a file, folder, name or argument the user gave us."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input from the user.

    The message names the file or argument and says what is wrong with it. The command line
    prints it without a traceback and exits with status 2.
    """

    def __init__(self, what: str | Path, problem: str) -> None:
        self.what = str(what)
        self.problem = problem
        super().__init__(f"{self.what}: {problem}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        """Pickled as its two parts (a render's songs are written in another process, which sends
        back what it raised)."""
        return type(self), (self.what, self.problem)
