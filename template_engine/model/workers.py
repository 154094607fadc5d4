"""Training in several processes with ``torchrun`` (DDP): gloo on CPUs, NCCL on GPUs.

``torchrun --nproc-per-node N -m template_engine.cli pretrain ...`` starts N copies; each reads the
rank and world size torchrun puts in its environment. Every process draws its own batches, DDP
averages the gradients, and rank 0 alone validates, logs and writes files; the others follow its
decision to stop. A single process (no torchrun) is a world of one and uses none of this.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Workers:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag``, the same in every process."""
        if self.world == 1:
            return flag
        value = torch.tensor([int(flag)])
        dist.broadcast(value, src=0)
        return bool(value.item())

    def wait(self) -> None:
        """Hold every process until all reach this point."""
        if self.world > 1:
            dist.barrier()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` under DDP when there are several processes."""
        if self.world == 1:
            return model
        return torch.nn.parallel.DistributedDataParallel(model)

    def accumulating(self, net: torch.nn.Module, *, sync: bool) -> contextlib.AbstractContextManager:
        """Where a backward pass of ``net`` (as ``wrap`` gave it) keeps its gradients in this process
        (DDP's ``no_sync``) unless ``sync``: the last of a step's micro-batches averages them once."""
        if self.world == 1 or sync:
            return contextlib.nullcontext()
        return net.no_sync()  # type: ignore[operator]

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def start_workers(device: str) -> Workers:
    """Join the process group torchrun describes in the environment, or a world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Workers()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return Workers(dist.get_rank(), dist.get_world_size())
