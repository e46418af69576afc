"""``imagenet3d init-model``: the command line of :mod:`modeling.llava_pose.init_model`."""

from __future__ import annotations

import argparse
from pathlib import Path

from modeling.llava_pose.init_model import SIZES, build_tiny_model, convert_model
from modeling.utils.errors import ImageNet3DError
from modeling.utils.model_folder import model_type_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d init-model``."""
    parser.add_argument("out", metavar="OUT", help="folder to write (model, processor and custom code)")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny",
                        help="size of the built-in random model (default: tiny); ignored with --base")
    parser.add_argument("--base", metavar="PATH_OR_HUB_ID",
                        help="convert this stock LLaVA instead (e.g. llava-hf/llava-1.5-7b-hf: needs the Hub, "
                             "loads in bfloat16 with device_map=auto)")
    parser.add_argument("--vision-tower", metavar="BASELINE_DIR",
                        help="start the vision tower from this trained classification baseline's backbone (weights, "
                             "input side, normalisation), as LLaVA starts from a pretrained CLIP; --size then sets "
                             "the language model; train it with `train --stage 1 --freeze-vision-tower`")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default: 0)")


def run(args: argparse.Namespace) -> int:
    """Write the built-in random model (or convert --base) to OUT, which must be new or empty; returns
    the exit status.
    """
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise ImageNet3DError(f"{out}: folder exists and is not empty")
    if args.base and args.vision_tower:
        raise ImageNet3DError("--vision-tower builds the built-in model; a converted --base keeps its own tower")
    if args.base:
        import torch

        if Path(args.base).is_dir():  # a local folder must be a stock LLaVA (a Hub id is checked by transformers)
            model_type_of(args.base, ("llava",), "a stock LLaVA checkpoint", "--base converts llava-hf/llava-* models")
        kwargs = {"dtype": torch.bfloat16, "device_map": "auto"} if not Path(args.base).is_dir() else {}
        convert_model(out, args.base, **kwargs)
        print(f"converted {args.base} to LLaVA-pose in {out}")
    else:
        build_tiny_model(out, size=args.size, seed=args.seed, vision_tower=args.vision_tower)
        tower = f" on the vision tower of {args.vision_tower}" if args.vision_tower else ""
        print(f"built the {args.size} LLaVA-pose{tower} in {out}")
    print(f"load it with AutoModel.from_pretrained({str(out)!r}, trust_remote_code=True)")
    return 0
