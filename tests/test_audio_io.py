"""24-bit WAV written and read back: every sample within one step, silence exact, overs clipped."""

import numpy as np
import pytest
import soundfile as sf

from sample_library.audio_io import WRITE_BLOCK, write_wav


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_pcm24_wav_round_trip(tmp_path, channels):
    rng = np.random.default_rng(0)
    frames = 3 * WRITE_BLOCK + 123
    audio = (rng.standard_normal((channels, frames)) * 0.3).astype(np.float32)
    audio[:, WRITE_BLOCK:2 * WRITE_BLOCK] = 0.0
    audio[0, 5] = 1.7
    write_wav(tmp_path / "x.wav", audio, 48000)
    info = sf.info(str(tmp_path / "x.wav"))
    assert (info.subtype, info.samplerate, info.channels, info.frames) == ("PCM_24", 48000, channels, frames)
    back, _ = sf.read(str(tmp_path / "x.wav"), dtype="float64", always_2d=True)
    expected = np.clip(audio.astype(np.float64), -1.0, 1.0 - 2.0 ** -23).T
    assert np.max(np.abs(back - expected)) <= 0.5 * 2.0 ** -23 + 1e-12
    assert not np.any(back[WRITE_BLOCK:2 * WRITE_BLOCK])
    assert not list(tmp_path.glob(".*"))


def test_a_corrupt_mp3_is_named_with_ffmpegs_reason_and_a_good_one_decodes(tmp_path):
    from sample_library.audio_io import _read_with_ffmpeg, read_audio, write_mp3
    from sample_library.errors import InputError

    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"ID3" + bytes(range(256)) * 40)
    with pytest.raises(InputError) as caught:
        read_audio(bad)
    assert "broken.mp3" in str(caught.value) and "cannot decode audio (" in str(caught.value)
    assert "ffprobe" not in str(caught.value)
    t = np.arange(44100) / 44100
    tone = np.stack([np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32) * 0.5
    write_mp3(tmp_path / "tone.mp3", tone, 44100)
    data, rate = _read_with_ffmpeg(tmp_path / "tone.mp3")
    assert rate == 44100 and data.shape[1] == 2 and abs(np.abs(data).max() - 0.5) < 0.02


def test_an_mp3_encodes_with_no_thread_here_and_lands_whole_only_when_waited_for(tmp_path):
    """ffmpeg encodes in its own process and nothing here waits on it, so a render may fork meanwhile;
    the MP3 appears under its name once ``result()`` is called, and nothing else is left."""
    from sample_library.audio_io import _read_with_ffmpeg, start_mp3
    from template_engine.forked import can_fork

    t = np.arange(2 * 44100) / 44100
    tone = np.stack([np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32) * 0.5
    mp3 = start_mp3(tmp_path / "song.mp3", tone, 44100)
    assert can_fork() and not (tmp_path / "song.mp3").exists()
    mp3.result()
    mp3.result()
    assert [p.name for p in tmp_path.iterdir()] == ["song.mp3"]
    data, rate = _read_with_ffmpeg(tmp_path / "song.mp3")
    assert rate == 44100 and abs(data.shape[0] - tone.shape[1]) < 2 * 1152 and abs(np.abs(data).max() - 0.5) < 0.02


def test_an_mp3_stopped_or_failed_leaves_nothing_behind(tmp_path):
    from sample_library.audio_io import start_mp3, write_mp3

    tone = np.zeros((2, 44100 * 20), dtype=np.float32)
    mp3 = start_mp3(tmp_path / "stopped.mp3", tone, 44100)
    mp3.stop()
    mp3.result()
    with pytest.raises(RuntimeError, match=r"ffmpeg could not encode .*failed\.mp3: "):
        write_mp3(tmp_path / "failed.mp3", tone[:, :4410], 44100, bitrate="-5k")
    assert list(tmp_path.iterdir()) == []


def test_an_mp3_whose_encoder_cannot_start_leaves_nothing_behind(tmp_path, monkeypatch):
    import sample_library.audio_io as audio_io

    monkeypatch.setattr(audio_io, "ffmpeg_exe", lambda: str(tmp_path / "no-ffmpeg"))
    with pytest.raises(FileNotFoundError):
        audio_io.start_mp3(tmp_path / "song.mp3", np.zeros((2, 4410), dtype=np.float32), 44100)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("channels, frames", [(1, 1000), (2, 2 * 2**18 + 77), (2, 0)])
def test_the_mp3_encoders_input_is_each_frames_samples_clipped_and_interleaved_as_16_bit(channels, frames):
    from sample_library.audio_io import PCM16_BLOCK, pcm16_file

    assert PCM16_BLOCK == 2**18
    audio = (np.random.default_rng(2).standard_normal((channels, frames)) * 0.6).astype(np.float32)
    with pcm16_file(audio) as pcm:
        samples = np.frombuffer(pcm.read(), dtype="<i2").reshape(frames, channels)
    expected = (np.clip(audio, -1, 1) * np.float32(32767)).astype(np.int16).T  # float32 products, truncated
    assert samples.shape == (frames, channels) and np.array_equal(samples, expected)
    assert frames == 0 or (samples.max() == 32767 and samples.min() == -32767)


@pytest.mark.parametrize("channels, frames", [(1, 3 * WRITE_BLOCK + 123), (2, 3 * WRITE_BLOCK + 124), (2, 10)])
def test_silent_blocks_skipped_over_read_back_as_the_bytes_wave_writes(tmp_path, channels, frames):
    import io
    import wave

    from sample_library.audio_io import pcm24_bytes

    audio = (np.random.default_rng(1).standard_normal((channels, frames)) * 0.3).astype(np.float32)
    audio[:, :WRITE_BLOCK] = 0.0
    audio[:, 2 * WRITE_BLOCK:] = 0.0
    write_wav(tmp_path / "x.wav", audio, 44100)
    reference = io.BytesIO()
    with wave.open(reference, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(3)
        out.setframerate(44100)
        out.writeframes(pcm24_bytes(audio))
    assert (tmp_path / "x.wav").read_bytes() == reference.getvalue()
