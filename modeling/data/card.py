"""The dataset card of a build: ``configs:`` and ``dataset_info:`` YAML for every config, and the README.

The card is what makes a build folder loadable: ``load_dataset(OUT, config)`` reads the ``configs:`` entries
(data_files globs per split, the column selection of each task config over the ``pose``/``image``/``cad``
shards). The text sections come from the ``dataset_card`` package's template.
"""

from __future__ import annotations

import string

import yaml
from datasets import DatasetInfo, SplitDict, SplitInfo

import imagenet3d
from dataset_card import CARD_TEMPLATE
from modeling.data.captions import POSE_TOKEN, PROMPT
from modeling.data.rows import BuildOptions


def _config_files(config: str) -> dict[str, str]:
    """Split → data_files glob of a config (relative to OUT)."""
    kind = imagenet3d.CONFIG_SHARDS[config]
    if kind == "cad":
        return {"train": "data/cad/cad.parquet"}
    if config == "open_vocab":
        return {"train": "data/pose/train/*-known.parquet", "validation_known": "data/pose/validation/*-known.parquet",
                "validation_novel": "data/pose/validation/*-novel.parquet"}
    return {split: f"data/{kind}/{split}/*.parquet" for split in ("train", "validation")}


def _matches(pattern: str, path: str) -> bool:
    # The globs above hold one '*', within the last path component (as fsspec's glob, it never spans '/').
    folder, _, name = pattern.rpartition("/")
    prefix, _, suffix = name.partition("*")
    path_folder, _, path_name = path.rpartition("/")
    if "*" not in name:
        return pattern == path
    return folder == path_folder and path_name.startswith(prefix) and path_name.endswith(suffix)


def describe_configs(configs: list[str], files: dict[str, dict]) -> tuple[list[dict], list[dict], dict]:
    """The card's ``configs:`` and ``dataset_info:`` entries, and rows per config and split.

    Splits whose files hold no row are left out (``datasets`` refuses a pattern that matches nothing).
    """
    yaml_configs, infos, counts = [], [], {}
    for config in configs:
        columns = imagenet3d.CONFIG_COLUMNS[config]
        data_files, splits = [], SplitDict()
        size = 0
        for split, pattern in _config_files(config).items():
            chosen = [stats for path, stats in sorted(files.items()) if _matches(pattern, path)]
            rows = sum(s["captioned"] if config == "captions" else s["rows"] for s in chosen)
            if not rows:
                continue
            data_files.append({"split": split, "path": pattern})
            splits.add(SplitInfo(name=split, num_bytes=sum(s["column_bytes"].get(c, 0) for s in chosen
                                                           for c in columns), num_examples=rows))
            size += sum(s["size"] for s in chosen)
            counts.setdefault(config, {})[split] = rows
        if not data_files:
            continue
        entry: dict = {"config_name": config, "data_files": data_files}
        if config == imagenet3d.DEFAULT_CONFIG:
            entry["default"] = True
        kind_columns = list(imagenet3d.SHARD_FEATURES[imagenet3d.CONFIG_SHARDS[config]])
        if columns != kind_columns:
            entry["columns"] = columns
        if config == "captions":
            entry["filters"] = [["has_caption", "==", True]]
        yaml_configs.append(entry)
        info = DatasetInfo(config_name=config, features=imagenet3d.config_features(config), splits=splits,
                           download_size=size, dataset_size=sum(s.num_bytes for s in splits.values()))
        infos.append(info._to_yaml_dict())
    return yaml_configs, infos, counts


def _counts_table(counts: dict) -> str:
    lines = ["| config | split | rows |", "|---|---|---:|"]
    for config, splits in counts.items():
        lines += [f"| `{config}` | `{split}` | {rows:,} |" for split, rows in splits.items()]
    return "\n".join(lines)


def summary_lines(summary: dict) -> list[str]:
    """Human-readable lines of a build report (the card and the console print the same)."""
    lines = []
    for split, totals in summary["totals"].items():
        lines.append(f"- `{split}`: " + ", ".join(f"{value:,} {name}" for name, value in totals.items()))
    if summary["filtered"]:
        lines.append("- objects removed by the official filter: " + ", ".join(
            f"{reason.removeprefix('filtered: ')} ({split}): {n:,}" for split, reasons in summary["filtered"].items()
            for reason, n in reasons.items()))
    if summary.get("flagged"):
        lines.append("- objects kept with a flagged box (`flags` column): " + ", ".join(
            f"{flag} ({split}): {n:,}" for split, flags in summary["flagged"].items() for flag, n in flags.items()))
    if summary["skipped"]:
        lines.append("- skipped (bad input): " + ", ".join(f"{reason}: {n:,}" for reason, n in
                                                           summary["skipped"].items()))
    else:
        lines.append("- skipped (bad input): none")
    if summary["converted"]:
        lines.append("- images converted to 8-bit RGB or with their orientation rewritten (each in "
                     "build_report.json `conversions`): " + ", ".join(f"{kind}: {n:,}" for kind, n in
                                                                       summary["converted"].items()))
    if summary["notes"]:
        lines += [f"- {note}" for note in summary["notes"]]
    return lines


def render_card(options: BuildOptions, yaml_configs: list[dict], infos: list[dict], counts: dict,
                summary: dict) -> str:
    """README.md: YAML front matter (license, configs, dataset_info) and the template's sections."""
    front = {
        "license": imagenet3d.LICENSE, "pretty_name": "ImageNet3D",
        "task_categories": ["image-classification", "image-to-text", "image-feature-extraction"],
        "tags": ["3d", "pose-estimation", "viewpoint-estimation", "imagenet", "6d-pose"],
        "configs": yaml_configs, "dataset_info": infos,
    }
    captions_source = (f"The captions come from `{options.imported_captions}`, checked against the annotations."
                       if options.imported_captions else
                       "The paper's captions are not released: these are template captions written from the "
                       "annotations (position, depth order, viewing side, elevation, occlusion), deterministic "
                       "per image.")
    return string.Template(CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(
        front_matter=yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000),
        counts_table=_counts_table(counts), crop_size=options.crop_size, jpeg_quality=options.jpeg_quality,
        strict=str(options.strict).lower(), prompt=PROMPT, captions_source=captions_source,
        build_summary="\n".join(summary_lines(summary)), license=imagenet3d.LICENSE, citation=imagenet3d.CITATION,
        token=POSE_TOKEN)
