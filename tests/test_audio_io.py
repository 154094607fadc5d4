"""24-bit WAV written and read back: every sample within one step, silence exact, overs clipped."""

import numpy as np
import pytest
import soundfile as sf

from sample_library.audio_io import WRITE_BLOCK, write_wav


@pytest.mark.parametrize("channels", [1, 2])
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
