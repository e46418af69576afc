"""``imagenet3d evaluate``: the command line of :mod:`modeling.evaluation.evaluate`."""

from __future__ import annotations

import argparse
from pathlib import Path

from modeling.cli.options import torch_device
from modeling.cli.processes import is_main_process
from modeling.evaluation.describe import DESCRIBE_MAX_NEW_TOKENS, DESCRIBE_TASK
from modeling.evaluation.evaluate import DEFAULT_BATCH_SIZE, JOINT_ANSWER_MAX_NEW_TOKENS, OUTPUT_FILES, evaluate
from modeling.evaluation.metrics import SCORING_TASKS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d evaluate``."""
    parser.add_argument("--model", required=True, type=Path, metavar="DIR",
                        help="a LLaVA-pose folder (imagenet3d init-model / train) or a baseline folder "
                             "(imagenet3d train-baseline)")
    parser.add_argument("--data", required=True, type=Path, metavar="DATASET_DIR",
                        help="dataset folder written by `imagenet3d build`")
    parser.add_argument("--task", choices=(*SCORING_TASKS, DESCRIBE_TASK), default="joint",
                        help="joint: 3D-aware error (wrong class adds π) on pose/validation; pose: pose error on "
                             "pose/validation; open_vocab: pose error on open_vocab validation_known and "
                             "validation_novel, scored separately; describe (LLaVA-pose): a caption per image of "
                             "image/validation, its tags matched to the annotated objects by category and order "
                             "(object precision and recall, tag well-formedness, pose of the matched objects) "
                             "(default: joint)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for predictions, references, metrics, table and plots (default: ./eval_TASK)")
    parser.add_argument("--split", help="pose/joint/describe: a pose split (default: validation), or "
                                        "validation_known / validation_novel of the open_vocab config (describe: "
                                        "the images of the known / novel categories)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help=f"images per batch (default: {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--max-objects", type=int, metavar="N", help="evaluate N objects (describe: N images), evenly "
                                                                     "spaced (default: all)")
    parser.add_argument("--max-new-tokens", type=int,
                        help=f"LLaVA-pose generation limit (default: {JOINT_ANSWER_MAX_NEW_TOKENS}; describe: "
                             f"{DESCRIBE_MAX_NEW_TOKENS})")
    parser.add_argument("--device", type=torch_device, help="torch device (default: cuda when available, else cpu; "
                                                            "under accelerate launch, each process's own)")
    parser.add_argument("--test-time-flip", action="store_true",
                        help="pose, joint and open_vocab: average each crop's prediction (pose bins; the "
                             "baseline's category, LLaVA-pose's category prior) with its mirror image's; recorded in "
                             "run.json and table.md (not for describe)")


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the outputs to --out (default ./eval_TASK) and print the table. Returns the exit status."""
    out = args.out or Path(f"eval_{args.task}")
    evaluate(args.model, args.data, args.task, out, split=args.split, batch_size=args.batch_size,
             max_objects=args.max_objects, max_new_tokens=args.max_new_tokens, device=args.device,
             progress=not args.no_progress, test_time_flip=args.test_time_flip)
    if not is_main_process():  # several processes: the main one wrote the files and reports
        return 0
    print((out / "table.md").read_text(encoding="utf-8"))
    print(f"wrote {', '.join(OUTPUT_FILES)} and plots to {out}")
    return 0
