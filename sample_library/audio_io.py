"""Reading, writing and resampling audio. Arrays are channels-first float32, shape (channels, frames)."""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import scipy
import soundfile as sf

from sample_library.direct_file import DirectFile, large_file
from sample_library.errors import InputError

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3")
WRITE_BLOCK = 65536
PCM24_SCALE = 8388608.0
PLAIN_WAV_HEADER = 44  # bytes before the samples of a WAV with no chunk but its format's
WAV_DATA_OFFSET = 4096  # bytes before a stem's samples: a block boundary, for direct writes
PCM16_BLOCK = 2**18  # frames converted at once for the MP3 encoder: 2 MB of stereo float32


class BlockSource(Protocol):
    """Audio of ``shape`` (channels, frames) read a block at a time: ``block(start, stop, scale)`` is
    frames ``start..stop`` times ``scale`` as a new (channels, stop - start) float32 array, or None
    where they are silent; ``dense()`` is the whole (channels, frames) array."""

    @property
    def shape(self) -> tuple[int, int]: ...

    def block(self, start: int, stop: int, scale: float = 1.0) -> np.ndarray | None: ...

    def dense(self) -> np.ndarray: ...


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only when the block succeeds."""
    tmp_path = temp_beside(Path(path))
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def temp_beside(path: Path) -> Path:
    """A new empty temporary file beside ``path`` (its folder made where missing), with the mode a
    plain ``open`` would give it, for a write that is renamed onto ``path`` when it succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    follow_umask(Path(tmp))
    return Path(tmp)


def follow_umask(path: Path) -> None:
    """Give a file the mode a plain ``open`` would have (temporary files and some writers use 0600)."""
    Path(path).chmod(0o666 & ~current_umask())


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file.

    Returns
    -------
    audio : np.ndarray, shape (channels, frames), float32 in [-1, 1]
    sample_rate : int, Hz

    Raises
    ------
    InputError
        When the file cannot be decoded, holds no frames, or holds NaN or infinite samples.
    """
    path = Path(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as sf_error:  # libsndfile may not decode every MP3: fall back to ffmpeg
        if path.suffix.lower() != ".mp3":
            raise InputError(path, f"cannot read audio ({sf_error})") from None
        data, sr = _read_with_ffmpeg(path)
    if data.shape[0] == 0:
        raise InputError(path, "audio file holds no frames (zero length)")
    if not np.isfinite(data).all():
        raise InputError(path, "audio holds NaN or infinite samples")
    return np.ascontiguousarray(data.T), int(sr)


def _read_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Decode ``path`` with the ffmpeg inside the imageio-ffmpeg wheel into a temporary 32-bit float
    WAV: (frames, channels) float32 and the rate. ffmpeg's own last complaint names a bad file's fault."""
    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        done = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(path),
                               "-vn", "-c:a", "pcm_f32le", tmp], capture_output=True, text=True, check=False)
        if done.returncode != 0 or not os.path.getsize(tmp):
            raise InputError(path, f"cannot decode audio ({ffmpeg_complaint(done)})")
        data, sr = sf.read(tmp, dtype="float32", always_2d=True)
    finally:
        os.unlink(tmp)
    return data, int(sr)


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The path of the ffmpeg that ships inside the imageio-ffmpeg wheel (found on first use: a render
    finds it while its songs are written)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg_complaint(done: subprocess.CompletedProcess) -> str:
    """What a failed ffmpeg run said last on stderr (text or bytes), without the path it names
    first (the caller's error names the file), or its exit status when it said nothing."""
    stderr = done.stderr.decode(errors="replace") if isinstance(done.stderr, bytes) else done.stderr
    said = [line.strip() for line in stderr.splitlines() if line.strip()]
    return said[-1].split(": ", 1)[-1] if said else f"ffmpeg exit status {done.returncode}"


def write_wav(path: str | Path, audio: np.ndarray | BlockSource, sample_rate: int, *, subtype: str = "PCM_24") -> None:
    """Write ``audio`` (channels, frames), an array or a ``BlockSource``, to ``path`` atomically
    (temporary file, then rename).

    24-bit WAV, the stems' format, is packed here with numpy a block at a time (``_write_pcm24``):
    silent blocks become zero bytes without a conversion, which matters because a song's stems are
    mostly silence and libsndfile converts every sample (80 ms per 3-minute stem, even of zeros),
    and a stem kept as its sounding pieces is never made whole. Other formats and subtypes go
    through soundfile."""
    path = Path(path)
    fmt = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    if fmt == "FLAC" and subtype == "FLOAT":
        subtype = "PCM_24"
    source = ArrayBlocks(audio) if isinstance(audio, np.ndarray) else audio
    with atomic_path(path) as tmp:
        if fmt == "WAV" and subtype == "PCM_24":
            _write_pcm24(tmp, source, sample_rate)
            return
        whole = source.dense()
        with sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=whole.shape[0],
                          subtype=subtype, format=fmt) as f:
            frames = np.ascontiguousarray(whole.T)
            for start in range(0, frames.shape[0], WRITE_BLOCK):
                f.write(frames[start:start + WRITE_BLOCK])


class ArrayBlocks:
    """A (channels, frames) array read as a ``BlockSource``: a block of zeros reads as None."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = audio

    @property
    def shape(self) -> tuple[int, int]:
        return self.audio.shape[0], self.audio.shape[1]

    def block(self, start: int, stop: int, scale: float = 1.0) -> np.ndarray | None:
        part = self.audio[:, start:stop]
        return np.multiply(part, np.float32(scale)) if part.any() else None

    def dense(self) -> np.ndarray:
        return self.audio


def _write_pcm24(path: Path, source: BlockSource, sample_rate: int) -> None:
    """24-bit little-endian PCM WAV of ``source``'s float audio, clipped to [-1, 1). A file large enough
    to be written direct (``direct_file.large_file``: a stem, not a one-shot) has its samples from
    byte ``WAV_DATA_OFFSET`` on (``wav_header``), whether or not the system then writes it direct,
    so every block of ``WRITE_BLOCK`` frames starts on a 4 KiB boundary. A silent block is skipped
    over, not written: the file reads back the same zero bytes (a hole where the file system keeps
    them), and only the blocks that sound are stored (two thirds of a song's stems)."""
    channels, frames = source.shape
    data_bytes = frames * channels * 3
    data = WAV_DATA_OFFSET if large_file(PLAIN_WAV_HEADER + data_bytes) else PLAIN_WAV_HEADER
    with DirectFile(path, data + data_bytes) as f:
        f.write_at(0, wav_header(channels, 3, sample_rate, frames, data))
        for start in range(0, frames, WRITE_BLOCK):
            block = source.block(start, min(start + WRITE_BLOCK, frames), PCM24_SCALE)
            if block is not None:
                f.write_at(data + start * channels * 3, scaled_pcm24_bytes(block))
        f.truncate(data + data_bytes)


def wav_header(channels: int, sample_width: int, sample_rate: int, frames: int, data_offset: int = PLAIN_WAV_HEADER) -> bytes:
    """The ``data_offset`` bytes of a PCM WAV file before ``frames`` frames of samples, each
    ``sample_width`` bytes a channel: the RIFF header and format chunk the standard library's
    ``wave`` writes, then, where ``data_offset`` is past them, a JUNK chunk (which WAV readers skip;
    broadcast WAV files reserve one the same way) up to the data chunk's header."""
    data_bytes = frames * channels * sample_width
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, channels, sample_rate, sample_rate * channels * sample_width,
                      channels * sample_width, 8 * sample_width)
    junk = [] if data_offset == PLAIN_WAV_HEADER else \
        [struct.pack("<4sI", b"JUNK", data_offset - PLAIN_WAV_HEADER - 8), bytes(data_offset - PLAIN_WAV_HEADER - 8)]
    return b"".join([struct.pack("<4sI4s", b"RIFF", data_offset - 8 + data_bytes, b"WAVE"), fmt, *junk,
                     struct.pack("<4sI", b"data", data_bytes)])


def pcm24_bytes(block: np.ndarray) -> np.ndarray:
    """Interleaved 24-bit little-endian PCM of (channels, n) float audio, clipped to [-1, 1): 3 n
    channels bytes, as a uint8 array (a file writes it as it is, with no copy into ``bytes``). The
    scaling and rounding run on each channel's contiguous row; a stereo block is interleaved as it
    is packed (``pack_stereo_int24``), which reads the rows once instead of transposing them first."""
    return scaled_pcm24_bytes(np.multiply(block, np.float32(PCM24_SCALE)))


def scaled_pcm24_bytes(scaled: np.ndarray) -> np.ndarray:
    """``pcm24_bytes`` of audio already multiplied by ``PCM24_SCALE`` (a block source scales its
    block as it reads it, in the same pass), clipped in place. The scaling is by a power of two, so
    the samples are those of scaling after the read."""
    np.clip(scaled, -PCM24_SCALE, PCM24_SCALE - 1, out=scaled)
    ints = np.empty(scaled.shape, dtype=np.int32)
    np.rint(scaled, out=ints, casting="unsafe")
    if scaled.shape[0] == 2:
        return pack_stereo_int24(ints)
    return pack_int24(np.ascontiguousarray(ints.T).ravel())


def pack_int24(ints: np.ndarray) -> np.ndarray:
    """Little-endian 3-byte PCM of ``ints`` (n,) int32 in the 24-bit range: (3n,) uint8. Every four
    samples are packed into three 32-bit words with shifts (contiguous, unlike a byte-strided copy)."""
    n = ints.size
    v = np.zeros(-(-n // 4) * 4, dtype=np.uint32)
    v[:n] = ints.view(np.uint32) & np.uint32(0xFFFFFF)
    v = v.reshape(-1, 4)
    words = np.empty((v.shape[0], 3), dtype="<u4")
    words[:, 0] = v[:, 0] | (v[:, 1] << 24)
    words[:, 1] = (v[:, 1] >> 8) | (v[:, 2] << 16)
    words[:, 2] = (v[:, 2] >> 16) | (v[:, 3] << 8)
    return words.reshape(-1).view(np.uint8)[:3 * n]


STEREO_FRAME_24 = np.dtype([("low", "<u4"), ("high", "<u2")])  # six bytes: left's three and right's low one, right's high two


def pack_stereo_int24(ints: np.ndarray) -> np.ndarray:
    """``pack_int24`` of the interleaved samples of (2, n) int32 ``ints``: (6n,) uint8. Each frame is
    a 32-bit word (the left sample's three bytes, then the right's low byte) and a 16-bit one (the
    right's two high bytes) of a packed six-byte record: two contiguous shifts per frame, twice as
    fast as packing pairs of frames into three words."""
    left, right = ints.view(np.uint32)
    frames = np.empty(ints.shape[1], dtype=STEREO_FRAME_24)
    low = np.left_shift(right, 24)
    low |= left & np.uint32(0xFFFFFF)
    frames["low"] = low
    frames["high"] = (right >> 8).astype(np.uint16)
    return frames.view(np.uint8)


def write_mp3(path: str | Path, audio: np.ndarray, sample_rate: int, *, bitrate: str = "320k") -> None:
    """Encode ``audio`` (channels, frames) as MP3 with ffmpeg's LAME, atomically (``Mp3Encoding``)."""
    start_mp3(path, audio, sample_rate, bitrate=bitrate).result()


def start_mp3(path: str | Path, audio: np.ndarray, sample_rate: int, *, bitrate: str = "320k") -> Mp3Encoding:
    """Start encoding ``audio`` (channels, frames) as the MP3 ``path`` (``Mp3Encoding``); its 16-bit
    samples are converted here first (``pcm16_file``)."""
    return Mp3Encoding(Path(path), pcm16_file(audio), sample_rate, audio.shape[0], bitrate=bitrate)


def pcm16_file(audio: np.ndarray) -> BinaryIO:
    """``audio`` (channels, frames) clipped to [-1, 1] as interleaved 16-bit little-endian PCM, in an
    unnamed temporary file read from its start: ffmpeg's input for ``Mp3Encoding``. Converted
    ``PCM16_BLOCK`` frames at a time into one buffer, so no song-long copy is made (0.05 s for a
    2-minute song against 0.09 s). Its few dozen numpy calls each take the GIL back, so a caller
    converts where no other thread runs Python: beside one that did, it took 0.6 s."""
    out = tempfile.TemporaryFile()
    channels, frames = audio.shape
    size = min(PCM16_BLOCK, max(frames, 1))
    scaled = np.empty((channels, size), dtype=np.float32)
    ints = np.empty((size, channels), dtype="<i2")
    for start in range(0, frames, size):
        n = min(size, frames - start)
        np.clip(audio[:, start:start + n], -1.0, 1.0, out=scaled[:, :n])
        scaled[:, :n] *= np.float32(32767.0)
        np.copyto(ints[:n], scaled[:, :n].T, casting="unsafe")
        out.write(ints[:n].data)
    out.seek(0)
    return out


class Mp3Encoding:
    """The 16-bit PCM file ``pcm`` (``pcm16_file``; closed here) being encoded as the MP3 ``path`` by
    ffmpeg's LAME in its own process, into a temporary file beside it: ``result()`` waits for it and
    renames it into place (a RuntimeError naming ``path`` where ffmpeg failed), ``stop()`` ends it
    and removes what it wrote.

    The MP3 is the listening copy next to the 24-bit WAV (the master), so LAME runs at its fast
    quality setting (``-compression_level 7``), 2.5x faster than its default at 320 kbit/s. The
    samples are ffmpeg's standard input, read from the file (pydub's export wrote a temporary WAV
    and copied ffmpeg's output from another: 1.0-1.2 s against 0.86 s for a 3-minute song), not
    fed through a pipe: ``subprocess`` writes a pipe 4 KB at a time, each write after taking the
    GIL back. No thread of this process waits on ffmpeg, so a render may fork while it encodes
    (``template_engine.forked``)."""

    def __init__(self, path: Path, pcm: BinaryIO, sample_rate: int, channels: int, *, bitrate: str = "320k") -> None:
        self.path = path
        self._ffmpeg: subprocess.Popen | None = None
        with pcm:
            self._tmp = temp_beside(path)
            self._said = tempfile.TemporaryFile()
            try:
                self._ffmpeg = subprocess.Popen(
                    [ffmpeg_exe(), "-v", "error", "-y", "-f", "s16le", "-ar", str(sample_rate), "-ac", str(channels),
                     "-i", "pipe:0", "-b:a", bitrate, "-fflags", "+bitexact", "-map_metadata", "-1",
                     "-compression_level", "7", "-metadata", "encoder=artist-templates", "-id3v2_version", "4",
                     "-f", "mp3", str(self._tmp)], stdin=pcm, stdout=subprocess.DEVNULL, stderr=self._said)
            except BaseException:  # ffmpeg could not be started: nothing is left beside ``path``
                self._finish()
                raise

    def result(self) -> None:
        """Wait for the encoder and rename its MP3 onto ``path`` (once: later calls return at once)."""
        if self._ffmpeg is None:
            return
        code = self._ffmpeg.wait()
        try:
            if code != 0:
                self._said.seek(0)
                done = subprocess.CompletedProcess(self._ffmpeg.args, code, None, self._said.read())
                raise RuntimeError(f"ffmpeg could not encode {self.path}: {ffmpeg_complaint(done)}")
            os.replace(self._tmp, self.path)
        finally:
            self._finish()

    def stop(self) -> None:
        """End the encoder where it still runs, and remove what it wrote."""
        if self._ffmpeg is not None:
            self._ffmpeg.kill()
            self._ffmpeg.wait()
            self._finish()

    def _finish(self) -> None:
        self._ffmpeg = None
        self._said.close()
        self._tmp.unlink(missing_ok=True)


def resample(audio: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Resample ``audio`` (channels, frames) from ``sr_from`` to ``sr_to`` Hz with a polyphase filter."""
    if sr_from == sr_to:
        return audio
    ratio = Fraction(sr_to, sr_from).limit_denominator(1000)
    return scipy.signal.resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """Return (2, frames): mono is duplicated, more than two channels keep the first two."""
    if audio.shape[0] == 1:
        return np.repeat(audio, 2, axis=0)
    return audio[:2]


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Mean over channels: (channels, frames) -> (frames,)."""
    return audio.mean(axis=0)
