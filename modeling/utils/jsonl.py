"""JSON Lines files: writing ours, and reading those given by users (every error names the file and the line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from modeling.utils.errors import located


def iter_json_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSONL file (1-based line numbers).

    A line that is not valid JSON, or not a JSON object, is an error naming the file and the line.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise located(path, f"malformed JSON ({err.msg})", number) from None
            if not isinstance(record, dict):
                raise located(path, "each line must be a JSON object", number)
            yield number, record


def write_jsonl(path: str | Path, records: Iterable[dict]) -> Path:
    """Write one JSON object per line (UTF-8, each line ends with a newline); returns the path."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path
