"""``imagenet3d train``: fine-tune LLaVA-pose on a built dataset, in LLaVA's two stages.

Its options are the fields of ``LlavaPoseTrainingArguments`` (``modeling/llava_pose/training_arguments.py``), with
the folders (``--data``, ``--model``, ``--output``) and ``--no-progress`` added here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from modeling.cli.options import add_dataclass_arguments, dataclass_from_args
from modeling.cli.processes import is_main_process
from modeling.llava_pose.training import SUMMARY_FILE, train
from modeling.llava_pose.training_arguments import LlavaPoseTrainingArguments

DESCRIPTION = """\
Built on the Hugging Face Trainer, so the same command runs on several GPUs unchanged:

    accelerate launch -m modeling.cli train --data imagenet3d --model base --output run --bf16

Stage 1 (--stage 1) stands in for the pretraining a real LLaVA checkpoint already has; it is meant for the built-in
random base of `imagenet3d init-model` only. Every parameter trains (vision tower, projector, language model with
its embeddings and lm_head, pose head) on the LM loss of the answers plus the pose loss, by default on the joint
task alone. With a tower taken from a trained classification baseline (`init-model --vision-tower BASELINE_DIR`),
--freeze-vision-tower keeps it frozen, as LLaVA keeps CLIP frozen. It saves a complete model folder, which stage 2
takes as --model.

Stage 2 (--stage 2, the default, and the path of a real checkpoint) is LoRA on the language model's attention
projections only (--lora-targets; a match in the vision tower is an error), with the pose head and the projector
trained in full and the <pose6D> rows of the embeddings and of lm_head trainable. It saves the adapter and the
processor to OUTPUT; --merge also writes a merged full model to OUTPUT/merged.

A real checkpoint (a GPU, the Hub once):

    imagenet3d init-model llava7b --base llava-hf/llava-1.5-7b-hf      # adds <pose6D> and a fresh pose head
    imagenet3d train --stage 2 --model llava7b --data imagenet3d --output run --bf16 --batch-size 4 --merge

Data: the joint task on the pose config's crops mixed with the captions config (--caption-ratio). Evaluation
during training reports teacher-forced pose and 3D-aware accuracies; `imagenet3d evaluate` measures the real ones
by generation. Checkpoints go to OUTPUT/checkpoint-N every --save-steps; --resume continues from the last one and
ends with the same weights as an uninterrupted run. The same seed gives the same loss curve on CPU."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d train``: the three folders, then one per training argument."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.add_argument("--data", required=True, type=Path, metavar="DATASET_DIR",
                        help="dataset folder written by `imagenet3d build` (configs pose, and captions if mixed)")
    parser.add_argument("--model", required=True, type=Path, metavar="BASE_DIR",
                        help="LLaVA-pose folder: `imagenet3d init-model` (tiny or --base), or a stage-1 output")
    parser.add_argument("--output", required=True, type=Path, metavar="DIR", help="folder for the result")
    add_dataclass_arguments(parser, LlavaPoseTrainingArguments, aliases={"learning_rate": ["--lr"]})


def run(args: argparse.Namespace) -> int:
    """Train, then print the steps, the losses, the final evaluation and the folder of the model to evaluate (from the
    main process only, under ``accelerate launch``)."""
    options = dataclass_from_args(LlavaPoseTrainingArguments, args)
    target = train(args.data, args.model, args.output, options, progress=not args.no_progress)
    if not is_main_process():  # several processes: the main one reports
        return 0
    summary = json.loads((args.output / SUMMARY_FILE).read_text(encoding="utf-8"))
    shown = {k: round(v, 4) for k, v in summary["eval"].items() if isinstance(v, float)}
    print(f"stage {summary['stage']}: {summary['global_step']} steps in {summary['wall_time_s']} s, "
          f"train loss {summary['train_loss']:.4f}; evaluation: {shown or 'none'}")
    print(f"trained: {summary['trained']['what']} ({summary['trained']['trainable_parameters']:,} parameters)")
    print(f"model to evaluate: {target}")
    return 0
