"""``imagenet3d predict``: the command line of :mod:`modeling.llava_pose.inference`."""

from __future__ import annotations

import argparse
import json
import sys

from modeling.llava_pose.inference import (
    CAPTION_MAX_NEW_TOKENS,
    PREDICT_TASKS,
    clipping_note,
    decoding_notes,
    format_objects_table,
    is_baseline,
    load_predictor,
    open_image,
    parse_box,
    predict,
)
from modeling.utils.errors import ImageNet3DError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d predict``."""
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="a LLaVA-pose folder (init-model, train: its output folder, the adapter or merged/), "
                             "a classification baseline folder (train-baseline), or a Hub id of one")
    parser.add_argument("image", metavar="IMAGE", help="image file")
    parser.add_argument("--task", choices=PREDICT_TASKS, default=None,
                        help="describe: caption with 6D poses; joint: name and pose the object in each --box "
                             "(default: joint with --box, describe otherwise)")
    parser.add_argument("--box", metavar="x1,y1,x2,y2", action="append", default=[],
                        help="an object's box in pixels of the image (joint task); repeat for several objects, one "
                             "answer each. A box reaching past the image is clipped to it, with a note")
    parser.add_argument("--max-new-tokens", type=int, default=CAPTION_MAX_NEW_TOKENS,
                        help=f"generation length limit (default: {CAPTION_MAX_NEW_TOKENS})")
    parser.add_argument("--test-time-flip", action="store_true",
                        help="average each box's pose with the one read from the mirror image of its crop (joint "
                             "task, or the baseline)")
    parser.add_argument("--json", action="store_true",
                        help="print the list of objects as JSON (angles in radians, box in pixels)")


def run(args: argparse.Namespace) -> int:
    """Predict the objects of IMAGE, print the generated text and the objects table (or JSON); returns
    the exit status.
    """
    decoded = open_image(args.image)
    image = decoded.upright()  # the frame of read_image: the photo as the user sees it
    for note in decoding_notes(decoded):
        print(f"imagenet3d predict: note: {note}", file=sys.stderr)
    task = args.task or ("joint" if args.box else "describe")
    size = (image.height, image.width)
    boxes = []
    for n, text in enumerate(args.box):
        field = "--box" if len(args.box) == 1 else f"--box {n + 1}"
        box, clipped = parse_box(text, size, field)
        if clipped:
            given = [float(v) for v in text.split(",")]
            print(f"imagenet3d predict: note: {clipping_note(field, given, box, size)}", file=sys.stderr)
        boxes.append(box)
    if task == "joint" and not boxes:
        raise ImageNet3DError("--box: the joint task needs a box x1,y1,x2,y2")
    model, processor = load_predictor(args.model)
    if task == "describe" and boxes and not is_baseline(model):
        raise ImageNet3DError("--box: only the joint task takes a box")
    if args.task == "describe" and is_baseline(model):
        print("imagenet3d predict: note: --task describe: the classification baseline writes no caption: it names "
              "and poses the object of each --box (without one, the whole image)", file=sys.stderr)
    result = predict(model, processor, [image], task=task, boxes=[boxes], max_new_tokens=args.max_new_tokens,
                     test_time_flip=args.test_time_flip)[0]
    if args.json:
        print(json.dumps(result["objects"], indent=2))
        return 0
    if result["text"]:
        print(result["text"])
        print()
    print(format_objects_table(result["objects"]) if result["objects"] else "no <pose6D> in the output: no objects")
    return 0
