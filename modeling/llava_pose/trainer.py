"""The HF ``Trainer`` for LLaVA-pose: pose accuracy while training and evaluating, a progress bar that shows it.

* :class:`PoseTrainer` computes the loss as the model does (``lm_loss + pose_loss_weight · pose_loss``, a per-batch
  mean, so the Trainer scales it for gradient accumulation) and, from the same forward pass, teacher-forced
  accuracies (:class:`PoseStats`). Evaluation adds them to the Trainer's metrics as ``eval_pose_acc_pi6`` etc.
* :class:`PoseProgressCallback` replaces the Trainer's tqdm bar: same bar, with the running loss and pose accuracy
  in its postfix, and evaluation results printed under it.
* :class:`EpochCallback` tells the training data which epoch it is in (its mirror decisions depend on it).

Accuracies (teacher forcing: the model reads the reference answer, as in the loss):

* ``pose_acc_pi6`` / ``pose_acc_pi18``: the pose error Δ (:func:`modeling.evaluation.metrics.pose_error`, the official
  geodesic angle) between the decoded argmax bins and the exact reference angles is below π/6 / π/18, over all
  ``<pose6D>`` with a target;
* ``answer_acc``: every answer token (category words, tag, ``<pose6D>``, EOS) is the argmax of the previous
  position: for the joint task, "the category is right";
* ``aware_acc_pi6``: the answer is right and every pose of the sequence has Δ < π/6: for the joint task, a
  teacher-forced stand-in for the 3D-aware Acc@π/6 of Task 3 (the evaluation command measures the real one, with
  generation).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import ProgressCallback

from modeling.evaluation.metrics import pose_error
from modeling.geometry import bin_to_angle
from modeling.llava_pose.training_data import IGNORE_INDEX


class PoseStats:
    """Running counts of the teacher-forced accuracies (see the module docstring)."""

    def __init__(self, pose_token_id: int):
        self.pose_token_id = pose_token_id
        self.reset()

    def reset(self) -> None:
        """Zero the counts (a new evaluation, or the window since the last training log)."""
        # poses, poses < π/6, poses < π/18, sequences, right answers, right answers with all poses < π/6
        self.counts = np.zeros(6, dtype=np.float64)

    @torch.no_grad()
    def update(self, outputs: Any, inputs: dict[str, torch.Tensor], angles: torch.Tensor | None) -> None:
        """Add a batch: the model's outputs, the inputs it got (ids, labels, pose_mask) and the exact angles."""
        input_ids, labels = inputs["input_ids"], inputs.get("labels")
        batch_size = input_ids.shape[0]
        pose_ok = np.ones(batch_size, dtype=bool)
        if angles is not None and outputs.pose_logits is not None and outputs.pose_logits.shape[0]:
            is_pose = input_ids == self.pose_token_id
            rank = (is_pose.long().cumsum(dim=1) - 1)[is_pose]
            rows = is_pose.nonzero()[:, 0]
            mask = inputs.get("pose_mask")
            if mask is None:
                mask = torch.ones(angles.shape[:2], dtype=torch.bool, device=angles.device)
            in_range = rank < angles.shape[1]
            has_target = torch.zeros_like(in_range)
            has_target[in_range] = mask[rows[in_range], rank[in_range]].to(has_target.device)
            if has_target.any():
                bins = outputs.pose_logits[has_target].argmax(dim=-1).cpu().numpy()
                target = angles[rows[has_target], rank[has_target]].double().cpu().numpy()
                error = pose_error(bin_to_angle(bins, outputs.pose_logits.shape[-1]), target)
                self.counts[0] += error.size
                self.counts[1] += np.sum(error < math.pi / 6)
                self.counts[2] += np.sum(error < math.pi / 18)
                np.logical_and.at(pose_ok, rows[has_target].cpu().numpy(), error < math.pi / 6)
        if labels is not None and outputs.logits is not None and outputs.logits.shape[1] == labels.shape[1]:
            predicted = outputs.logits[:, :-1].argmax(dim=-1)
            target = labels[:, 1:]
            scored = target != IGNORE_INDEX
            right = ((predicted == target) | ~scored).all(dim=1) & scored.any(dim=1)
            right = right.cpu().numpy()
            self.counts[3] += batch_size
            self.counts[4] += right.sum()
            self.counts[5] += (right & pose_ok).sum()

    def metrics(self, counts: np.ndarray | None = None) -> dict[str, float]:
        """The accuracies (fractions) of the counts so far; a metric without data is left out."""
        c = self.counts if counts is None else counts
        out = {}
        if c[0]:
            out["pose_acc_pi6"], out["pose_acc_pi18"] = c[1] / c[0], c[2] / c[0]
        if c[3]:
            out["answer_acc"], out["aware_acc_pi6"] = c[4] / c[3], c[5] / c[3]
        return {k: float(v) for k, v in out.items()}


class PoseTrainer(Trainer):
    """A [`Trainer`] that reports the teacher-forced pose accuracies of LLaVA-pose (module docstring).

    Batches come from :class:`~modeling.llava_pose.training_data.LlavaPoseCollator`; their ``pose_angles`` entry (exact
    angles for the metrics) is removed before the forward pass. ``pose_token_id`` is the model's ``<pose6D>`` id.
    """

    def __init__(self, *args, pose_token_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_stats = PoseStats(pose_token_id)
        self.eval_stats = PoseStats(pose_token_id)
        # The model's loss is a per-batch mean (LM and pose): let the Trainer divide it for gradient accumulation
        # rather than pass num_items_in_batch into the model's kwargs.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The model's loss (LM + weighted pose loss); counts the teacher-forced pose accuracies while training.

        ``pose_angles`` (exact angles, B × 3 radians, for the metrics only) is taken out of ``inputs`` first.
        """
        angles = inputs.pop("pose_angles", None)
        outputs = model(**inputs)
        if model.training:
            self.train_stats.update(outputs, inputs, angles)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Evaluation step: counts the pose accuracies here and returns only the loss (no B × L × V logits gathered)."""
        inputs = self._prepare_inputs(inputs)
        angles = inputs.pop("pose_angles", None)
        with torch.no_grad(), self.compute_loss_context_manager():
            outputs = model(**inputs)
        self.eval_stats.update(outputs, inputs, angles)
        # Only the loss goes back: the metrics are counted here, without gathering B×L×V logits.
        return outputs.loss.detach(), None, None

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        """The Trainer's evaluation loop, with the pose accuracies summed over processes added to its metrics."""
        self.eval_stats.reset()
        output = super().evaluation_loop(dataloader, description, prediction_loss_only=prediction_loss_only,
                                         ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        counts = self._sum_over_processes(self.eval_stats.counts)
        for name, value in self.eval_stats.metrics(counts).items():
            output.metrics[f"{metric_key_prefix}_{name}"] = value
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Log; a training log (one that has ``loss``) also gets the accuracies since the previous one."""
        # A training log (it has "loss") gets the accuracies since the previous one.
        if "loss" in logs:
            logs.update(self.train_stats.metrics(self._sum_over_processes(self.train_stats.counts)))
            self.train_stats.reset()
        super().log(logs, start_time)

    def _sum_over_processes(self, counts: np.ndarray) -> np.ndarray:
        if self.accelerator.num_processes == 1:
            return counts
        tensor = torch.as_tensor(counts, dtype=torch.float64, device=self.accelerator.device)
        return self.accelerator.reduce(tensor, reduction="sum").cpu().numpy()


class PoseProgressCallback(ProgressCallback):
    """The Trainer's tqdm bar, labelled, with the latest loss and pose accuracy in its postfix; evaluation results
    and the final summary are written under it."""

    def __init__(self, description: str = "train"):
        super().__init__()
        self.description = description

    def on_train_begin(self, args, state, control, **kwargs):
        """Open the training bar with this run's description."""
        super().on_train_begin(args, state, control, **kwargs)
        if self.training_bar is not None:
            self.training_bar.set_description(self.description)

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Show the last loss and pose accuracies on the training bar (main process only)."""
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        if "loss" in logs:
            postfix = {"loss": f"{logs['loss']:.4g}"}
            for key, label in (("pose_acc_pi6", "pose_acc"), ("aware_acc_pi6", "aware_acc")):
                if key in logs:
                    postfix[label] = f"{logs[key]:.3f}"
            self.training_bar.set_postfix(postfix, refresh=False)
        elif any(key.startswith("eval_") for key in logs) or "train_runtime" in logs:
            shown = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in logs.items() if k != "total_flos"}
            self.training_bar.write(str(shown))


class EpochCallback(TrainerCallback):
    """Calls ``dataset.set_epoch(epoch)`` at the start of every epoch (also the epoch a resumed run restarts in)."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        """Tell the dataset which epoch starts, so that its per-epoch sampling (mix, jitter) is reproducible."""
        # state.epoch is the float epoch reached so far: k.0 at the start of epoch k, fractional after a resume.
        self.dataset.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))


__all__ = ["EpochCallback", "PoseProgressCallback", "PoseStats", "PoseTrainer"]
