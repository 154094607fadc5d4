"""The allocator's settings for a render keep freed big arrays mapped for the next one."""

import platform
import subprocess
import sys

import pytest

FAULTS_OF_A_SECOND_ARRAY = """
import resource, sys
import numpy as np
from template_engine.process_memory import tune_malloc_for_render
if sys.argv[1] == "tuned":
    assert tune_malloc_for_render()
def faults_of_one_array() -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    track = np.ones((2, 8 * 2**20), dtype=np.float32)  # 64 MB: a 3-minute stereo track
    del track
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_of_one_array()
print(faults_of_one_array())
"""


FAULTS_AFTER_PREFAULTING = """
import resource, sys
import numpy as np
from template_engine.process_memory import prefault_heap, tune_malloc_for_render
if sys.argv[1] == "tuned":
    assert tune_malloc_for_render()
prefault_heap(64 * 2**20)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
track = np.ones((2, 8 * 2**20), dtype=np.float32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults_in_fresh_process(script: str, mode: str) -> int:
    """The page faults ``script`` prints, run in a fresh process (``mode`` "tuned" or "default"), in
    4 KB pages (numpy's huge pages off)."""
    env = {"NUMPY_MADVISE_HUGEPAGE": "0", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True, env=env)
    return int(done.stdout)


PAGES_OF_A_TRACK = 64 * 2**20 // 4096


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_a_freed_track_is_reused_without_faulting_its_pages_again() -> None:
    assert faults_in_fresh_process(FAULTS_OF_A_SECOND_ARRAY, "tuned") < PAGES_OF_A_TRACK / 100


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_prefaulted_memory_holds_the_next_track_without_faulting() -> None:
    assert faults_in_fresh_process(FAULTS_AFTER_PREFAULTING, "tuned") < PAGES_OF_A_TRACK / 100
    assert faults_in_fresh_process(FAULTS_AFTER_PREFAULTING, "default") > PAGES_OF_A_TRACK * 0.9
