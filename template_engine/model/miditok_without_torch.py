"""miditok without its torch data loaders. ``import miditok`` imports ``miditok.pytorch_data``, and
with it torch (2.5 s), whenever torch can be imported; tokenising and writing never use those
loaders. Imported here first with torch hidden, miditok skips them as it does on a machine without
torch (it catches the ImportError); torch imports as usual afterwards, for training."""

from __future__ import annotations

import sys

if "miditok" not in sys.modules and "torch" not in sys.modules:
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        import miditok  # noqa: F401
    finally:
        del sys.modules["torch"]

from miditok import REMI, TokenizerConfig, TokSequence  # noqa: E402

__all__ = ["REMI", "TokSequence", "TokenizerConfig"]
