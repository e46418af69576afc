"""What each kind of folder must hold to be published, and the plan of an upload (what ``--dry-run`` prints).

* **dataset** (a folder written by ``imagenet3d build``): the Parquet shards under ``data/``, the ``README.md``
  card (checked by :func:`modeling.data.card.check_dataset_card`: ``huggingface_hub.DatasetCard`` parses it and
  every ``configs:`` pattern matches a shard) and ``build_report.json``.
* **model** (``train``, ``train-baseline``, ``init-model``): ``*.safetensors``, ``config.json``; for LLaVA-pose its
  ``auto_map`` and every code file it names (and their same-folder imports), the processor
  (``processor_config.json``) and tokenizer (``tokenizer.json``, ``tokenizer_config.json``); for the baseline its
  image processor (``preprocessor_config.json``). A LoRA adapter folder (``train --stage 2``) holds
  ``adapter_config.json`` and ``adapter_model.safetensors`` instead, and needs its base. The card is rendered from
  the folder's measured facts (:mod:`modeling.hub.model_card`) with the repo id in its snippets.
* **space**: ``app.py``, ``requirements.txt`` and the README.md with the Spaces YAML (:mod:`modeling.hub.space_card`),
  plus the project's own packages (``modeling/``, ``dataset_card/``: the Hub installs ``requirements.txt`` from PyPI,
  where this project is not) taken from where the running ``modeling`` and ``dataset_card`` are imported from, each
  unless the folder holds it already (:func:`project_package_files`).

Left out of every upload: hidden files, ``__pycache__``, ``checkpoint-N/`` folders, pickles (``*.bin``, ``*.pt``,
``*.pkl``: ``training_args.bin``), and ``merged/`` of an adapter folder (a full model: publish it on its own).
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from modeling.hub.model_card import BASELINE, CARD_FILE, LLAVA_POSE, MERGED_DIR, describe_model, load_facts, read_json
from modeling.utils.errors import ImageNet3DError, located

REPO_TYPES = ("dataset", "model", "space")
LEFT_OUT = (".*", "*/.*", "__pycache__", "*/__pycache__", "checkpoint-*", "*.bin", "*.pt", "*.pth", "*.pkl",
            "*.pyc")
"""fnmatch patterns of paths (relative, '/'-separated, and each of their parent folders) never uploaded."""
PROJECT_PACKAGES = {"modeling": ("*.py",), "dataset_card": ("*.py", "*.txt", "*.json", "*.md")}
"""The project's packages that a Space carries beside app.py, with the file names each ships (setup.cfg's
``packages`` and ``package_data``)."""


@dataclass
class PublishPlan:
    """What an upload would send: ``files`` are (path in the repo, size in bytes), the card included; ``card`` is the
    README.md text (written by us from measured files); ``notes`` say what the user should know first; ``sources``
    maps the paths of ``files`` that do not come from ``folder`` to the local file sent there (a Space's packages)."""

    repo_type: str
    folder: Path
    files: list[tuple[str, int]]
    card: str
    notes: list[str] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        """Bytes of every file of the plan."""
        return sum(size for _, size in self.files)


def _left_out(relative: str) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p.rsplit("/", 1)[-1], pattern)
               for p in prefixes for pattern in LEFT_OUT)


def folder_files(folder: Path, skip_dirs: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """Every file under ``folder`` that an upload takes (see :data:`LEFT_OUT`), sorted: (relative path, bytes)."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if not path.is_file() or _left_out(relative) or relative.split("/")[0] in skip_dirs:
            continue
        found.append((relative, path.stat().st_size))
    return found


def _need_folder(folder: Path) -> None:
    if not folder.exists():
        raise located(folder, "no such folder")
    if not folder.is_dir():
        raise located(folder, "not a folder")


def _card_entry(files: list[tuple[str, int]], card: str) -> list[tuple[str, int]]:
    return sorted([(p, s) for p, s in files if p != CARD_FILE] + [(CARD_FILE, len(card.encode("utf-8")))])


def plan_dataset(folder: str | Path, repo_id: str | None = None) -> PublishPlan:
    """The plan of ``publish dataset``: Parquet shards, card, build report; the card's ``load_dataset`` snippets
    name ``repo_id`` when given (:func:`modeling.data.card.card_for_repo`). Raises ImageNet3DError naming what is
    missing (or that the folder holds a model or a release instead)."""
    from modeling.data.card import card_for_repo, check_dataset_card

    folder = Path(folder)
    _need_folder(folder)
    for marker, what in (("config.json", "a model (use `publish model`)"),
                         ("adapter_config.json", "a LoRA adapter (use `publish model`)"),
                         ("synthetic.json", "a release, not a build (run `imagenet3d build` on it first)")):
        if (folder / marker).is_file():
            raise located(folder, f"holds {what}, not a built dataset")
    if not any((folder / "data").rglob("*.parquet")):
        raise located(folder, "no Parquet shards under data/ (not a folder written by `imagenet3d build`)")
    if not (folder / CARD_FILE).is_file():
        raise located(folder, "no README.md (the dataset card `imagenet3d build` writes)")
    check_dataset_card(folder)
    files = [(p, s) for p, s in folder_files(folder)
             if p == CARD_FILE or p == "build_report.json" or (p.startswith("data/") and p.endswith(".parquet"))]
    notes = []
    if not (folder / "build_report.json").is_file():
        notes.append("no build_report.json: the card's counts cannot be traced to a build report")
    others = len(folder_files(folder)) - len(files)
    if others:
        notes.append(f"{others} other file(s) in the folder are not part of the dataset and are left out")
    report = read_json(folder / "build_report.json") if (folder / "build_report.json").is_file() else {}
    source = (report.get("source") or {}).get("kind", "unknown") if isinstance(report, dict) else "unknown"
    notes.append(f"source: {source} release" + (" (the card says so; license apache-2.0)" if source == "synthetic"
                                                 else ""))
    card = (folder / CARD_FILE).read_text(encoding="utf-8")
    card = card_for_repo(card, repo_id) if repo_id else card
    files = _card_entry(files, card)
    return PublishPlan("dataset", folder, files, card, notes)


def _relative_imports(path: Path) -> list[str]:
    """Same-folder modules a Python file imports relatively (``from .geometry import x`` → ``geometry``)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as err:
        raise located(path, f"not valid Python ({err.msg})", err.lineno) from None
    return sorted({node.module.split(".")[0] for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module})


def _code_files(folder: Path, auto_map: dict, where: str) -> list[str]:
    """The code files an ``auto_map`` names, with the same-folder modules they import; a missing one raises."""
    wanted = sorted({ref.split("--")[-1].rsplit(".", 1)[0] + ".py"
                     for value in auto_map.values() for ref in ([value] if isinstance(value, str) else value)
                     if ref})
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        if not (folder / name).is_file():
            raise located(folder, f"no {name} (custom code named by {where})")
        seen.add(name)
        wanted += [f"{module}.py" for module in _relative_imports(folder / name)]
    return sorted(seen)


def _require(folder: Path, names: tuple[str, ...], what: str) -> None:
    for name in names:
        if not (folder / name).is_file():
            raise located(folder, f"no {name} ({what})")


def plan_model(folder: str | Path, repo_id: str | None = None, dataset_ids: tuple[str, ...] = ()) -> PublishPlan:
    """The plan of ``publish model``: weights, config with ``auto_map`` and the custom code, processor and tokenizer
    files, and the card rendered for ``repo_id``. Raises ImageNet3DError naming the first missing file."""
    from modeling.hub.model_card_text import render_model_card

    folder = Path(folder)
    _need_folder(folder)
    if (folder / "build_report.json").is_file():
        raise located(folder, "holds a built dataset (use `publish dataset`), not a model")
    notes = []
    adapter = (folder / "adapter_config.json").is_file()
    if not adapter and not (folder / "config.json").is_file():
        raise located(folder, "no config.json or adapter_config.json: not a model folder")
    if adapter:
        _require(folder, ("adapter_model.safetensors",), "the LoRA adapter's weights")
        base = str(read_json(folder / "adapter_config.json").get("base_model_name_or_path") or "")
        if not base:
            raise located(folder / "adapter_config.json", "no base_model_name_or_path: cannot say which base it needs")
        notes.append(f"LoRA adapter: it needs its base model {base!r} (adapter_config.json base_model_name_or_path)")
        if Path(base).exists() or base.startswith((".", "/")) or base.count("/") != 1:
            notes.append(f"warning: the base {base!r} is a local path: publish that folder too (`publish model "
                         f"{base} --repo-id NS/BASE`) and set base_model_name_or_path to its Hub id, or users of "
                         "this adapter cannot load it")
        if (folder / MERGED_DIR / "config.json").is_file():
            notes.append(f"{MERGED_DIR}/ (the merged full model) is left out: publish it on its own")
        config = read_json(folder / "config.json") if (folder / "config.json").is_file() else {}
    else:
        config = read_json(folder / "config.json")
        if not any(folder.glob("*.safetensors")):
            raise located(folder, "no *.safetensors weights (save_pretrained writes model.safetensors)")
    model = describe_model(folder)
    model_type = model["model_type"]
    if model_type not in (LLAVA_POSE, BASELINE):
        raise located(folder / ("adapter_config.json" if adapter else "config.json"),
                      f"model_type {model_type!r}: not a LLaVA-pose or baseline folder")
    code: list[str] = []
    if model_type == LLAVA_POSE:
        _require(folder, ("processor_config.json", "tokenizer.json", "tokenizer_config.json"),
                 "the processor and tokenizer files save_pretrained writes")
        processor_map = (read_json(folder / "processor_config.json") or {}).get("auto_map") or {}
        if not processor_map:
            raise located(folder / "processor_config.json", "no auto_map (the processor's custom code)")
        code += _code_files(folder, processor_map, "processor_config.json auto_map")
        if not adapter:
            if not config.get("auto_map"):
                raise located(folder / "config.json", "no auto_map: transformers cannot find the model's code "
                                                      "(save with register_for_auto_class)")
            code += _code_files(folder, config["auto_map"], "config.json auto_map")
        pipelines = {task: entry.get("impl", "") for task, entry in (config.get("custom_pipelines") or {}).items()
                     if isinstance(entry, dict)}
        code += _code_files(folder, pipelines, "config.json custom_pipelines")
    else:
        _require(folder, ("preprocessor_config.json",), "the image processor")
        if config.get("auto_map"):
            code += _code_files(folder, config["auto_map"], "config.json auto_map")
        else:
            notes.append("baseline: config.json has no auto_map, so loading it needs the imagenet3d package "
                         "(`import modeling.baseline.model`); the card's snippet says so")
    if model["custom_pipelines"]:
        notes.append("pipelines saved with the model: " + ", ".join(model["custom_pipelines"]))
    facts = load_facts(folder)
    card = render_model_card(facts, repo_id=repo_id, model_id=repo_id or str(folder.resolve()),
                             dataset_ids=dataset_ids)
    files = folder_files(folder, skip_dirs=(MERGED_DIR,) if adapter else ())
    if not facts.get("evaluations"):
        notes.append("not evaluated: the card has no model-index (run `imagenet3d evaluate --out DIR` first)")
    notes.append(f"custom code: {', '.join(sorted(set(code))) or 'none'}")
    return PublishPlan("model", folder, _card_entry(files, card), card, notes)


def project_package_files(skip: tuple[str, ...] = ()) -> dict[str, Path]:
    """The files of the project's packages (:data:`PROJECT_PACKAGES` but those named in ``skip``) as the running
    Python imports them: {path in the repo (``modeling/...``, ``dataset_card/...``): local file}, sorted; no
    ``__pycache__``, ``*.pyc`` or ``tests`` folder. Raises ImageNet3DError if a package is not importable."""
    import importlib.util

    found = {}
    for name, patterns in PROJECT_PACKAGES.items():
        if name in skip:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImageNet3DError(f"{name}: the package is not importable here, so publish space cannot upload it")
        root = Path(spec.origin).parent
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if (path.is_file() and not _left_out(relative) and "tests" not in relative.split("/")[:-1]
                    and any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)):
                found[f"{name}/{relative}"] = path
    return found


def plan_space(folder: str | Path, models: tuple[str, ...] = (), datasets: tuple[str, ...] = (),
               title: str | None = None, emoji: str | None = None) -> PublishPlan:
    """The plan of ``publish space``: the folder's files with the README.md (Spaces YAML) written for it, and the
    project's packages (:func:`project_package_files`) for those the folder does not hold (``NAME/__init__.py``), at
    ``modeling/...`` and ``dataset_card/...`` beside app.py, which finds them there. Raises ImageNet3DError naming a
    missing app.py or requirements.txt."""
    from modeling.hub.space_card import installed_gradio, render_space_card

    folder = Path(folder)
    _need_folder(folder)
    card = render_space_card(folder, models, datasets, title, emoji)
    notes = []
    if installed_gradio() is None:
        notes.append("gradio is not installed here: the card names no sdk_version (the Hub picks one)")
    if not models:
        notes.append("no --model: the Space reads IMAGENET3D_MODEL, which this upload does not set")
    held = tuple(name for name in PROJECT_PACKAGES if (folder / name / "__init__.py").is_file())
    sources = project_package_files(skip=held)
    if sources:
        size = sum(path.stat().st_size for path in sources.values())
        roots = ", ".join(sorted({path.split("/")[0] + "/" for path in sources}))
        first, source = next(iter(sources.items()))
        notes.append(f"the project's packages: {len(sources)} file(s), {_size(size)} ({roots} from "
                     f"{source.parents[first.count('/')]}), uploaded beside app.py")
    files = folder_files(folder) + [(path, source.stat().st_size) for path, source in sources.items()]
    return PublishPlan("space", folder, _card_entry(files, card), card, notes, sources)


def format_plan(plan: PublishPlan, repo_id: str) -> str:
    """The dry run's report: every file with its size, the total, the notes, and the card."""
    lines = [f"{plan.repo_type} {repo_id} from {plan.folder}: {len(plan.files)} file(s), {_size(plan.total_bytes)}"]
    width = max(len(_size(size)) for _, size in plan.files)
    lines += [f"  {_size(size):>{width}}  {path}" for path, size in plan.files]
    lines += [f"note: {note}" for note in plan.notes]
    lines += ["", f"--- README.md (checked by huggingface_hub's {plan.repo_type.capitalize()}Card) ---", plan.card]
    return "\n".join(lines)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


__all__ = ["LEFT_OUT", "PROJECT_PACKAGES", "REPO_TYPES", "PublishPlan", "folder_files", "format_plan", "plan_dataset",
           "plan_model", "plan_space", "project_package_files"]
