"""The training tests' comparison of two runs' weights."""

from __future__ import annotations

from collections.abc import Mapping

import torch


def assert_same_weights(expected: Mapping[str, torch.Tensor], actual: Mapping[str, torch.Tensor]) -> None:
    """Every tensor of ``expected`` equal in ``actual`` to float32 rounding (1e-5): MKL's threaded
    matrix products round differently from run to run, so two runs of the same seed and steps agree
    to the last bits only; a wrong seed, batch or optimiser state is 1e-3 off or more."""
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=1e-5,
                                   msg=lambda m, name=name: f"{name}: {m}")
