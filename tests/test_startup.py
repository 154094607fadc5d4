"""Start-up: a render loads the audio stack when it first mixes, not before its first note."""

import subprocess
import sys

AUDIO_STACK = ("scipy.signal", "scipy.ndimage", "scipy.fft", "pyloudnorm")


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {AUDIO_STACK!r} if m in sys.modules))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_the_render_path_imports_no_signal_tools_before_generating():
    assert _loaded_after("import template_engine.cli, template_engine.render.batch, template_engine.model.generate") == []


def test_the_signal_tools_load_when_audio_is_first_filtered():
    loaded = _loaded_after("import numpy as np\nfrom template_engine.render.mixing import BAND_CENTRES, eq_fir\n"
                           "eq_fir(np.zeros(BAND_CENTRES.size), 44100)")
    assert "scipy.signal" in loaded
