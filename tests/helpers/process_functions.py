"""Module-level functions that tests run in several processes (``modeling.demo.processes.run_in_processes``): each
process is a fresh interpreter that imports them by name."""

from __future__ import annotations

import os

from modeling.utils.errors import ImageNet3DError


def rank_and_group(tag: str) -> dict:
    """This process's rank, the group's size as accelerate sees it, a sum over the group and its threads."""
    import torch
    import torch.distributed as dist
    from accelerate import PartialState

    state = PartialState(cpu=True)  # as the Trainer on CPU (use_cpu)
    total = torch.tensor([float(state.process_index + 1)])
    if dist.is_initialized():
        dist.all_reduce(total)
    return {"tag": tag, "rank": state.process_index, "processes": state.num_processes, "sum": float(total),
            "threads": torch.get_num_threads(), "use_cpu": os.environ.get("ACCELERATE_USE_CPU")}


def fails_on_rank_one(kind: str) -> None:
    """Rank 1 raises (an ImageNet3DError or a ValueError); rank 0 waits in a collective that never completes."""
    import torch
    import torch.distributed as dist
    from accelerate import PartialState

    state = PartialState(cpu=True)  # as the Trainer on CPU (use_cpu)
    if state.process_index == 1:
        if kind == "ours":
            raise ImageNet3DError("data/train.txt: line 3: no such image")
        raise ValueError("something broke")
    dist.all_reduce(torch.zeros(1))
