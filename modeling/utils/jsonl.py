"""JSON Lines files: writing ours, and reading those given by users (every error names the file and the line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from modeling.utils.errors import located
from modeling.utils.textfile import iter_lines


def iter_json_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSONL file (1-based line numbers).

    The file is decoded by :func:`modeling.utils.textfile.read_text` (UTF-8, or UTF-16/32 with a byte-order mark).
    A line that is not valid JSON, or not a JSON object, and bytes the encoding refuses are errors naming the file
    and the line.
    """
    path = Path(path)
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        if line.startswith("\ufeff"):
            raise located(path, "a byte-order mark inside the file (were two files joined?): only the file's "
                                "start may have one", number)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise located(path, f"malformed JSON ({err.msg})", number) from None
        if not isinstance(record, dict):
            raise located(path, "each line must be a JSON object", number)
        yield number, record


def write_jsonl(path: str | Path, records: Iterable[dict], append: bool = False) -> Path:
    """Write one JSON object per line (UTF-8, each line ends with a newline); returns the path.

    ``append=True`` adds the lines at the end of an existing file (creating it when missing) instead of
    replacing it.
    """
    path = Path(path)
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path
