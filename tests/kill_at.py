"""Kill a training process once it has checkpointed: what resume tests start from."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_and_kill_at_checkpoint(code: str, meta: Path, step: int = 10, timeout: float = 240) -> int:
    """Run ``code`` in a Python child, SIGKILL it once ``meta`` (checkpoint.json) records ``step`` or
    more steps (or it ends, or ``timeout`` seconds pass); returns the step of the last checkpoint."""
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    deadline = time.monotonic() + timeout
    while child.poll() is None and time.monotonic() < deadline:
        if meta.exists() and json.loads(meta.read_text())["step"] >= step:
            break
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    return json.loads(meta.read_text())["step"]
