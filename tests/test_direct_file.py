"""Stems written around the page cache: the same bytes as through it, whichever way the system
answers, and nothing left behind when a write fails."""

import errno
import os
import wave

import numpy as np
import pytest

from sample_library import direct_file
from sample_library.audio_io import WAV_DATA_OFFSET, WRITE_BLOCK, pcm24_bytes, write_wav
from sample_library.direct_file import JUDGED_AFTER_BYTES, SLOW_DIRECT_BYTES_PER_S, DirectPace

FRAMES = 6 * WRITE_BLOCK + 77  # a gap, a run of four blocks, and a short last block that a direct write pads


@pytest.fixture
def stem():
    audio = (np.random.default_rng(4).standard_normal((2, FRAMES)) * 0.3).astype(np.float32)
    audio[:, WRITE_BLOCK:2 * WRITE_BLOCK] = 0.0
    return audio


@pytest.fixture
def direct(monkeypatch):
    """Every file written direct where the system allows (a test's stem is smaller than a song's), at
    a pace of its own."""
    monkeypatch.setattr(direct_file, "DIRECT_MIN_BYTES", 0)
    monkeypatch.setattr(direct_file, "PACE", DirectPace())
    return direct_file


def through_page_cache(path, audio, monkeypatch):
    with monkeypatch.context() as m:
        m.delattr(os, "O_DIRECT", raising=False)
        write_wav(path, audio, 44100)
    return path.read_bytes()


def system_writes_direct(folder) -> bool:
    """Whether ``folder``'s file system takes direct writes (``O_DIRECT`` opens and a block written)."""
    if not hasattr(os, "O_DIRECT"):
        return False
    import mmap

    try:
        fd = os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
    except OSError:
        return False
    try:
        os.pwrite(fd, mmap.mmap(-1, 4096), 0)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(folder / "probe")


def test_a_stem_written_direct_is_the_file_written_through_the_page_cache(tmp_path, stem, direct, monkeypatch):
    write_wav(tmp_path / "direct.wav", stem, 44100)
    assert (direct.PACE.bytes > 0) == system_writes_direct(tmp_path)  # direct wherever the system allows
    data = (tmp_path / "direct.wav").read_bytes()
    assert data == through_page_cache(tmp_path / "cached.wav", stem, monkeypatch)
    assert not list(tmp_path.glob(".*"))
    assert data[WAV_DATA_OFFSET - 8:WAV_DATA_OFFSET - 4] == b"data" and len(data) == WAV_DATA_OFFSET + 6 * FRAMES
    with wave.open(str(tmp_path / "direct.wav"), "rb") as back:
        assert (back.getnchannels(), back.getsampwidth(), back.getnframes()) == (2, 3, FRAMES)
        assert back.readframes(FRAMES) == pcm24_bytes(stem).tobytes()


def test_a_direct_write_the_system_refuses_is_written_through_the_page_cache(tmp_path, stem, direct, monkeypatch):
    pwrite, refused = os.pwrite, []

    def refuse_the_second(fd, data, offset):
        if len(refused) < 2:
            refused.append(offset)
            if len(refused) == 2:
                raise OSError(errno.EINVAL, "Invalid argument")
        return pwrite(fd, data, offset)

    expected = through_page_cache(tmp_path / "cached.wav", stem, monkeypatch)
    monkeypatch.setattr(os, "pwrite", refuse_the_second)
    write_wav(tmp_path / "x.wav", stem, 44100)
    assert len(refused) == 2 and (tmp_path / "x.wav").read_bytes() == expected


def test_a_file_system_without_direct_writes_gets_the_same_file(tmp_path, stem, direct, monkeypatch):
    opened = os.open
    flags_seen = []

    def no_direct(path, flags, *args):
        flags_seen.append(flags)
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return opened(path, flags, *args)

    expected = through_page_cache(tmp_path / "cached.wav", stem, monkeypatch)
    monkeypatch.setattr(os, "open", no_direct)
    write_wav(tmp_path / "x.wav", stem, 44100)
    assert (tmp_path / "x.wav").read_bytes() == expected
    assert not hasattr(os, "O_DIRECT") or any(f & os.O_DIRECT for f in flags_seen)


def test_a_failed_write_leaves_neither_the_file_nor_its_temporary(tmp_path, stem, direct, monkeypatch):
    def disk_full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_wav(tmp_path / "x.wav", stem, 44100)
    assert not list(tmp_path.iterdir())


def test_direct_writes_slower_than_the_pace_go_through_the_page_cache(tmp_path, stem, direct, monkeypatch):
    pace = DirectPace()
    pace.add(JUDGED_AFTER_BYTES - 1, 1e3)
    assert not pace.slow()  # too little written to judge
    pace.add(1, 0.0)
    assert pace.slow()
    fast = DirectPace()
    fast.add(JUDGED_AFTER_BYTES, 0.5 * JUDGED_AFTER_BYTES / SLOW_DIRECT_BYTES_PER_S)
    assert not fast.slow()

    opened = os.open
    flags_seen = []

    def record(path, flags, *args):
        flags_seen.append(flags)
        return opened(path, flags, *args)

    expected = through_page_cache(tmp_path / "cached.wav", stem, monkeypatch)
    monkeypatch.setattr(direct, "PACE", pace)
    monkeypatch.setattr(os, "open", record)
    write_wav(tmp_path / "x.wav", stem, 44100)
    assert (tmp_path / "x.wav").read_bytes() == expected
    assert flags_seen and not any(f & getattr(os, "O_DIRECT", 0) for f in flags_seen)


def test_a_write_longer_than_a_run_with_a_short_end_is_written_whole(tmp_path, direct, monkeypatch):
    """Nine channels in one block short of ``WRITE_BLOCK``: one write, longer than a run and not whole
    blocks long."""
    audio = (np.random.default_rng(5).standard_normal((9, WRITE_BLOCK - 7)) * 0.3).astype(np.float32)
    write_wav(tmp_path / "x.wav", audio, 44100)
    assert (tmp_path / "x.wav").read_bytes() == through_page_cache(tmp_path / "cached.wav", audio, monkeypatch)
