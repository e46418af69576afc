"""What the two Trainers share (the baseline's and LLaVA-pose's): :class:`EpochCallback`, which tells a training
dataset which epoch starts, and :func:`resume_checkpoint`, the checkpoint that ``--resume`` continues from.

The training datasets of both (the baseline's :class:`~modeling.baseline.training.AugmentedRows`, LLaVA-pose's
:class:`~modeling.llava_pose.training_data.TrainingMix`) draw each item's mirroring and jitter from (seed, epoch,
index) alone, so that an item is the same whichever process loads it, and after a resume, on any number of
processes, as in an uninterrupted run. In the baseline package because LLaVA-pose may build on the baseline and
never the other way round.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from modeling.utils.errors import located


class EpochCallback(TrainerCallback):
    """Calls ``dataset.set_epoch(epoch)`` at the start of every epoch (also the epoch a resumed run restarts in)."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        """Tell the dataset which epoch starts, so that its per-epoch sampling (mix, jitter) is reproducible."""
        # state.epoch is the float epoch reached so far: k.0 at the start of epoch k, fractional after a resume.
        self.dataset.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))


def resume_checkpoint(resume: bool | str | None, output_dir: Path) -> str | None:
    """The checkpoint to continue from: the last ``checkpoint-N`` of ``output_dir`` (``resume`` True), the folder
    ``resume`` names, or None (no ``resume``). Raises ImageNet3DError when there is none to resume from, and when
    ``output_dir`` holds checkpoints of an earlier run that ``resume`` does not ask to continue."""
    from transformers.trainer_utils import get_last_checkpoint

    if not resume:
        if output_dir.is_dir() and get_last_checkpoint(str(output_dir)):
            raise located(output_dir, "holds checkpoints of an earlier run: pass --resume to continue it, or choose "
                                      "an empty output folder")
        return None
    if resume is True:
        last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
        if last is None:
            raise located(output_dir, "--resume: no checkpoint-N folder to resume from")
        return last
    path = Path(resume)
    if not (path / "trainer_state.json").is_file():
        raise located(path, "--resume: not a Trainer checkpoint (no trainer_state.json)")
    return str(path)


__all__ = ["EpochCallback", "resume_checkpoint"]
