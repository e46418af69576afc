"""Every public function, class and method of the library has a docstring (shapes, units, errors live there)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARY = sorted([REPO / "imagenet3d.py", *REPO.glob("dataset_card/*.py"), *REPO.glob("modeling/**/*.py")])


def undocumented(source: str) -> list[str]:
    """``line name`` of each public def or class (methods of public classes too) without a docstring."""
    missing = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            definition = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if definition and not node.name.startswith("_"):
                if ast.get_docstring(node) is None:
                    missing.append(f"{node.lineno} {prefix}{node.name}")
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")

    visit(ast.parse(source).body, "")
    return missing


def test_the_check_finds_a_missing_docstring() -> None:
    source = ('def f():\n    """Doc."""\n\nclass C:\n    """Doc."""\n    def m(self):\n        pass\n\n'
              'def _private():\n    pass\n')
    assert undocumented(source) == ["6 C.m"]


def test_every_public_function_and_class_has_a_docstring() -> None:
    missing = [f"{path.relative_to(REPO)}:{entry}" for path in LIBRARY
               for entry in undocumented(path.read_text(encoding="utf-8"))]
    assert not missing, "public names without a docstring:\n" + "\n".join(missing)
