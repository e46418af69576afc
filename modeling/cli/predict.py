"""``imagenet3d predict``: the command line of :mod:`modeling.llava_pose.inference`."""

from __future__ import annotations

import argparse
import json
import sys

from modeling.llava_pose.inference import (
    CAPTION_MAX_NEW_TOKENS,
    PREDICT_TASKS,
    decoding_notes,
    format_objects_table,
    load_model,
    open_image,
    parse_box,
    predict,
)
from modeling.utils.errors import ImageNet3DError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d predict``."""
    parser.add_argument("--model", required=True, metavar="DIR", help="LLaVA-pose folder (imagenet3d init-model)")
    parser.add_argument("image", metavar="IMAGE", help="image file")
    parser.add_argument("--task", choices=PREDICT_TASKS, default=None,
                        help="describe: caption with 6D poses; joint: name and pose the object in --box "
                             "(default: joint with --box, describe otherwise)")
    parser.add_argument("--box", metavar="x1,y1,x2,y2", help="object box in pixels (joint task)")
    parser.add_argument("--max-new-tokens", type=int, default=CAPTION_MAX_NEW_TOKENS,
                        help=f"generation length limit (default: {CAPTION_MAX_NEW_TOKENS})")
    parser.add_argument("--json", action="store_true", help="print the list of objects as JSON (angles in radians)")


def run(args: argparse.Namespace) -> int:
    """Predict the objects of IMAGE, print the generated text and the objects table (or JSON); returns
    the exit status.
    """
    decoded = open_image(args.image)
    image = decoded.upright()  # the frame of read_image: the photo as the user sees it
    for note in decoding_notes(decoded):
        print(f"imagenet3d predict: note: {note}", file=sys.stderr)
    task = args.task or ("joint" if args.box else "describe")
    box = parse_box(args.box, (image.height, image.width)) if args.box else None
    if task == "joint" and box is None:
        raise ImageNet3DError("--box: the joint task needs a box x1,y1,x2,y2")
    if task == "describe" and box is not None:
        raise ImageNet3DError("--box: only the joint task takes a box")
    model, processor = load_model(args.model)
    result = predict(model, processor, [image], task=task, boxes=[box], max_new_tokens=args.max_new_tokens)[0]
    if args.json:
        print(json.dumps(result["objects"], indent=2))
        return 0
    print(result["text"])
    print()
    print(format_objects_table(result["objects"]) if result["objects"] else "no <pose6D> in the output: no objects")
    return 0
