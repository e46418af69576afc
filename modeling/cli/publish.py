"""``imagenet3d publish dataset|model|space DIR --repo-id NS/NAME``: the command line of :mod:`modeling.hub`."""

from __future__ import annotations

import argparse

from modeling.cli.progress import add_no_progress_option


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="DIR", help="the folder to publish")
    parser.add_argument("--repo-id", required=True, metavar="NS/NAME",
                        help="the Hub repo (your user or organisation / a name); created when missing")
    parser.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps "
                                                                "its visibility)")
    parser.add_argument("--revision", metavar="BRANCH", help="upload to this branch (created from main if missing)")
    parser.add_argument("--commit-message", metavar="TEXT", help="the commit message (the card's commit adds "
                                                                 "' (card)')")
    parser.add_argument("--dry-run", action="store_true",
                        help="no network: list every file with its size, check the card with huggingface_hub's "
                             "card classes and print it")
    add_no_progress_option(parser, default=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The three subcommands of ``imagenet3d publish`` and their options."""
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    dataset = kinds.add_parser("dataset", allow_abbrev=False, help="a folder written by `imagenet3d build`",
                               description="Publish a built dataset: Parquet shards, build_report.json, the card.")
    _common(dataset)
    model = kinds.add_parser("model", allow_abbrev=False,
                             help="a model folder from train / train-baseline, or a LoRA adapter folder",
                             description="Publish a model folder (weights, config with auto_map, custom code, "
                                         "processor and tokenizer files) or a LoRA adapter, with its model card.")
    _common(model)
    model.add_argument("--dataset", action="append", default=[], metavar="NS/NAME",
                       help="the Hub id of the dataset it was trained on, for the card's `datasets` (repeatable; "
                            "default: ccvl/ImageNet3D for a build of the official release, none for the synthetic)")
    space = kinds.add_parser("space", allow_abbrev=False, help="a Gradio Space folder (app.py, requirements.txt)",
                             description="Publish a Gradio Space; its README.md (Spaces YAML) is written from the "
                                         "folder and the options.")
    _common(space)
    space.add_argument("--model", action="append", default=[], metavar="NS/NAME",
                       help="a Hub model the Space uses (repeatable); the first is set as its IMAGENET3D_MODEL")
    space.add_argument("--dataset", action="append", default=[], metavar="NS/NAME",
                       help="a Hub dataset the Space uses (repeatable)")
    space.add_argument("--title", help="the Space's title (default: ImageNet3D pose)")
    space.add_argument("--emoji", help="the Space's emoji")


def run(args: argparse.Namespace) -> int:
    """Plan the upload (checks the folder and the card), print it with --dry-run, else upload. Returns 0."""
    from pathlib import Path

    from modeling.hub.folders import format_plan, plan_dataset, plan_model, plan_space
    from modeling.hub.publish import IMAGENET3D_MODEL_VARIABLE, check_repo_id, publish

    check_repo_id(args.repo_id)
    folder = Path(args.folder)
    variables = {}
    if args.kind == "dataset":
        plan = plan_dataset(folder, repo_id=args.repo_id)
    elif args.kind == "model":
        plan = plan_model(folder, repo_id=args.repo_id, dataset_ids=tuple(args.dataset))
    else:
        plan = plan_space(folder, tuple(args.model), tuple(args.dataset), args.title, args.emoji)
        if args.model:
            variables[IMAGENET3D_MODEL_VARIABLE] = args.model[0]
    if args.dry_run:
        print(format_plan(plan, args.repo_id))
        return 0
    for note in plan.notes:
        print(f"note: {note}")
    if args.kind == "space":  # the Space folder keeps the card it is published with
        (folder / "README.md").write_text(plan.card, encoding="utf-8")
    url = publish(plan, args.repo_id, private=args.private, revision=args.revision,
                  commit_message=args.commit_message, space_variables=variables)
    print(f"published {len(plan.files)} file(s) to {url}")
    return 0
