"""What may import what: the layout's rules, checked on every module's imports (parsed with ``ast``, nothing is run).

``RULES`` below is the rule book; ``docs/DEVELOP.md`` quotes it (``test_the_develop_guide_quotes_the_rules`` keeps
the two the same). A broken rule fails with one line per import: ``file:line: statement`` under the rule's name.

Scopes: ``anywhere`` is every import statement of the file, also inside functions; ``at import`` is what importing
the file runs: its module-level imports (not those inside functions or under ``if TYPE_CHECKING:``), followed
through the project modules they import and the packages' ``__init__.py`` files. Relative imports are resolved to
absolute names; ``importlib.import_module("...")`` and ``__import__("...")`` with a literal name count as imports.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVELOP_GUIDE = ROOT / "docs" / "DEVELOP.md"

# The code the rules look at (repository-relative paths; fnmatch's * also crosses /). Tests are not checked.
LIBRARY = ("imagenet3d.py", "dataset_card/*.py", "modeling/*.py")
SCRIPTS = ("benchmarks/*.py", "space/*.py")

BUNDLE = ("modeling/configuration_llava_pose.py", "modeling/modeling_llava_pose.py",
          "modeling/processing_llava_pose.py", "modeling/pipeline_llava_pose.py", "modeling/pose_head_llava_pose.py",
          "modeling/geometry.py",
          "modeling/category_names.py", "modeling/box_crop.py", "modeling/image_decoding.py")
HEAVY = ("torch", "transformers", "peft", "accelerate")
STDLIB = "the standard library"     # sys.stdlib_module_names
SIBLINGS = "each other (relative)"  # `from .x import y` where x is another file of the rule


@dataclass(frozen=True)
class Rule:
    name: str
    files: tuple[str, ...]                  # the files the rule is about
    why: str
    forbidden: tuple[str, ...] = ()         # modules (with their submodules) these files must not import
    allowed: tuple[str, ...] | None = None  # if set: the only modules these files may import
    scope: str = "anywhere"                 # or "at import"
    exempt: tuple[str, ...] = ()            # files matched by `files` that the rule leaves out


RULES = (
    Rule("hub-bundle", BUNDLE,
         allowed=(SIBLINGS, "torch", "transformers", "huggingface_hub", "numpy", "PIL", STDLIB),
         why="save_pretrained copies these files next to the weights, and transformers follows only same-folder "
             "relative imports (huggingface_hub and Pillow: what transformers itself needs to load an image)"),
    Rule("light", ("imagenet3d.py", "dataset_card/*.py", "modeling/__init__.py", "modeling/geometry.py",
                   "modeling/category_names.py", "modeling/box_crop.py", "modeling/image_decoding.py",
                   "modeling/data/*.py", "modeling/synthetic/*.py", "modeling/evaluation/metrics.py",
                   "modeling/evaluation/scoring.py", "modeling/visualization.py", "modeling/hub/*.py",
                   "modeling/utils/*.py", "modeling/baseline/sizes.py",
                   "modeling/cli/__init__.py"),
         exempt=("modeling/data/collate.py",), forbidden=HEAVY, scope="at import",
         why="the dataset side, the scorer and `imagenet3d --help` must not pay for torch and transformers (~4 s); "
             "import them inside the function that needs them"),
    Rule("foundations", ("dataset_card/*.py", "modeling/utils/*.py"), allowed=(STDLIB, "modeling.utils"),
         why="everything imports the taxonomy and the errors: they import nothing of ours but each other"),
    Rule("nobody-imports-the-cli", LIBRARY + SCRIPTS, exempt=("modeling/cli/*",), forbidden=("modeling.cli",),
         why="the CLI is the top of the graph: library code is called with Python values (tests may import it)"),
    Rule("baseline-stands-alone", ("modeling/baseline/*",),
         forbidden=("modeling.llava_pose", "modeling.configuration_llava_pose", "modeling.modeling_llava_pose",
                    "modeling.processing_llava_pose", "modeling.pipeline_llava_pose",
                    "modeling.pose_head_llava_pose"),
         why="LLaVA-pose may build on the baseline (its vision tower), never the other way round"),
    Rule("hub-reads-files-not-code", ("modeling/hub/*",),
         forbidden=("modeling.llava_pose", "modeling.baseline", "modeling.evaluation", "modeling.probing",
                    "modeling.demo"),
         why="the trainers, init-model and evaluate call the card writer, which reads the files they wrote "
             "(summaries, metrics.json), never their code"),
    Rule("only-the-cli-parses-arguments", LIBRARY, exempt=("modeling/cli/*",), forbidden=("argparse",),
         why="library code never parses arguments: each command's add_arguments/run lives in modeling/cli"),
    Rule("the-space-is-an-interface", ("space/*.py",),
         allowed=(STDLIB, "gradio", "modeling.demo.space", "modeling.utils"),
         why="space/app.py lays out the page; what it computes lives in modeling/demo/space.py, which the tests and "
             "the notebook call too"),
    Rule("no-gradio-in-the-library", LIBRARY, forbidden=("gradio", "selenium"),
         why="the Space's extra is optional: the library, the CLI included, runs without it (`imagenet3d space` "
             "loads space/app.py)"),
)


@dataclass(frozen=True)
class Import:
    line: int
    statement: str            # as written (ast.unparse)
    modules: tuple[str, ...]  # absolute names it may import: `from a import b` gives a and a.b
    checked: tuple[str, ...]  # what an allow-list checks: the module, or a.b for `from a import b` with no module
    level: int                # 0 for absolute imports, the number of dots otherwise
    where: str                # "module level", "in a function" or "type checking only"


def module_name(relative: str) -> str:
    parts = relative.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parse_imports(source: str, name: str, is_package: bool = False) -> list[Import]:
    """Every import of a module's source; ``name`` (the module's absolute name) resolves relative imports."""
    package = name if is_package else name.rpartition(".")[0]

    def absolute(module: str | None, level: int) -> str:
        if not level:
            return module or ""
        parts = package.split(".") if package else []
        if level - 1 > len(parts) or (level - 1 == len(parts) and not module):
            return "<beyond the top-level package>"
        base = parts[:len(parts) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    found: list[Import] = []

    def add(node: ast.AST, modules: list[str], checked: list[str], level: int, where: str) -> None:
        found.append(Import(node.lineno, ast.unparse(node), tuple(modules), tuple(checked), level, where))

    def visit(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            add(node, names, names, 0, where)
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node.module, node.level)
            members = [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
            add(node, [base, *members] if node.module else members, [base] if node.module else members,
                node.level, where)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and _is_import_call(node.func)):
            target = node.args[0].value
            level = len(target) - len(target.lstrip("."))
            resolved = absolute(target[level:] or None, level)
            add(node, [resolved], [resolved], level, where)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, "in a function" if where == "in a function" else "type checking only")
            for child in node.orelse:
                visit(child, where)
            return
        deferred = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for field, value in ast.iter_fields(node):
            inner = "in a function" if deferred and field == "body" else where
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child, inner)

    visit(ast.parse(source), "module level")
    return found


def _is_import_call(func: ast.expr) -> bool:
    return ((isinstance(func, ast.Attribute) and func.attr == "import_module")
            or (isinstance(func, ast.Name) and func.id in ("import_module", "__import__")))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


@cache
def project_files() -> tuple[str, ...]:
    """Repository-relative paths of the checked files, sorted."""
    found = set()
    for pattern in LIBRARY + SCRIPTS:
        top = pattern.split("/")[0]
        candidates = [ROOT / top] if top.endswith(".py") else sorted((ROOT / top).rglob("*.py"))
        for path in candidates:
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and "__pycache__" not in relative and fnmatch.fnmatchcase(relative, pattern):
                found.add(relative)
    return tuple(sorted(found))


@cache
def imports_of(relative: str) -> tuple[Import, ...]:
    source = (ROOT / relative).read_text(encoding="utf-8")
    return tuple(parse_imports(source, module_name(relative), relative.endswith("__init__.py")))


@cache
def file_of_module() -> dict[str, str]:
    return {module_name(relative): relative for relative in project_files() if relative.startswith(("modeling/",
            "dataset_card/", "imagenet3d.py"))}


def files_run_by(module: str) -> list[str]:
    """The project files that importing ``module`` runs itself: its packages' __init__.py, then the module."""
    parts = module.split(".")
    prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return [file_of_module()[prefix] for prefix in prefixes if prefix in file_of_module()]


def rule_files(rule: Rule) -> list[str]:
    return [f for f in project_files()
            if any(fnmatch.fnmatchcase(f, p) for p in rule.files)
            and not any(fnmatch.fnmatchcase(f, p) for p in rule.exempt)]


def _matches(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _allowed(imp: Import, module: str, rule: Rule, siblings: set[str]) -> bool:
    if STDLIB in rule.allowed and not imp.level and module.split(".")[0] in sys.stdlib_module_names:
        return True
    if SIBLINGS in rule.allowed and imp.level == 1 and module in siblings:
        return True
    return _matches(module, tuple(a for a in rule.allowed if a not in (STDLIB, SIBLINGS)))


def violations(rule: Rule) -> list[str]:
    """One line per offending import, ``file:line: statement`` (and, at import, how the file gets imported)."""
    files = rule_files(rule)
    if rule.scope == "at import":
        return _violations_at_import(rule, files)
    siblings = {module_name(f) for f in files}
    lines = []
    for relative in files:
        for imp in imports_of(relative):
            if rule.allowed is not None:
                bad = [m for m in imp.checked if not _allowed(imp, m, rule, siblings)]
            else:
                bad = [m for m in imp.modules if _matches(m, rule.forbidden)]
            if bad:
                named = f"; {bad[0]}" if bad[0] not in imp.statement else ""
                lines.append(f"{relative}:{imp.line}: {imp.statement}  ({imp.where}{named})")
    return lines


def _violations_at_import(rule: Rule, files: list[str]) -> list[str]:
    """Breadth first from the rule's files through module-level imports of project modules: each forbidden import
    is reported once, where it is written, with the shortest chain from a file of the rule."""
    came_from: dict[str, tuple[str, int] | None] = {}
    queue: deque[str] = deque()
    for relative in files:
        for ran in [*files_run_by(module_name(relative))[:-1], relative]:
            if ran not in came_from:
                came_from[ran] = None if ran == relative else (relative, 0)
                queue.append(ran)
    lines = []
    while queue:
        current = queue.popleft()
        for imp in imports_of(current):
            if imp.where != "module level":
                continue
            if any(_matches(m, rule.forbidden) for m in imp.modules):
                chain, step = [], came_from[current]
                while step is not None:
                    chain.append(f"{step[0]}:{step[1]}" if step[1] else f"{step[0]} (as its package)")
                    step = came_from[step[0]]
                via = f"; reached from {' -> '.join(reversed(chain))}" if chain else ""
                lines.append(f"{current}:{imp.line}: {imp.statement}  (module level{via})")
            for module in imp.modules:
                for ran in files_run_by(module):
                    if ran not in came_from:
                        came_from[ran] = (current, imp.line)
                        queue.append(ran)
    return lines


def render_rules_table() -> str:
    """The rules as the Markdown table that docs/DEVELOP.md quotes."""
    def code(items: tuple[str, ...]) -> str:
        return ", ".join(item if item in (STDLIB, SIBLINGS) else f"`{item}`" for item in items)

    rows = ["| rule | files | scope | may import | why |", "|---|---|---|---|---|"]
    for rule in RULES:
        files = code(rule.files) + (f" except {code(rule.exempt)}" if rule.exempt else "")
        if rule.allowed is not None:
            may = "only " + code(rule.allowed)
        else:
            may = "not " + code(rule.forbidden)
        rows.append(f"| {rule.name} | {files} | {rule.scope} | {may} | {rule.why} |")
    return "\n".join(rows)


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_rule(rule):
    broken = violations(rule)
    assert not broken, (f"rule {rule.name} ({rule.why}): these files may import "
                        + (f"only {', '.join(rule.allowed)}" if rule.allowed is not None
                           else f"no {', '.join(rule.forbidden)}")
                        + f" ({rule.scope}):\n  " + "\n  ".join(broken))


def test_every_pattern_of_the_rules_names_files():
    """A renamed or moved module must not drop out of a rule silently."""
    files = project_files()
    assert set(BUNDLE) <= set(files) and "modeling/cli/__init__.py" in files
    unmatched = [(rule.name, pattern) for rule in RULES for pattern in rule.files + rule.exempt
                 if pattern not in SCRIPTS and not any(fnmatch.fnmatchcase(f, pattern) for f in files)]
    assert not unmatched, f"patterns that match no file (update RULES and docs/DEVELOP.md): {unmatched}"


def test_the_develop_guide_quotes_the_rules():
    table = render_rules_table()
    assert table in DEVELOP_GUIDE.read_text(encoding="utf-8"), (
        f"docs/DEVELOP.md must quote the rules of {Path(__file__).name} exactly; the table now reads:\n\n{table}")


def test_imports_are_parsed_with_their_scope_and_resolved():
    source = "\n".join([
        "import torch.nn as nn",
        "from . import geometry",
        "from ..utils.errors import located",
        "from typing import TYPE_CHECKING",
        "if TYPE_CHECKING:",
        "    import peft",
        "class A:",
        "    import argparse",
        "def f():",
        "    from .sibling import g",
        "    return importlib.import_module('transformers'), importlib.import_module('.other', __package__)",
    ])
    found = [(i.line, i.modules, i.level, i.where) for i in parse_imports(source, "modeling.data.rows")]
    assert found == [
        (1, ("torch.nn",), 0, "module level"),
        (2, ("modeling.data.geometry",), 1, "module level"),
        (3, ("modeling.utils.errors", "modeling.utils.errors.located"), 2, "module level"),
        (4, ("typing", "typing.TYPE_CHECKING"), 0, "module level"),
        (6, ("peft",), 0, "type checking only"),
        (8, ("argparse",), 0, "module level"),
        (10, ("modeling.data.sibling", "modeling.data.sibling.g"), 1, "in a function"),
        (11, ("transformers",), 0, "in a function"),
        (11, ("modeling.data.other",), 1, "in a function"),
    ]
    assert parse_imports("from . import x", "modeling", is_package=True)[0].modules == ("modeling.x",)


def test_the_scorer_the_builder_and_the_cli_load_without_torch():
    code = ("import sys, modeling.evaluation.scoring, imagenet3d, modeling.cli\n"
            "modeling.cli.build_parser([]).format_help()\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]", result.stdout
