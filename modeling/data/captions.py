"""Captions with ``<pose6D>`` tokens, in the form of the paper's GPT-4v captions (spec §6).

The paper's captions are not released, so the ``captions`` config gets template captions written
from the annotations: the prompt is "Describe the image in detail with 6D poses.", and each object
is named by an UPPERCASE category tag with a 1-based instance index followed by "with <pose6D>",
e.g. "a bicycle BICYCLE1 with <pose6D> is at the forefront". The value of each ``<pose6D>`` is the
object's pose (azimuth, elevation, theta, distance, px, py), listed per token, in order, in the
``pose6d`` column.

Tag convention (also for imported captions): ``<CATEGORY><k>`` is the k-th object of that category counted from
the left of the image (by the object centre px; the npz list order breaks ties), among the objects that pass the
official filter. Every such object is tagged exactly once per caption. The numbering is one a reader of the image
can reproduce (an annotation list's order cannot be seen), so a model that writes captions can learn it, and
``imagenet3d evaluate --task describe`` matches a generated tag to the annotated object of the same category and
rank (:mod:`modeling.evaluation.describe`).

Template captions have one fixed structure, so that a small language model learns it from a few thousand examples
(the varied openings and word orders of an earlier version left the demo's model writing garbled tags): an opening
that counts the objects per category, then one sentence per object, left to right, "<A name> <TAG> with <pose6D>
is <where>, seen from <side>[ and <elevation>][, <status>][, tilted to one side]." The sentence uses the object's
horizontal position (from px), its depth rank among the objects (from distance), the side it is seen from (azimuth;
the CAD models face −y, so azimuth 0 shows the front and azimuth 90° puts the camera on the object's left), the
elevation and the occlusion status. The caption is a pure function of the objects: the same image always gets the
same caption.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from modeling.category_names import counted, with_article
from modeling.geometry import signed_angle
from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.jsonl import iter_json_objects

POSE_TOKEN = "<pose6D>"
"""The special token that stands for one object's 6D pose (the dataset side's one definition)."""
PROMPT = "Describe the image in detail with 6D poses."
"""The user turn of the paper's caption example."""
POSE6D_FIELDS = ("azimuth", "elevation", "theta", "distance", "px", "py")

_TOKEN_RE = re.compile(r"<pose6d>", re.IGNORECASE)
# A tag right before a token: "BICYCLE1 with <pose6D>"; the tag itself must be uppercase.
_TAGGED_TOKEN_RE = re.compile(r"\b([A-Z](?:[A-Z_]*[A-Z])?)([1-9][0-9]*)\s+with\s+(?i:<pose6d>)")


@dataclass(frozen=True)
class CaptionObject:
    """What a caption may say about one object that passes the filter."""

    index: int
    category: str
    azimuth: float
    elevation: float
    theta: float
    distance: float
    px: float
    py: float
    object_status: str | None = None

    def pose(self) -> dict[str, float]:
        """The object's pose6D entry: azimuth, elevation, theta (radians), distance, px, py (pixels)."""
        return {name: getattr(self, name) for name in POSE6D_FIELDS}


def tag_of(category: str, instance: int) -> str:
    """The tag of the ``instance``-th (1-based) object of a category: hand_barrow, 1 → HAND_BARROW1."""
    return f"{category.upper()}{instance}"


def left_to_right(objects: list[CaptionObject]) -> list[CaptionObject]:
    """The objects ordered by their centre's x (px), list index breaking ties: the captions' mention order."""
    return sorted(objects, key=lambda o: (o.px, o.index))


def assign_tags(objects: list[CaptionObject]) -> dict[str, CaptionObject]:
    """Tag → object, numbering the objects of each category from 1, left to right (:func:`left_to_right`); the
    dict is in left-to-right order."""
    counts: dict[str, int] = {}
    tags = {}
    for obj in left_to_right(objects):
        counts[obj.category] = counts.get(obj.category, 0) + 1
        tags[tag_of(obj.category, counts[obj.category])] = obj
    return tags


def pose6d_entry(tag: str, obj: CaptionObject) -> dict:
    """One entry of the ``pose6d`` column: which object a token stands for, and its pose."""
    return {"tag": tag, "object_index": obj.index, **obj.pose()}


# ---- template captions ---------------------------------------------------------------------------------------


def _signed_degrees(angle: float) -> float:
    return math.degrees(float(signed_angle(angle)))


def _view(azimuth: float) -> str:
    # Eight 45° sectors around the object; azimuth 0 looks at its front, 90° at its left side.
    sectors = ("the front", "the front left", "its left side", "the back left", "behind", "the back right",
               "its right side", "the front right")
    return sectors[int(((math.degrees(azimuth) % 360.0) + 22.5) // 45.0) % 8]


def _elevation(elevation: float) -> str | None:
    degrees = _signed_degrees(elevation)
    if degrees > 30:
        return "from high above"
    if degrees > 10:
        return "from slightly above"
    if degrees < -10:
        return "from below"
    return None


def _horizontal(obj: CaptionObject, width: int) -> str:
    fraction = obj.px / width if width > 0 else 0.5
    return "on the left" if fraction < 1 / 3 else "on the right" if fraction > 2 / 3 else "in the centre"


def _extremes(objects: list[CaptionObject]) -> tuple[CaptionObject | None, CaptionObject | None]:
    """(nearest, farthest) object, found once per image (None, None for fewer than 2 objects)."""
    if len(objects) < 2:
        return None, None
    return (min(objects, key=lambda o: (o.distance, o.index)), max(objects, key=lambda o: (o.distance, -o.index)))


def _depth(obj: CaptionObject, extremes: tuple[CaptionObject | None, CaptionObject | None]) -> str | None:
    nearest, farthest = extremes
    if obj is nearest:
        return "at the forefront"
    if obj is farthest:
        return "further back"
    return None


def _status(obj: CaptionObject) -> str | None:
    return {"status_partially": "partly occluded", "status_barely": "barely visible"}.get(obj.object_status or "")


def _object_sentence(tag: str, obj: CaptionObject, extremes: tuple[CaptionObject | None, CaptionObject | None],
                     width: int) -> str:
    subject = f"{with_article(obj.category)} {tag} with {POSE_TOKEN}"
    where = ", ".join(p for p in (_horizontal(obj, width), _depth(obj, extremes)) if p)
    seen = f"seen from {_view(obj.azimuth)}"
    elevation = _elevation(obj.elevation)
    if elevation:
        seen += f" and {elevation}"
    extras = [e for e in (_status(obj), "tilted to one side" if abs(_signed_degrees(obj.theta)) > 15 else None) if e]
    return f"{subject[0].upper()}{subject[1:]} is {where}, {', '.join([seen, *extras])}."


def template_caption(image_id: str, objects: list[CaptionObject], width: int) -> tuple[str, list[dict]] | None:
    """A caption of an image and its ``pose6d`` entries (one per token, in order); None without objects.

    The structure is fixed (module docstring): "The image shows two bicycles. A bicycle BICYCLE1 with <pose6D> is on
    the left, at the forefront, seen from the front. A bicycle BICYCLE2 with <pose6D> is on the right, further
    back, seen from behind and from slightly above, partly occluded." Objects are mentioned left to right, which is
    also their tags' numbering. ``image_id`` is kept for the callers (the caption depends on the objects only).
    """
    if not objects:
        return None
    tags = assign_tags(objects)
    by_category: dict[str, int] = {}
    for obj in objects:
        by_category[obj.category] = by_category.get(obj.category, 0) + 1
    things = " and ".join(with_article(c) if n == 1 else counted(c, n) for c, n in sorted(by_category.items()))
    extremes = _extremes(objects)
    sentences = [f"The image shows {things}."] + [_object_sentence(tag, obj, extremes, width)
                                                  for tag, obj in tags.items()]
    return " ".join(sentences), [pose6d_entry(tag, obj) for tag, obj in tags.items()]


# ---- imported captions ---------------------------------------------------------------------------------------


class CaptionError(ImageNet3DError):
    """An imported caption does not match the annotations of its image."""


def check_caption(text: str, objects: list[CaptionObject]) -> tuple[str, list[dict]]:
    """Check an imported caption's tags against an image's objects; return (text, pose6d entries).

    The token is normalised to ``<pose6D>`` (the paper's figure spells it ``<pose6d>``). Raises
    :class:`CaptionError` for a token without a tag before it, an unknown tag, a tag used twice, or a
    caption that does not tag every object exactly once.
    """
    text = _TOKEN_RE.sub(POSE_TOKEN, text)
    tags = assign_tags(objects)
    matches = list(_TAGGED_TOKEN_RE.finditer(text))
    tokens = len(_TOKEN_RE.findall(text))
    if len(matches) != tokens:
        raise CaptionError(f"{tokens - len(matches)} {POSE_TOKEN} token(s) without a tag such as "
                           f"'CHAIR1 with {POSE_TOKEN}' before them")
    seen: dict[str, None] = {}  # insertion-ordered set: linear in the number of tags
    for match in matches:
        tag = match.group(1) + match.group(2)
        if tag not in tags:
            raise CaptionError(f"unknown tag {tag} (this image has: {', '.join(tags) or 'no objects'})")
        if tag in seen:
            raise CaptionError(f"tag {tag} has {POSE_TOKEN} twice")
        seen[tag] = None
    if len(seen) != len(tags):
        missing = [t for t in tags if t not in seen]
        raise CaptionError(f"tag count mismatch: {len(seen)} tagged, {len(tags)} objects (missing: "
                           f"{', '.join(missing)})")
    return text, [pose6d_entry(tag, tags[tag]) for tag in seen]


def read_captions_file(path: str | Path) -> dict[str, str]:
    """Image id → caption from a JSONL file of ``{"image_id": ..., "caption": ...}`` lines.

    Errors name the file and the line: malformed JSON, missing or non-string fields, duplicate ids.
    """
    captions: dict[str, str] = {}
    first: dict[str, int] = {}
    for number, record in iter_json_objects(path):
        image_id, caption = record.get("image_id"), record.get("caption", record.get("text"))
        if not isinstance(image_id, str) or not image_id:
            raise located(path, "field 'image_id' must be a non-empty string", number)
        if not isinstance(caption, str):
            raise located(path, "field 'caption' must be a string", number)
        if image_id in first:
            raise located(path, f"duplicate image_id {image_id!r} (first on line {first[image_id]})", number)
        first[image_id] = number
        captions[image_id] = caption
    return captions
