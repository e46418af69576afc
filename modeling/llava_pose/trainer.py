"""The HF ``Trainer`` for LLaVA-pose: pose accuracy while training and evaluating, a progress bar that shows it.

* :class:`PoseTrainer` computes the loss as the model does (``lm_loss + pose_loss_weight · pose_loss``, a per-batch
  mean, so the Trainer scales it for gradient accumulation; with several processes, each process's share of the
  step's tokens and poses, so that N processes with batch b train as one with batch N·b) and, from the same forward
  pass, teacher-forced accuracies (:class:`PoseStats`). Evaluation adds them to the Trainer's metrics as
  ``eval_pose_acc_pi6`` etc., each validation sequence counted once over all processes.
* :class:`PoseProgressCallback` replaces the Trainer's tqdm bar: same bar, with the running loss and pose accuracy
  in its postfix, and evaluation results printed under it.
* :class:`EpochCallback` (:mod:`modeling.baseline.trainer_common`, shared with the baseline) tells the training
  data which epoch it is in (its mirror decisions depend on it).

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
from transformers import Trainer
from transformers.trainer_callback import ProgressCallback

from modeling.baseline.trainer_common import EpochCallback
from modeling.evaluation.metrics import pose_error
from modeling.geometry import bin_to_angle
from modeling.llava_pose.training_data import IGNORE_INDEX, KindGroupedSampler


class PoseStats:
    """Running counts of the teacher-forced accuracies (see the module docstring).

    The counts are sums of per-sequence rows (:meth:`sequence_counts`), so that an evaluation over several processes
    can gather the rows, drop the duplicates that pad the last batch, and count each sequence once.
    """

    FIELDS = ("poses", "poses_pi6", "poses_pi18", "sequences", "answers_right", "aware_pi6")

    def __init__(self, pose_token_id: int):
        self.pose_token_id = pose_token_id
        self.reset()

    def reset(self) -> None:
        """Zero the counts (a new evaluation, or the window since the last training log)."""
        self.counts = np.zeros(len(self.FIELDS), dtype=np.float64)

    @torch.no_grad()
    def sequence_counts(self, outputs: Any, inputs: dict[str, torch.Tensor], angles: torch.Tensor | None) -> np.ndarray:
        """The counts of each sequence of a batch, (B, 6) in the order of :attr:`FIELDS`: its poses with a target,
        those with Δ < π/6 and < π/18, 1, whether the answer is right, whether it is right with every pose < π/6."""
        input_ids, labels = inputs["input_ids"], inputs.get("labels")
        batch_size = input_ids.shape[0]
        rows = np.zeros((batch_size, len(self.FIELDS)), dtype=np.float64)
        pose_ok = np.ones(batch_size, dtype=bool)
        if angles is not None and outputs.pose_logits is not None and outputs.pose_logits.shape[0]:
            is_pose = input_ids == self.pose_token_id
            rank = (is_pose.long().cumsum(dim=1) - 1)[is_pose]
            sequence = is_pose.nonzero()[:, 0]
            mask = inputs.get("pose_mask")
            if mask is None:
                mask = torch.ones(angles.shape[:2], dtype=torch.bool, device=angles.device)
            in_range = rank < angles.shape[1]
            has_target = torch.zeros_like(in_range)
            has_target[in_range] = mask[sequence[in_range], rank[in_range]].to(has_target.device)
            if has_target.any():
                bins = outputs.pose_logits[has_target].argmax(dim=-1).cpu().numpy()
                target = angles[sequence[has_target], rank[has_target]].double().cpu().numpy()
                error = pose_error(bin_to_angle(bins, outputs.pose_logits.shape[-1]), target)
                which = sequence[has_target].cpu().numpy()
                np.add.at(rows[:, 0], which, 1)
                np.add.at(rows[:, 1], which, error < math.pi / 6)
                np.add.at(rows[:, 2], which, error < math.pi / 18)
                np.logical_and.at(pose_ok, which, error < math.pi / 6)
        if labels is not None and outputs.logits is not None and outputs.logits.shape[1] == labels.shape[1]:
            predicted = outputs.logits[:, :-1].argmax(dim=-1)
            target = labels[:, 1:]
            scored = target != IGNORE_INDEX
            right = ((predicted == target) | ~scored).all(dim=1) & scored.any(dim=1)
            right = right.cpu().numpy()
            rows[:, 3] = 1
            rows[:, 4] = right
            rows[:, 5] = right & pose_ok
        return rows

    def update(self, outputs: Any, inputs: dict[str, torch.Tensor], angles: torch.Tensor | None) -> None:
        """Add a batch: the model's outputs, the inputs it got (ids, labels, pose_mask) and the exact angles."""
        self.add(self.sequence_counts(outputs, inputs, angles))

    def add(self, rows: np.ndarray) -> None:
        """Add per-sequence rows of :meth:`sequence_counts` (e.g. gathered from every process)."""
        self.counts += np.asarray(rows, dtype=np.float64).reshape(-1, len(self.FIELDS)).sum(axis=0)

    def metrics(self, counts: np.ndarray | None = None) -> dict[str, float]:
        """The accuracies (fractions) of the counts so far; a metric without data is left out."""
        c = self.counts if counts is None else counts
        out = {}
        if c[0]:
            out["pose_acc_pi6"], out["pose_acc_pi18"] = c[1] / c[0], c[2] / c[0]
        if c[3]:
            out["answer_acc"], out["aware_acc_pi6"] = c[4] / c[3], c[5] / c[3]
        return {k: float(v) for k, v in out.items()}


def answer_window(inputs: dict[str, Any]) -> dict[str, Any]:
    """The batch with the LM logits restricted to the positions its loss reads: ``logits_to_keep`` = the last K
    positions, K reaching one before the batch's first labelled column, and ``labels`` cut to those K columns (B, K).

    The LM loss and the answer accuracy are the same as on the whole sequence (each kept logit predicts the next
    kept label, and no labelled token is left out), while the vocabulary projection and its log-softmax skip the
    prompt and image tokens: with the demo's joint items (~49 tokens, an answer of ~10) that was ~30 % of a
    stage-1 step's CPU time. The pose head still reads every hidden state. A batch without labels, or whose first
    column is labelled, is returned as it is.
    """
    labels = inputs.get("labels")
    if labels is None or "logits_to_keep" in inputs:
        return inputs
    labelled = (labels != IGNORE_INDEX).any(dim=0).nonzero()
    if not len(labelled):
        return inputs
    keep = labels.shape[1] - int(labelled[0, 0]) + 1
    if keep >= labels.shape[1]:
        return inputs
    return {**inputs, "labels": labels[:, -keep:], "logits_to_keep": keep}


class PoseTrainer(Trainer):
    """A [`Trainer`] that reports the teacher-forced pose accuracies of LLaVA-pose (module docstring).

    Batches come from :class:`~modeling.llava_pose.training_data.LlavaPoseCollator`; their ``pose_angles`` entry (exact
    angles for the metrics) is removed before the forward pass. ``pose_token_id`` is the model's ``<pose6D>`` id.
    """

    def __init__(self, *args, pose_token_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.pose_token_id = pose_token_id
        self.pose_loss_weight = float(self.model.config.pose_loss_weight)
        self.train_stats = PoseStats(pose_token_id)
        self.eval_stats = PoseStats(pose_token_id)
        # The model's loss is a per-batch mean (LM and pose): let the Trainer divide it for gradient accumulation
        # rather than pass num_items_in_batch into the model's kwargs.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        """A training mix of joint items and captions is read in batches of one kind (:class:`~modeling.llava_pose.
        training_data.KindGroupedSampler`: a caption in a batch pads it to the caption's length); anything else is
        sampled as the Trainer does."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        kinds = getattr(dataset, "kinds", None)
        if kinds is None or len(set(kinds)) < 2:
            return super()._get_train_sampler(train_dataset)
        batch = self.args.per_device_train_batch_size * self.args.world_size * self.args.gradient_accumulation_steps
        return KindGroupedSampler(kinds, batch, seed=self.args.data_seed if self.args.data_seed is not None
                                  else self.args.seed)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The model's loss (LM + weighted pose loss); counts the teacher-forced pose accuracies while training.

        ``pose_angles`` (exact angles, B × 3 radians, for the metrics only) is taken out of ``inputs`` first.
        """
        angles = inputs.pop("pose_angles", None)
        inputs = answer_window(inputs)
        outputs = model(**inputs)
        loss = outputs.loss
        if model.training:
            self.train_stats.update(outputs, inputs, angles)
            if self.accelerator.num_processes > 1:
                loss = self._loss_weighted_over_processes(outputs, inputs)
        return (loss, outputs) if return_outputs else loss

    def _loss_weighted_over_processes(self, outputs: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """This process's share of the loss of the step's whole batch, so that DDP's mean of the processes' gradients
        is the gradient of one process on all their examples.

        The LM loss is a mean over answer tokens and the pose loss a mean over poses: a process with t of the T
        tokens (p of the P poses) of the step contributes ``N · t / T`` times its LM mean (``N · p / P`` times its
        pose mean), N being the number of processes. Without this, a process whose batch has fewer tokens or no pose
        would weigh as much as the others, and two processes with batch b would not follow one with batch 2b.
        """
        labels = inputs["labels"]
        pose_mask = inputs.get("pose_mask")
        poses = pose_mask.sum() if pose_mask is not None else (inputs["input_ids"] == self.pose_token_id).sum()
        local = torch.stack([(labels[:, 1:] != IGNORE_INDEX).sum(), poses]).to(self.args.device, torch.float64)
        total = self.accelerator.reduce(local.clone(), reduction="sum")
        share = (local * self.accelerator.num_processes / total.clamp(min=1)).to(outputs.logits.dtype)
        # Zero-weighted sums keep every output in the graph when this process has no token or no pose of its own.
        loss = outputs.logits.sum() * 0.0
        if outputs.lm_loss is not None and local[0] > 0:
            loss = loss + share[0] * outputs.lm_loss
        if outputs.pose_loss is not None:
            loss = loss + share[1] * self.pose_loss_weight * outputs.pose_loss
        return loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Evaluation step: counts the pose accuracies here and returns only the loss (no B × L × V logits gathered)."""
        inputs = self._prepare_inputs(inputs)
        angles = inputs.pop("pose_angles", None)
        inputs = answer_window(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            outputs = model(**inputs)
        rows = torch.as_tensor(self.eval_stats.sequence_counts(outputs, inputs, angles), device=self.args.device)
        # Every process counts every sequence of the evaluation set once: gather_for_metrics drops the samples that
        # pad the last batch of a process. Only the loss goes back: no B×L×V logits gathered.
        self.eval_stats.add(self.accelerator.gather_for_metrics(rows).cpu().numpy())
        return outputs.loss.detach(), None, None

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):
        """The Trainer's evaluation loop, with the pose accuracies of every process's sequences added to its
        metrics."""
        self.eval_stats.reset()
        output = super().evaluation_loop(dataloader, description, prediction_loss_only=prediction_loss_only,
                                         ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        for name, value in self.eval_stats.metrics().items():
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


__all__ = ["EpochCallback", "PoseProgressCallback", "PoseStats", "PoseTrainer", "answer_window"]
