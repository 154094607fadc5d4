"""A call forked aside returns what it returns here, raises what it raises here, and says so when its
process dies; where this process runs other threads it is not forked. Each case runs in a fresh
process, whose threads are known."""

import subprocess
import sys

FORKED = """
import os
import threading
from sample_library.errors import InputError
from template_engine.forked import ForkedCall, can_fork

def pid_and_sum(values):
    return os.getpid(), sum(values)

def bad_input(path):
    raise InputError(path, "is not a model config")

def die():
    os._exit(3)

assert can_fork()
with ForkedCall(pid_and_sum, [1, 2, 3]) as call:
    pid, total = call.result()
print("forked", pid != os.getpid(), total)
with ForkedCall(bad_input, "model/config.json") as call:
    try:
        call.result()
    except InputError as exc:
        print("raised", exc.what, exc.problem.replace(" ", "_"))
with ForkedCall(die) as call:
    try:
        call.result()
    except RuntimeError as exc:
        print("died", "exit code 3" in str(exc))
release = threading.Event()
other = threading.Thread(target=release.wait)
other.start()
with ForkedCall(pid_and_sum, [4, 5]) as call:
    print("threaded", can_fork(), call.result() == (os.getpid(), 9))
release.set()
other.join()
with ForkedCall(pid_and_sum, [7], fork=False) as call:
    print("kept", call.result() == (os.getpid(), 7))
"""


def test_a_forked_call_returns_and_raises_as_here_and_runs_here_beside_threads_or_when_asked():
    run = subprocess.run([sys.executable, "-c", FORKED], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:5] == ["forked True 6", "raised model/config.json is_not_a_model_config",
                                          "died True", "threaded False True", "kept True"]
