"""The dataset card of a build: ``configs:`` and ``dataset_info:`` YAML for every config, and the README.

The card is what makes a build folder loadable: ``load_dataset(OUT, config)`` reads the ``configs:`` entries
(data_files globs per split, the column selection of each task config over the ``pose``/``image``/``cad``
shards). The text sections come from the ``dataset_card`` package's template and its ``configs/<config>.md``
sections, one per config the build holds (and no other). A build of the synthetic release (the release holds
:data:`SYNTHETIC_MARKER`) is said to be synthetic, with the project's license, its origin and its categories.
:func:`check_dataset_card` checks a written card with ``huggingface_hub.DatasetCard`` against its folder.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import yaml
from datasets import DatasetInfo, SplitDict, SplitInfo

import imagenet3d
from dataset_card import CARD_TEMPLATE, CONFIG_SECTIONS
from modeling.data.captions import POSE_TOKEN, PROMPT
from modeling.data.release import Release
from modeling.data.rows import BuildOptions
from modeling.utils.errors import ImageNet3DError, located

SYNTHETIC_MARKER = "synthetic.json"
"""The file ``imagenet3d synthesize`` writes at the root of a synthetic release (``modeling.synthetic.generator``'s
``MANIFEST``: generator, seed, categories, images per category, injected quirks); the official release has none. The
build reads it through :class:`~modeling.data.release.Release` (folder or zip) and the card says "synthetic"."""
SYNTHETIC_LICENSE = "apache-2.0"
SYNTHETIC_LICENSE_NAME = "Apache-2.0"


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


def release_source(release: Release) -> dict:
    """Which release a build reads: ``{"kind": "synthetic", ...}`` when the release holds the synthetic generator's
    marker (:data:`SYNTHETIC_MARKER`, written by ``imagenet3d synthesize``: generator, seed, categories, images per
    category), else ``{"kind": "official"}`` (the official release has no such file).

    Works for a folder and a zip alike; a marker that is not a JSON object raises ImageNet3DError naming it.
    """
    raw = release.read(SYNTHETIC_MARKER)
    if raw is None:
        return {"kind": "official"}
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise located(release.where(SYNTHETIC_MARKER), f"synthetic release marker is not JSON ({err})") from None
    if not isinstance(manifest, dict):
        raise located(release.where(SYNTHETIC_MARKER), "synthetic release marker is not a JSON object")
    return {"kind": "synthetic", "marker": SYNTHETIC_MARKER, "generator": manifest.get("generator"),
            "seed": manifest.get("seed"), "categories": list(manifest.get("categories") or []),
            "images_per_category": manifest.get("images_per_category")}


def _source_words(source: dict) -> str:
    if source["kind"] == "synthetic":
        generator = source.get("generator") or "imagenet3d synthesize"
        return (f"the **synthetic release** (procedurally rendered by `{generator}`, "
                f"seed {source.get('seed')}, {len(source.get('categories', []))} categories)")
    return "the official ImageNet3D release layout"


def _about(source: dict) -> str:
    paper = ("[ImageNet3D](https://arxiv.org/abs/2406.09613) (Ma et al., NeurIPS 2024 Datasets & Benchmarks) annotates "
             "objects in ImageNet-21k images with their 3D pose: azimuth, elevation and in-plane rotation (theta), the "
             "camera distance, the 2D position of the object's centre (px, py), a bounding box and the matching CAD "
             "model, for 189 categories in 7 meta-classes. Project page: <https://imagenet3d.github.io/>; official "
             "release: [`ccvl/ImageNet3D`](https://huggingface.co/datasets/ccvl/ImageNet3D) (gated, CC BY-NC 4.0).")
    if source["kind"] != "synthetic":
        return paper
    categories = source.get("categories") or []
    per = source.get("images_per_category")
    per_text = (f"{per:,} images per category" if isinstance(per, int) else
                "images per category: " + ", ".join(f"{c} {n:,}" for c, n in sorted((per or {}).items())))
    return ("**This is the synthetic release, not ImageNet3D's photos.** Every image was procedurally rendered by "
            f"`imagenet3d synthesize` (seed {source.get('seed')}, {per_text}) from procedural CAD models of "
            f"{len(categories)} categories ({', '.join(f'`{c}`' for c in categories)}), with the official camera "
            "model, and written in the exact layout of the official release, so that the same code builds both. "
            "Its annotations agree with its pixels by construction; numbers measured on it say nothing about real "
            "photos. No ImageNet image, annotation or CAD model is in it.\n\nIt stands in for ImageNet3D: " + paper)


LOCAL_ID = "imagenet3d"
"""What the card's snippets pass to ``load_dataset``: the folder ``imagenet3d build`` writes by default;
:func:`card_for_repo` puts the Hub id there when the card is published."""
_LOAD_CALL = re.compile(r'load_dataset\("[^"\n]*", ')


def _usage(configs: list[str], counts: dict) -> str:
    default = imagenet3d.DEFAULT_CONFIG if imagenet3d.DEFAULT_CONFIG in configs else configs[0]
    lines = [f'ds = load_dataset("{LOCAL_ID}", "{default}")' + ("            # the default config"
                                                                if default == imagenet3d.DEFAULT_CONFIG else "")]
    for config in configs:
        if config != default:
            split = next(iter(counts[config]))
            lines.append(f'{config} = load_dataset("{LOCAL_ID}", "{config}", split="{split}")')
    split = next(iter(counts[default]))
    lines.append(f'stream = load_dataset("{LOCAL_ID}", "{default}", split="{split}", streaming=True)')
    return "\n".join(lines)


def card_for_repo(text: str, repo_id: str) -> str:
    """The dataset card ``text`` as published to the Hub repo ``repo_id`` (``NS/NAME``): its ``load_dataset``
    snippets load ``repo_id`` instead of the local build folder. Returns the new text."""
    return _LOAD_CALL.sub(lambda _: f'load_dataset("{repo_id}", ', text)


def _storage_note(configs: list[str]) -> str:
    readers = {kind: [c for c in configs if imagenet3d.CONFIG_SHARDS[c] == kind and c != kind]
               for kind in ("pose", "image")}
    notes = [f"{', '.join(f'`{c}`' for c in names)} read{'s' if len(names) == 1 else ''} the `{kind}` shards "
             f"(`data/{kind}/...`, a column selection)"
             for kind, names in readers.items() if names]
    text = ("Image bytes are stored once per kind of shard: " + "; ".join(notes) + ". ") if notes else ""
    return text + ("Shards are per category, named `<category>-known` or `<category>-novel` for the open-vocabulary "
                   "split.")


def _caveats(source: dict, configs: list[str]) -> str:
    lines = []
    if source["kind"] == "synthetic":
        lines.append("- **Synthetic images.** Renders of procedural meshes on random backgrounds, with a few injected "
                     "quirks of the real annotations (counted in \"This build\"): a model that does well here has "
                     "learned the renderer, not the world.")
    lines.append("- **The meta-class map is a reconstruction.** The official category → meta-class file "
                 "(`imagenet3d_metaclasses_189.json`) is not public. The `meta_class` labels come from our "
                 "reconstruction, whose per-meta-class counts match the paper's figure (Electronics 34, Furniture 15, "
                 "Household 52, Music 6, Sports 12, Transportation 38, Work 32); per-meta-class numbers are therefore "
                 "comparable to each other, not to the paper's tables.")
    lines.append("- The release has 189 categories (the paper says 200); there is no public test split, and all "
                 "reported numbers are on `validation`." if source["kind"] != "synthetic" else
                 "- There is no test split: report numbers on `validation`.")
    if "captions" in configs:
        lines.append("- The captions are not the paper's (those are not released).")
    return "\n".join(lines)


def _license_text(source: dict) -> str:
    if source["kind"] == "synthetic":
        return (f"{SYNTHETIC_LICENSE_NAME} (`{SYNTHETIC_LICENSE}`), the license of the `imagenet3d` project whose "
                "generator rendered it: the synthetic release holds no ImageNet image, annotation or CAD model. "
                "ImageNet3D itself is CC BY-NC 4.0.")
    return (f"CC BY-NC 4.0, as the official release (`{imagenet3d.LICENSE}`). The images come from ImageNet-21k; see "
            "the ImageNet terms of access.")


def render_card(options: BuildOptions, yaml_configs: list[dict], infos: list[dict], counts: dict,
                summary: dict, source: dict | None = None) -> str:
    """README.md: YAML front matter (license, configs, dataset_info) and the template's sections, describing only
    the configs this build holds (``counts``) and its ``source`` (:func:`release_source`; default: official)."""
    source = source or {"kind": "official"}
    synthetic = source["kind"] == "synthetic"
    configs = [entry["config_name"] for entry in yaml_configs]
    if not configs:
        raise ImageNet3DError("the build holds no rows: there is no config to describe in the card")
    task_categories = ["image-classification"]
    task_categories += ["image-to-text"] if "captions" in configs else []
    task_categories += ["image-feature-extraction"] if "probe" in configs else []
    tags = ["3d", "pose-estimation", "viewpoint-estimation", "imagenet", "6d-pose"]
    tags += ["synthetic"] if synthetic else []
    front = {
        "license": SYNTHETIC_LICENSE if synthetic else imagenet3d.LICENSE,
        "pretty_name": "ImageNet3D (synthetic release)" if synthetic else "ImageNet3D",
        "task_categories": task_categories, "tags": tags, "configs": yaml_configs, "dataset_info": infos,
    }
    captions_source = (f"The captions come from `{options.imported_captions}`, checked against the annotations."
                       if options.imported_captions else
                       "The paper's captions are not released: these are template captions written from the "
                       "annotations (position, depth order, viewing side, elevation, occlusion), deterministic "
                       "per image.")
    values = dict(crop_size=options.crop_size, jpeg_quality=options.jpeg_quality, prompt=PROMPT,
                  captions_source=captions_source, token=POSE_TOKEN)
    sections = []
    for config in configs:
        text = (CONFIG_SECTIONS / f"{config}.md").read_text(encoding="utf-8")
        if config == imagenet3d.DEFAULT_CONFIG:
            text = text.replace(f"### `{config}`", f"### `{config}` (default)", 1)
        sections.append(string.Template(text).substitute(values).rstrip())
    missing = [c for c in imagenet3d.CONFIG_NAMES if c not in configs]
    configs_sentence = (f"This build holds {', '.join(f'`{c}`' for c in configs)}; "
                        + (f"the other configs of `imagenet3d build` ({', '.join(f'`{c}`' for c in missing)}) were "
                           "not built and do not load from it." if missing else "every config of `imagenet3d build`."))
    return string.Template(CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(
        front_matter=yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000),
        title="ImageNet3D (synthetic release)" if synthetic else "ImageNet3D", about=_about(source),
        source_words=_source_words(source), usage=_usage(configs, counts),
        default_config=configs[0] if imagenet3d.DEFAULT_CONFIG not in configs else imagenet3d.DEFAULT_CONFIG,
        configs_sentence=configs_sentence, counts_table=_counts_table(counts), storage_note=_storage_note(configs),
        config_sections="\n\n".join(sections), crop_size=options.crop_size, jpeg_quality=options.jpeg_quality,
        strict=str(options.strict).lower(), build_summary="\n".join(summary_lines(summary)),
        caveats=_caveats(source, configs), license_text=_license_text(source), citation=imagenet3d.CITATION)


def check_dataset_card(folder: str | Path) -> object:
    """Parse ``folder/README.md`` with ``huggingface_hub.DatasetCard`` and check it against the folder, offline:
    a license, and every ``configs:`` entry's ``data_files`` pattern matching at least one file of the folder.

    Returns the card; raises ImageNet3DError naming the card and the field (a missing card: FileNotFoundError).
    """
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    path = folder / "README.md"
    text = path.read_text(encoding="utf-8")
    try:
        card = DatasetCard(text)
    except (ValueError, TypeError) as err:
        raise located(path, f"not a valid dataset card: {str(err).splitlines()[0]}") from None
    if not card.data.get("license"):
        raise located(path, "dataset card YAML: no license")
    configs = card.data.get("configs") or []
    if not configs:
        raise located(path, "dataset card YAML: no configs (load_dataset would not find the Parquet shards)")
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet")]
    for entry in configs:
        for data_file in entry.get("data_files") or []:
            if not any(_matches(data_file["path"], f) for f in files):
                raise located(path, f"dataset card YAML: configs: {entry.get('config_name')}: split "
                                    f"{data_file.get('split')}: no file matches {data_file['path']!r}")
    return card
