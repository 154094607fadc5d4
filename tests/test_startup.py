"""Start-up: a render writes its notes in a forked process that has not loaded the audio stack nor
the mixing side (the render loads them meanwhile), and never loads torch (it writes with the numpy
decoder)."""

import subprocess
import sys

AUDIO_STACK = ("scipy.signal", "scipy.ndimage", "scipy.fft", "pyloudnorm", "pedalboard", "template_engine.render.mix",
               "template_engine.render.candidate")


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {AUDIO_STACK!r} if m in sys.modules))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_the_render_path_imports_no_signal_tools_before_generating():
    assert _loaded_after("import template_engine.cli, template_engine.render.batch, template_engine.model.generate") == []


def test_the_signal_tools_load_when_audio_is_first_filtered():
    loaded = _loaded_after("import numpy as np\nfrom template_engine.render.mixing import BAND_CENTRES, eq_fir\n"
                           "eq_fir(np.zeros(BAND_CENTRES.size), 44100)")
    assert "scipy.signal" in loaded


FIRST_NOTE = """
import os, sys
from template_engine.cli import render_main
from template_engine.model.decoder import Decoder
RENDER = os.getpid()

def first_note(*args, **kwargs):
    print('forked' if os.getppid() == RENDER else 'here')
    print(' '.join(m for m in sys.modules if m.startswith('template_engine.demo') or m in {stack!r} or m == 'torch'))
    sys.stdout.flush()
    sys.exit(0)  # from the process that writes the songs, the render's exits with it

Decoder.next_logits = first_note
sys.argv = ['render-template', '--artist', 'demo', '--artists-dir', sys.argv[1], '--out', sys.argv[2], '--count', '1',
            '--quiet']
render_main()
"""


def test_the_built_demo_writes_its_notes_aside_loading_nothing_that_builds_it_nor_torch(trained_bundle, tmp_path):
    from template_engine.demo.bundle_state import DEMO

    demo = tmp_path / "artists" / DEMO
    demo.parent.mkdir()
    demo.symlink_to(trained_bundle.path, target_is_directory=True)
    code = FIRST_NOTE.format(stack=AUDIO_STACK)
    run = subprocess.run([sys.executable, "-c", code, str(demo.parent), str(tmp_path / "out")], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["forked", "template_engine.demo", "template_engine.demo.bundle_state"]


AT_EXIT = """
import atexit, gc, sys
from template_engine.cli import main
atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))  # runs after the handlers the command adds
sys.argv = ['template', 'artists', '--artists-dir', sys.argv[1]]
main()
"""


def test_a_command_leaves_its_objects_to_the_end_of_the_process_uncollected(tmp_path):
    run = subprocess.run([sys.executable, "-c", AT_EXIT, str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-2:] == ["frozen", "True"]
