"""Import of a producer's one-shot folders into a sample library: resumable, with a report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from sample_library.audio_io import AUDIO_EXTENSIONS
from sample_library.errors import InputError
from sample_library.library import SampleLibrary, iter_audio_files

MAX_ONE_SHOT_SECONDS = 30.0


@dataclass
class ImportReport:
    """What an import did: counts, and each file skipped with the reason."""

    added: int = 0
    already_in: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    roles: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"added": self.added, "already_in": self.already_in, "roles": self.roles,
                "problems": [{"file": f, "reason": r} for f, r in self.problems]}


def import_folders(library: SampleLibrary, folders: Sequence[Path], *, progress: bool = True) -> ImportReport:
    """Walk ``folders`` recursively and add every readable one-shot to ``library``.

    Originals are only read. A file already imported (same path, size and time) is skipped without
    being read again, so an interrupted import resumes where it stopped.
    """
    report = ImportReport()
    files = list(iter_audio_files(folders))
    with library.batched():
        for path, parents in tqdm(files, desc="importing samples", unit="file", disable=not progress):
            _import_one(library, path, parents, report)
    return report


def _import_one(library: SampleLibrary, path: Path, parents: tuple[str, ...], report: ImportReport) -> None:
    """Add one file of an import to ``library``, counting it (or its problem) in ``report``."""
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        if not path.name.startswith("."):
            report.problems.append((str(path), f"not an audio file ({path.suffix or 'no extension'})"))
        return
    if library.known_source(path):
        report.already_in += 1
        return
    try:
        record, is_new = library.add_file(path, folders=parents)
    except InputError as exc:
        report.problems.append((str(path), exc.problem))
        return
    if record.duration > MAX_ONE_SHOT_SECONDS:
        report.problems.append((str(path), f"kept, but {record.duration:.0f} s is long for a one-shot"))
    if is_new:
        report.added += 1
        report.roles[record.role] = report.roles.get(record.role, 0) + 1
    else:
        report.already_in += 1
