"""The sample library of one artist: content-addressed audio files and a SQLite index.

Layout inside the library folder::

    index.sqlite          schema-versioned index of every sample and of imported source paths
    audio/ab/<hash>.<ext> each sample once, named by the SHA-256 of its bytes
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sample_library.analysis import SampleInfo, analyse_sample
from sample_library.audio_io import atomic_path, read_audio, write_wav
from sample_library.errors import InputError

SCHEMA_VERSION = 2
MIN_ONE_SHOT_SECONDS = 0.01
SILENT_PEAK = 1e-4  # -80 dBFS
COMMIT_EVERY = 64  # samples indexed per transaction within ``SampleLibrary.batched``

_COLUMNS = (
    ("hash", "TEXT PRIMARY KEY"), ("file", "TEXT NOT NULL"), ("role", "TEXT NOT NULL"),
    ("role_confidence", "REAL"), ("root_midi", "REAL"), ("pitch_confidence", "REAL"),
    ("root_from_name", "INTEGER"), ("duration", "REAL"), ("trim_start", "REAL"), ("decay", "REAL"),
    ("peak_db", "REAL"), ("loudness_db", "REAL"), ("centroid", "REAL"), ("timbre", "BLOB"),
    ("origin", "TEXT"), ("song", "TEXT"), ("velocity", "INTEGER"), ("original_name", "TEXT"),
    ("bpm", "REAL"), ("key", "TEXT"), ("sample_rate", "INTEGER"), ("channels", "INTEGER"), ("note", "INTEGER"),
    ("sustain_end", "REAL"), ("chord_size", "INTEGER"),
)
ADDED_IN_2 = ("sustain_end", "chord_size")


@dataclass(frozen=True)
class SampleRecord:
    """One row of the index. Times in seconds, levels in dB, root as a MIDI note (None: unpitched)."""

    hash: str
    file: str
    role: str
    role_confidence: float
    root_midi: float | None
    pitch_confidence: float
    root_from_name: bool
    duration: float
    trim_start: float
    decay: float
    peak_db: float
    loudness_db: float
    centroid: float
    timbre: np.ndarray
    origin: str
    song: str | None
    velocity: int | None
    original_name: str
    bpm: float | None
    key: str | None
    sample_rate: int
    channels: int
    note: int | None
    sustain_end: float | None = None
    chord_size: int | None = None


def content_hash(data: bytes) -> str:
    """SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_one_shot(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Raise InputError when ``audio`` (channels, frames) is too short or too quiet to be a one-shot."""
    seconds = audio.shape[1] / sample_rate
    if seconds < MIN_ONE_SHOT_SECONDS:
        raise InputError(path, f"{seconds * 1000:.1f} ms long: too short for a one-shot (under {MIN_ONE_SHOT_SECONDS * 1000:g} ms)")
    peak = float(np.max(np.abs(audio)))
    if peak < SILENT_PEAK:
        raise InputError(path, "silent (peak below -80 dBFS)")


class SampleLibrary:
    """Open (creating if needed) the sample library in ``folder``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        (self.folder / "audio").mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.folder / "index.sqlite"))
        self._uncommitted: int | None = None  # samples added since the last commit, within ``batched``
        self._create_schema()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SampleLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batched(self) -> Iterator[SampleLibrary]:
        """Within the block, the index is committed every ``COMMIT_EVERY`` samples added instead of
        after each one (each commit waits for the disk), and once more when the block ends, also
        when it ends by an error or an interrupt: every sample added before it stays indexed."""
        self._uncommitted = 0
        try:
            yield self
        finally:
            self._uncommitted = None
            self.db.commit()

    def _commit(self) -> None:
        """Commit now, or within ``batched`` once ``COMMIT_EVERY`` samples wait."""
        if self._uncommitted is None:
            self.db.commit()
            return
        self._uncommitted += 1
        if self._uncommitted >= COMMIT_EVERY:
            self.db.commit()
            self._uncommitted = 0

    def _create_schema(self) -> None:
        cur = self.db.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = cur.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None and int(row[0]) not in (1, SCHEMA_VERSION):
            raise InputError(self.folder / "index.sqlite",
                             f"sample index schema {row[0]} is not the supported {SCHEMA_VERSION}")
        cols = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS)
        cur.execute(f"CREATE TABLE IF NOT EXISTS samples ({cols})")
        have = {r[1] for r in cur.execute("PRAGMA table_info(samples)")}
        for name, kind in _COLUMNS:
            if name in ADDED_IN_2 and name not in have:
                cur.execute(f"ALTER TABLE samples ADD COLUMN {name} {kind}")
        cur.execute("CREATE INDEX IF NOT EXISTS samples_role ON samples(role)")
        cur.execute("CREATE TABLE IF NOT EXISTS sources (path TEXT PRIMARY KEY, size INTEGER, "
                    "mtime REAL, hash TEXT)")
        if row is None or int(row[0]) != SCHEMA_VERSION:  # an index already current is opened without a write
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self.db.commit()

    # -- writing -------------------------------------------------------------------------------

    def known_source(self, path: Path) -> bool:
        """True when ``path`` was imported before with the same size and modification time."""
        st = path.stat()
        row = self.db.execute("SELECT size, mtime FROM sources WHERE path=?", (str(path.resolve()),)).fetchone()
        return row is not None and row[0] == st.st_size and abs(row[1] - st.st_mtime) < 1e-6

    def add_file(self, path: Path, *, folders: tuple[str, ...] = (), origin: str = "import",
                 role: str | None = None, song: str | None = None) -> tuple[SampleRecord, bool]:
        """Copy one audio file into the library (once per content) and index it.

        Returns the record and whether it was new. Raises InputError when the file is not audio, or
        is too short or silent to play a note.
        """
        data = path.read_bytes()
        digest = content_hash(data)
        existing = self.get(digest)
        if existing is None:
            audio, sr = read_audio(path)
            check_one_shot(path, audio, sr)
            info = analyse_sample(audio, sr, name=path.name, folders=folders)
            rel = Path("audio") / digest[:2] / f"{digest}{path.suffix.lower()}"
            with atomic_path(self.folder / rel) as tmp:
                tmp.write_bytes(data)
            existing = self._insert(digest, rel, info, audio, sr, origin=origin, song=song, velocity=None,
                                    original_name=path.name, role=role)
            is_new = True
        else:
            is_new = False
        st = path.stat()
        self.db.execute("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?)",
                        (str(path.resolve()), st.st_size, st.st_mtime, digest))
        self._commit()
        return existing, is_new

    def add_audio(self, audio: np.ndarray, sample_rate: int, *, name: str, role: str, origin: str,
                  song: str | None = None, velocity: int | None = None,
                  root_midi: float | None = None, note: int | None = None, sustain_end: float | None = None,
                  chord_size: int | None = None) -> tuple[SampleRecord, bool]:
        """Add audio made in memory (a hit or note sliced from a stem) as a 24-bit WAV, once per content;
        ``sustain_end`` (s) is where a sliced note's held part ends, ``chord_size`` how many notes it holds."""
        tmp_dir = self.folder / "audio" / ".incoming"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{content_hash(name.encode())}.wav"
        write_wav(tmp, audio, sample_rate, subtype="PCM_24")
        data = tmp.read_bytes()
        digest = content_hash(data)
        existing = self.get(digest)
        if existing is not None:
            tmp.unlink()
            return existing, False
        rel = Path("audio") / digest[:2] / f"{digest}.wav"
        (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(self.folder / rel)
        info = analyse_sample(audio, sample_rate, name=name)
        if root_midi is not None:
            info.root_midi = root_midi
        record = self._insert(digest, rel, info, audio, sample_rate, origin=origin, song=song,
                              velocity=velocity, original_name=name, role=role, note=note,
                              sustain_end=sustain_end, chord_size=chord_size)
        self._commit()
        return record, True

    def _insert(self, digest: str, rel: Path, info: SampleInfo, audio: np.ndarray, sr: int, *,
                origin: str, song: str | None, velocity: int | None, original_name: str,
                role: str | None, note: int | None = None, sustain_end: float | None = None,
                chord_size: int | None = None) -> SampleRecord:
        values = (
            digest, rel.as_posix(), role or info.role, 1.0 if role else info.role_confidence,
            info.root_midi, info.pitch_confidence, int(info.root_from_name), info.duration,
            info.trim_start, info.decay, info.peak_db, info.loudness_db, info.centroid_hz,
            info.timbre.astype(np.float32).tobytes(), origin, song, velocity, original_name,
            info.bpm, info.key, sr, audio.shape[0], note, sustain_end, chord_size,
        )
        self.db.execute(f"INSERT OR REPLACE INTO samples VALUES ({', '.join('?' * len(values))})", values)
        return _record(values)

    def set_role(self, digest: str, role: str) -> None:
        """Override the role of one sample."""
        self.db.execute("UPDATE samples SET role=?, role_confidence=1.0 WHERE hash=?", (role, digest))
        self.db.commit()

    # -- reading -------------------------------------------------------------------------------

    def get(self, digest: str) -> SampleRecord | None:
        row = self.db.execute("SELECT * FROM samples WHERE hash=?", (digest,)).fetchone()
        return _record(row) if row else None

    def query(self, *, role: str | None = None, pitch_range: tuple[float, float] | None = None,
              max_duration: float | None = None, origin: str | None = None,
              song: str | None = None) -> list[SampleRecord]:
        """Samples matching every given condition, ordered by hash (a stable order)."""
        sql, args = "SELECT * FROM samples WHERE 1=1", []
        if role is not None:
            sql += " AND role=?"
            args.append(role)
        if pitch_range is not None:
            sql += " AND root_midi BETWEEN ? AND ?"
            args += list(pitch_range)
        if max_duration is not None:
            sql += " AND duration<=?"
            args.append(max_duration)
        if origin is not None:
            sql += " AND origin=?"
            args.append(origin)
        if song is not None:
            sql += " AND song=?"
            args.append(song)
        return [_record(r) for r in self.db.execute(sql + " ORDER BY hash", args)]

    def similar(self, record: SampleRecord, *, role: str | None = None, limit: int = 5) -> list[SampleRecord]:
        """The samples nearest in timbre to ``record`` (Euclidean on the timbre vector), itself excluded."""
        pool = [r for r in self.query(role=role) if r.hash != record.hash]
        pool.sort(key=lambda r: (float(np.linalg.norm(r.timbre - record.timbre)), r.hash))
        return pool[:limit]

    def roles(self) -> dict[str, int]:
        """Number of samples per role."""
        return dict(self.db.execute("SELECT role, COUNT(*) FROM samples GROUP BY role ORDER BY role"))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def path_of(self, record: SampleRecord) -> Path:
        return self.folder / record.file

    def load(self, record: SampleRecord) -> tuple[np.ndarray, int]:
        """The sample's audio (channels, frames) with its leading silence trimmed, and its rate."""
        audio, sr = read_audio(self.path_of(record))
        start = int(round(record.trim_start * sr))
        return audio[:, start:], sr

    def copy_to(self, folder: Path) -> SampleLibrary:
        """Copy this library into ``folder`` and open the copy."""
        self.db.commit()
        shutil.copytree(self.folder, folder, dirs_exist_ok=True)
        return SampleLibrary(folder)


def _record(row: Sequence) -> SampleRecord:
    values = list(row)
    values[6] = bool(values[6])
    values[13] = np.frombuffer(values[13], dtype=np.float32) if values[13] is not None else np.zeros(0, np.float32)
    return SampleRecord(*values)


def iter_audio_files(folders: Iterable[Path]) -> Iterable[tuple[Path, tuple[str, ...]]]:
    """Every file under ``folders`` (recursively, sorted), with the folder names from the root to it."""
    for root in folders:
        root = Path(root)
        if not root.is_dir():
            raise InputError(root, "is not a folder")
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            yield path, tuple(path.relative_to(root).parts[:-1])
