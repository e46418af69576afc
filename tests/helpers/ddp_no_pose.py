"""Run under ``accelerate launch`` with 2 processes (``python -m tests.helpers.ddp_no_pose MODEL_DIR OUT_JSON``):
PoseTrainer steps in which the second process's batches never hold a ``<pose6D>``, for stage 1 (every parameter)
and stage 2 (LoRA), with DDP's ``find_unused_parameters`` off and on. The main process writes, per run and process,
the poses its batches held and checksums of its weights, for tests/llava_pose/test_multiprocess.py."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

STEPS = 3


def _examples(processor, count: int = 2 * STEPS) -> list:
    """Even items: a joint example with one pose; odd items: an answer without any <pose6D>."""
    from modeling.llava_pose.training_data import PoseExample
    from tests.helpers.llava_pose import random_image

    examples = []
    for i in range(count):
        image = random_image(i, (32, 32))
        if i % 2 == 0:
            examples.append(PoseExample(image=image, prompt=processor.joint_prompt((2, 2, 30, 30), (32, 32)),
                                        answer=processor.joint_answer("car"),
                                        poses=[(1.0, 0.3, 0.2, 0.5, 0.5, math.log(4.0))], source=f"pose:{i}"))
        else:
            examples.append(PoseExample(image=image, prompt=processor.describe_prompt(), answer="A photo.",
                                        poses=[], source=f"none:{i}", kind="caption"))
    return examples


def run(model_dir: str, stage: int, find_unused: bool, output_dir: Path) -> dict:
    """Train STEPS steps of batch 1 per process, in order (process r takes items r, r + 2, ...); returns what this
    process saw and ended with."""
    import torch
    from torch.utils.data import SequentialSampler
    from transformers import TrainingArguments

    from modeling.llava_pose.inference import load_model
    from modeling.llava_pose.trainer import PoseTrainer
    from modeling.llava_pose.training import apply_lora
    from modeling.llava_pose.training_data import LlavaPoseCollator

    model, processor = load_model(model_dir)
    if stage == 1:
        model.requires_grad_(True)
    else:
        model, _ = apply_lora(model, rank=2, dropout=0.0)
    collate = LlavaPoseCollator(processor, num_bins=40)
    poses_seen = []

    def counting_collator(examples):
        poses_seen.append(sum(len(e.poses) for e in examples))
        return collate(examples)

    class InOrder(PoseTrainer):
        def _get_train_sampler(self, train_dataset=None):
            return SequentialSampler(train_dataset if train_dataset is not None else self.train_dataset)

    head = [p for name, p in model.named_parameters() if "pose_head" in name and p.requires_grad]
    before = float(sum(p.detach().double().sum() for p in head))
    args = TrainingArguments(output_dir=str(output_dir), per_device_train_batch_size=1, max_steps=STEPS,
                             learning_rate=1e-2, warmup_steps=0, use_cpu=True, ddp_find_unused_parameters=find_unused,
                             report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True,
                             remove_unused_columns=False,
                             label_names=["labels", "pose_labels", "pose_regression_labels", "pose_mask"])
    trainer = InOrder(model=model, args=args, train_dataset=_examples(processor), data_collator=counting_collator,
                      pose_token_id=model.config.pose_token_id)
    trainer.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    return {"process": trainer.accelerator.process_index, "processes": trainer.accelerator.num_processes,
            "poses_seen": poses_seen, "head_moved": float(sum(p.detach().double().sum() for p in head)) - before,
            "weights": float(sum(p.detach().double().abs().sum() for p in trainable)),
            "losses": [e["loss"] for e in trainer.state.log_history if "loss" in e],
            "finite": all(bool(torch.isfinite(p).all()) for p in trainable)}


def main(model_dir: str, out: str) -> None:
    """Every (stage, find_unused_parameters) pair in turn; the main process writes the gathered results."""
    from accelerate.utils import gather_object

    results = {}
    for stage in (1, 2):
        for find_unused in (False, True):
            mine = run(model_dir, stage, find_unused, Path(out).parent / f"run_{stage}_{find_unused}")
            results[f"stage{stage}_find_unused_{find_unused}"] = gather_object([mine])
    if results["stage1_find_unused_False"][0]["process"] == 0:
        Path(out).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    from modeling.utils.process_group import end_processes

    try:
        main(*sys.argv[1:3])
    finally:
        end_processes()  # gloo's group alive at exit can abort the process (see end_processes)
