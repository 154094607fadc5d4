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


def second_array_faults(mode: str) -> int:
    """Page faults of allocating a 64 MB array after one was freed, in a fresh process (``mode``
    "tuned" or "default"), in 4 KB pages (numpy's huge pages off). By default glibc maps and faults
    in every such array afresh: 16,385 faults here."""
    env = {"NUMPY_MADVISE_HUGEPAGE": "0", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", FAULTS_OF_A_SECOND_ARRAY, mode], capture_output=True,
                          text=True, check=True, env=env)
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_a_freed_track_is_reused_without_faulting_its_pages_again() -> None:
    pages = 64 * 2**20 // 4096
    assert second_array_faults("tuned") < pages / 100
