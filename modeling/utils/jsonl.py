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
    numbered = [(number, line) for number, line in iter_lines(path) if line.strip()]
    records = _parse_all(numbered)
    if records is not None:
        yield from zip((number for number, _ in numbered), records)
        return
    for number, line in numbered:  # one line at a time: the first bad line is the one reported
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


_SEPARATOR = "\x1e"
"""Put between the lines of a file parsed at once: a value no file line can make without writing ``\\u001e``."""


def _parse_all(numbered: list[tuple[int, str]]) -> list[dict] | None:
    """Every line parsed by one ``json.loads`` of them joined as one array (~3x faster than a call per line), or
    None unless that is surely one object per line; the caller then parses line by line and names the first bad
    line. The lines are joined by ``,"\\u001e",`` and a newline: the array must come back as object, separator,
    object, ... with every separator at its top level, so that each line is exactly one element (a string cannot
    run past the raw newline; a line that writes ``\\u001e`` itself is parsed line by line)."""
    for _, line in numbered:
        text = line.strip(" \t")
        if not (text.startswith("{") and text.endswith("}")) or "\\u001" in line:
            return None
    try:
        values = json.loads("[" + ',"\\u001e",\n'.join(line for _, line in numbered) + "]")
    except json.JSONDecodeError:
        return None
    records = values[0::2]
    if len(values) != 2 * len(numbered) - 1 or any(value != _SEPARATOR for value in values[1::2]) \
            or not all(type(record) is dict for record in records):
        return None
    return records


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
