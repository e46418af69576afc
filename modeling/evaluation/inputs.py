"""What the scorer reads in a record's ``category`` and angles beyond their JSON type: the vocabulary and the unit.

* ``category``: one of the 189 names of :data:`dataset_card.CATEGORIES` ("car"), or its **ClassLabel id**, the
  integer index in that tuple (35 for "car"; the ``category`` column of the built dataset holds these ids). Ids are
  mapped to names, with a warning that says so (ids in another order would be read wrongly). An integer outside
  0..188 and any other type are errors naming the file and the line. A string that is not one of the names ("Car",
  a WordNet id "n02958343") is an error in references (they define the meta-class columns), and in predictions a
  wrong class, counted in one warning with the first line (a model may answer with a name outside the vocabulary;
  ``null`` is "no class" and counts as wrong silently).
* angles: radians. Annotations may be unwrapped by a turn (7.0 rad is 0.72 rad), so only a magnitude beyond
  :data:`DEGREES_LIKELY` = 4π (720°) — more than one turn past [0, 2π) — is taken as a sign of degrees: one warning
  per file with the count. In degrees, any angle of 13° or more trips it, so a file in degrees of more than a handful
  of objects is all but certain to be flagged.
"""

from __future__ import annotations

import math
import re

import numpy as np

from dataset_card import CATEGORIES
from modeling.geometry import ANGLE_NAMES
from modeling.utils.errors import located

DEGREES_LIKELY = 4.0 * math.pi
"""An angle with a larger magnitude cannot be radians wrapped to [0, 2π) and unwrapped by one turn: degrees?"""

_INDEX = {name: i for i, name in enumerate(CATEGORIES)}
_WNID = re.compile(r"n\d{8}")


def _hint(value: str) -> str:
    """What the user may have meant by a string that is not a category name."""
    folded = value.strip().lower().replace(" ", "_").replace("-", "_")
    if folded in _INDEX:
        return f" (names are the lower-case folder names: {folded!r})"
    if _WNID.fullmatch(value.strip()):
        return " (a WordNet id: the scorer expects the category names of dataset_card.CATEGORIES)"
    return ""


def category_names(records: list[dict], path: object, *, references: bool) -> tuple[list[str | None], list[str]]:
    """Each record's ``category`` as a name of :data:`dataset_card.CATEGORIES`, and the warnings about them.

    ``references=True``: every value must be a name or an id. Predictions may also hold ``null`` (no class) or
    another string (a wrong class, counted in a warning). Errors name ``path`` and the record's ``_line``.
    """
    what = "reference(s)" if references else "prediction(s)"
    names: list[str | None] = []
    ids: list[int] = []
    unknown: list[tuple[int | None, str]] = []
    for record in records:
        value, line = record.get("category"), record.get("_line")
        if isinstance(value, str):
            if value not in _INDEX:
                if references:
                    raise located(path, f"unknown category {value!r}{_hint(value)}", line)
                unknown.append((line, value))
            names.append(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < len(CATEGORIES):
                raise located(path, f"category id {value} is not a ClassLabel id: ids are 0..{len(CATEGORIES) - 1},"
                                    " the index in dataset_card.CATEGORIES", line)
            ids.append(value)
            names.append(CATEGORIES[value])
        elif value is None and not references:
            names.append(None)
        else:
            raise located(path, f"field 'category' must be a category name or a ClassLabel id (an integer "
                                f"0..{len(CATEGORIES) - 1}), got {value!r}", line)
    warnings = []
    if ids:
        examples = ", ".join(f"{i} → {CATEGORIES[i]!r}" for i in sorted(set(ids))[:3])
        warnings.append(f"{path}: {len(ids)} of {len(records)} {what} give the category as a ClassLabel id, read "
                        f"as the index in dataset_card.CATEGORIES ({examples}); if yours follow another order, "
                        f"write the names")
    if unknown:
        line, value = unknown[0]
        at = f"line {line}" if line is not None else "e.g."
        warnings.append(f"{path}: {len(unknown)} of {len(records)} {what} have a category that is not one of the "
                        f"{len(CATEGORIES)} names and count as a wrong class ({at}: {value!r}{_hint(value)})")
    return names, warnings


def degree_warnings(angles: np.ndarray, records: list[dict | None], path: object, *, references: bool) -> list[str]:
    """One warning when some rows of ``angles`` (N, 3) have a magnitude above :data:`DEGREES_LIKELY` (degrees?).

    ``records[i]`` is the record of row i (None for a row without one: a missing prediction, NaN), for the line.
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1, 3)
    with np.errstate(invalid="ignore"):
        beyond = np.isfinite(angles) & (np.abs(angles) > DEGREES_LIKELY)  # NaN and inf are error π, not degrees
    rows = np.flatnonzero(beyond.any(axis=1))
    if rows.size == 0:
        return []
    row = int(rows[0])
    record, column = records[row] or {}, int(np.argmax(beyond[row]))
    at = f"line {record['_line']}" if "_line" in record else f"id {record.get('id')!r}"
    what = "reference(s)" if references else "prediction(s)"
    total = sum(r is not None for r in records)
    return [f"{path}: {rows.size} of {total} {what} have an angle beyond ±4π rad (720°), e.g. "
            f"{ANGLE_NAMES[column]} = {angles[row][column]:g} on {at}: are they in degrees? The scorer reads radians"]
