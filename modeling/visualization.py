"""Drawing 6D poses on images: the one home of pose overlays (the Space, the notebook, ``imagenet3d evaluate``'s
``examples.png``).

:func:`draw_poses` draws objects on an image, each at its pose (azimuth, elevation, θ in radians; distance; ``px``,
``py`` in pixels of the image), projected with the official projection (:func:`modeling.geometry.project_points`):
its CAD mesh as a wireframe when ``meshes`` holds one for it (with a "front" arrow, which a symmetric-looking
wireframe lacks), else its 3D axes (:data:`modeling.geometry.OBJECT_AXES`: front, up, right), coloured and labelled.
A second set, ``references`` (the ground truth), is drawn in a second colour, with a legend. Objects are dicts as
:func:`modeling.llava_pose.inference.predict` returns them, or as the dataset's rows hold them. :func:`load_cad_meshes`
reads the meshes from a release (folder or zip, ``CAD/<category>/<NN>.off``) or from a built dataset (``cad``
config); :func:`synthetic_meshes` gives the synthetic release's.

Coordinates: ``px``, ``py`` and ``box`` are pixels of the image given, pixel centres at integers (the official
convention). An image whose short side is under ``min_size`` (object-centric crops of 32 or 64 pixels) is first
scaled up by a whole factor k, and everything is drawn in that frame: x' = k·(x + ½) − ½, focal length k·viewport.
The focal length is the object's ``viewport`` when it has one (the dataset's rows do), else the ``viewport``
argument: 2000, the official default and the synthetic release's value (predictions do not carry one).
Pillow draws; matplotlib only lends its DejaVu font (Greek letters), on first use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from modeling.geometry import DEFAULT_VIEWPORT, OBJECT_AXES, camera_center, project_points, signed_angle, wrap_angle
from modeling.utils.errors import ImageNet3DError

PREDICTION_COLOR = (255, 60, 200)
"""RGB of the objects drawn (predictions): magenta."""
REFERENCE_COLOR = (40, 225, 110)
"""RGB of the references drawn (ground truth): green (told apart from magenta also with red-green colour blindness)."""
AXIS_COLORS = {"front": (255, 70, 50), "up": (70, 150, 255), "right": (255, 210, 40)}
"""RGB of each axis when one set of poses is drawn (with two sets, each set's colour)."""
DEFAULT_MIN_SIZE = 256
"""Images with a shorter side (pixels) are scaled up by a whole factor before drawing."""
AXIS_LENGTH = 0.45
"""Length of the drawn axes in CAD units: about the object's half size (the CAD models are about one unit across,
centred on the origin), so that they stay inside an object-centric crop."""
FRONT_ARROW_LENGTH = 0.6
"""Length of the front arrow drawn with a wireframe, in CAD units: past the mesh, so that it shows."""
AXIS_LETTERS = {"front": "F", "up": "U", "right": "R"}
"""The axes' names at their tips when two sets are drawn (the full names with one set)."""

MeshKey = str | tuple[str, int]
Mesh = tuple[np.ndarray, np.ndarray]


# ---- text ----------------------------------------------------------------------------------------------------


@cache
def _font_file() -> str | None:
    """DejaVu Sans Bold from matplotlib's data (it has θ, Δ, −), or None for Pillow's built-in font."""
    try:
        from matplotlib import font_manager
        path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold"),
                                     fallback_to_default=False)
        ImageFont.truetype(path, 12)
        return path
    except Exception:  # noqa: BLE001 — any failure means: use Pillow's own font
        return None


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_file()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


def _printable(text: str) -> str:
    """Pillow's built-in font has no Greek letters nor minus sign: spell them when it is the one in use."""
    if _font_file():
        return text
    return text.replace("θ", "th").replace("Δ", "err").replace("−", "-")


def pose_label(obj: Mapping[str, Any], name: str | None = None) -> str:
    """An object's label: its name (``name``, else its category, else its tag) and its angles in degrees.

    Azimuth reads in [0°, 360°), elevation and θ in (−180°, 180°] (:func:`modeling.geometry.signed_angle`); an
    object without finite angles reads "no pose". E.g. ``"car  az 45° el 10° θ −3°"``.
    """
    name = name or obj.get("category") or obj.get("tag") or "object"
    angles = [obj.get(k) for k in ("azimuth", "elevation", "theta")]
    if not all(isinstance(v, (int, float, np.floating)) and math.isfinite(v) for v in angles):
        return f"{name}  no pose"
    azimuth = math.degrees(float(wrap_angle(angles[0])))
    elevation, theta = (math.degrees(float(signed_angle(v))) for v in angles[1:])
    return f"{name}  az {_degrees(azimuth)}° el {_degrees(elevation)}° θ {_degrees(theta)}°"


def _degrees(value: float) -> str:
    text = f"{value:.0f}"
    return "0" if text == "-0" else text.replace("-", "−")


# ---- meshes --------------------------------------------------------------------------------------------------


def load_cad_meshes(source: str | Path, categories: Sequence[str] | None = None) -> dict[tuple[str, int], Mesh]:
    """The CAD meshes of a release or of a built dataset, keyed ``(category, cad_index)`` (1-based, as
    ``CAD/<category>/<NN>.off`` and the annotations' ``cad_index``), for :func:`draw_poses`'s ``meshes``.

    ``source`` is a release folder or zip (read with :class:`modeling.data.release.Release` and
    :func:`modeling.data.off.parse_off`, as the build reads them), or a dataset folder written by
    ``imagenet3d build`` with the ``cad`` config. ``categories`` keeps those (default: all). Each value is
    (vertices (V, 3) float32 in CAD units, triangular faces (F, 3) int32, 0-based).

    Raises ImageNet3DError naming the path: no such file or folder, a built dataset without the ``cad`` config, a
    malformed OFF file (:class:`~modeling.data.off.MalformedOffError`, with its line), an unreadable zip member.
    A release without ``CAD/`` gives an empty dict.
    """
    source = Path(source)
    wanted = None if categories is None else set(categories)
    if source.is_dir() and (source / "README.md").is_file() and (source / "data").is_dir():
        return _built_meshes(source, wanted)
    from modeling.data.off import parse_off
    from modeling.data.release import Release

    meshes: dict[tuple[str, int], Mesh] = {}
    with Release(source) as release:
        for category in release.subfolders("CAD"):
            if wanted is not None and category not in wanted:
                continue
            for cad_index, path in release.cad_paths(category):
                data = release.read(path)
                if data is not None:
                    meshes[(category, cad_index)] = parse_off(data, release.where(path))
    return meshes


def _built_meshes(folder: Path, wanted: set[str] | None) -> dict[tuple[str, int], Mesh]:
    from modeling.data.loading import load_split

    rows = load_split(folder, "cad", "train", needed_by="drawing the CAD models",
                      otherwise="pass the release folder instead")
    names = rows.features["category"].names
    keep = [i for i, c in enumerate(rows["category"]) if wanted is None or names[c] in wanted]
    table = rows.select(keep).with_format("arrow")
    meshes: dict[tuple[str, int], Mesh] = {}
    for start in range(0, len(keep), 64):
        batch = table[start:start + 64]
        for j in range(batch.num_rows):
            vertices = batch.column("vertices")[j].values.flatten().to_numpy(zero_copy_only=False)
            faces = batch.column("faces")[j].values.flatten().to_numpy(zero_copy_only=False)
            key = (names[batch.column("category")[j].as_py()], int(batch.column("cad_index")[j].as_py()))
            meshes[key] = (vertices.astype(np.float32).reshape(-1, 3), faces.astype(np.int32).reshape(-1, 3))
    return meshes


def synthetic_meshes(categories: Sequence[str] | None = None) -> dict[tuple[str, int], Mesh]:
    """The synthetic release's procedural meshes (:mod:`modeling.synthetic.meshes`), keyed ``(category,
    cad_index)`` like :func:`load_cad_meshes`: the same meshes its ``CAD/`` folder holds. Unknown categories:
    ImageNet3DError."""
    from modeling.synthetic.meshes import MESH_CATEGORIES, build_mesh, num_cad_models

    chosen = MESH_CATEGORIES if categories is None else tuple(categories)
    unknown = sorted(set(chosen) - set(MESH_CATEGORIES))
    if unknown:
        raise ImageNet3DError(f"categories: no synthetic mesh for {', '.join(unknown)}")
    return {(c, i): (build_mesh(c, i).vertices, build_mesh(c, i).faces)
            for c in chosen for i in range(1, num_cad_models(c) + 1)}


def find_mesh(meshes: Mapping[MeshKey, Mesh] | None, obj: Mapping[str, Any]) -> Mesh | None:
    """The mesh of an object: ``meshes[(category, cad_index)]``, else ``meshes[category]``, else the category's mesh
    of lowest index (the pose is the object's; only the shape is another model's); None when there is none."""
    category = obj.get("category")
    if not meshes or not category:
        return None
    cad_index = obj.get("cad_index")
    if cad_index is not None and (category, int(cad_index)) in meshes:
        return meshes[(category, int(cad_index))]
    if category in meshes:
        return meshes[category]
    indices = sorted(k[1] for k in meshes if isinstance(k, tuple) and k[0] == category)
    return meshes[(category, indices[0])] if indices else None


MAX_FAINT_EDGES = 20_000
"""A mesh with more edges than this is drawn with its strong edges only (the faint ones would fill it in)."""
CREASE_DEGREES = 25.0
"""An edge whose two faces meet at more than this angle is a crease, drawn strong; edges inside smooth or flat
parts (a quad's diagonal, a wheel's tessellation) are drawn faint."""


def _edges(vertices: np.ndarray, faces: np.ndarray, eye: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique undirected edges (E, 2) of triangular faces (F, 3), and which are strong (E,): creases (the faces'
    planes meet at more than CREASE_DEGREES, read without the winding, which real CAD files do not keep
    consistent), borders (not two faces), and silhouettes (one face towards ``eye``, the camera centre in CAD
    coordinates, the other away)."""
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    pairs = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    face_of = np.tile(np.arange(len(faces)), 3)
    edges, inverse, counts = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first, second = face_of[order[starts]], face_of[order[starts + np.minimum(counts, 2) - 1]]
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    towards = np.einsum("ij,ij->i", normals, eye - corners.mean(axis=1)) > 0
    bend = np.abs(np.einsum("ij,ij->i", normals[first], normals[second])) < math.cos(math.radians(CREASE_DEGREES))
    return edges, (counts != 2) | bend | (towards[first] != towards[second])


# ---- drawing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    line: int
    thin: int
    font: int
    small_font: int
    head: float

    @classmethod
    def for_size(cls, size: tuple[int, int], line_width: int | None) -> _Style:
        short = min(size)
        line = line_width or max(2, round(short / 120))
        return cls(line, max(1, line - 1), max(12, round(short / 30)), max(11, round(short / 38)), 4.0 * line + 4)


@dataclass(frozen=True)
class _Pose:
    """What is drawn of one object, in canvas pixels."""

    angles: tuple[float, float, float] | None
    distance: float
    px: float
    py: float
    focal: float


def _number(obj: Mapping[str, Any], key: str) -> float | None:
    value = obj.get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _box(obj: Mapping[str, Any], which: str) -> tuple[float, float, float, float] | None:
    box = obj.get("box", obj.get("bbox"))
    if box is None:
        return None
    values = [float(v) for v in box]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ImageNet3DError(f"{which}: box must be four finite numbers x1, y1, x2, y2, got {box!r}")
    return values[0], values[1], values[2], values[3]


def _pose(obj: Mapping[str, Any], which: str, viewport: float, scale: int) -> _Pose:
    """Angles, distance and centre of an object on a canvas ``scale`` times the image (focal in canvas pixels).

    No finite distance/px/py but a box: the centre of the box, at the distance where a one-unit object spans the
    box's long side (an approximate placement, for poses that come without one).
    """
    angles = tuple(_number(obj, k) for k in ("azimuth", "elevation", "theta"))
    focal = _number(obj, "viewport")
    focal = focal if focal and focal > 0 else float(viewport)
    distance, px, py = (_number(obj, k) for k in ("distance", "px", "py"))
    if distance is None or distance <= 0 or px is None or py is None:
        box = _box(obj, which)
        if box is None:
            missing = next(k for k, v in (("distance", distance), ("px", px), ("py", py))
                           if v is None or (k == "distance" and v <= 0))
            raise ImageNet3DError(f"{which}: no finite {'positive ' if missing == 'distance' else ''}{missing} "
                                  "and no box to place the pose by")
        px, py = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        distance = focal / max(box[2] - box[0], box[3] - box[1], 1.0)
    return _Pose(None if None in angles else angles, distance, scale * (px + 0.5) - 0.5, scale * (py + 0.5) - 0.5,
                 scale * focal)


def _in_reach(uv: np.ndarray, depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Points in front of the camera and within a few canvas sizes (PIL would crawl along far-off lines)."""
    limit = 4 * max(size)
    return (depth > 1e-6) & np.all(np.isfinite(uv), axis=-1) & np.all(np.abs(uv) < limit, axis=-1)


def _draw_wireframe(draw: ImageDraw.ImageDraw, mesh: Mesh, pose: _Pose, color: tuple[int, int, int],
                    style: _Style, size: tuple[int, int]) -> np.ndarray:
    """Every edge, far ones fainter (depth cue), near ones last; returns the projected vertices in reach."""
    vertices, faces = np.asarray(mesh[0], dtype=np.float64), mesh[1]
    uv, depth = project_points(vertices, *pose.angles, pose.distance, pose.px, pose.py, pose.focal)
    reach = _in_reach(uv, depth, size)
    if not reach.any():
        return uv[reach]
    edges, strong = _edges(vertices, faces, camera_center(*pose.angles[:2], pose.distance))
    inside = reach[edges].all(axis=1) & (strong | (len(edges) <= MAX_FAINT_EDGES))
    edges, strong = edges[inside], strong[inside]
    middle = depth[edges].mean(axis=1)
    nearness = 1.0 - (middle - depth[reach].min()) / max(float(np.ptp(depth[reach])), 1e-9)
    alpha = np.where(strong, 110 + 145 * nearness, 25 + 45 * nearness).astype(int)
    for k in np.lexsort((-middle, strong)):  # faint edges first, then far to near
        a, b = uv[edges[k, 0]], uv[edges[k, 1]]
        draw.line([tuple(a), tuple(b)], fill=(*color, int(alpha[k])), width=style.line if strong[k] else 1)
    return uv[reach]


def _draw_arrow(draw: ImageDraw.ImageDraw, start: np.ndarray, end: np.ndarray, color: tuple[int, int, int],
                style: _Style) -> None:
    draw.line([tuple(start), tuple(end)], fill=(*color, 255), width=style.line)
    vector = end - start
    length = float(np.hypot(*vector))
    if length < 1.0:  # the axis points at the camera (or away): a dot
        r = style.line + 1
        draw.ellipse([end[0] - r, end[1] - r, end[0] + r, end[1] + r], fill=(*color, 255))
        return
    unit, head = vector / length, min(style.head, 0.45 * length)
    normal = np.array([-unit[1], unit[0]])
    base = end - head * unit
    draw.polygon([tuple(end), tuple(base + 0.5 * head * normal), tuple(base - 0.5 * head * normal)],
                 fill=(*color, 255))


def _draw_axes(draw: ImageDraw.ImageDraw, pose: _Pose, names: Sequence[str], colors: Mapping[str, tuple],
               style: _Style, size: tuple[int, int], tip_labels: list | None, length: float = AXIS_LENGTH,
               letters: bool = False) -> np.ndarray:
    """Arrows from the CAD origin along the named axes (farthest first), their names (``letters``: F, U, R) at the
    tips (their boxes appended to ``tip_labels``; None: no names); returns the projected points in reach."""
    points = np.array([[0.0, 0.0, 0.0]] + [length * np.array(OBJECT_AXES[n]) for n in names])
    uv, depth = project_points(points, *pose.angles, pose.distance, pose.px, pose.py, pose.focal)
    reach = _in_reach(uv, depth, size)
    if not reach[0]:
        return uv[reach]
    font = _font(style.small_font)
    for k in sorted(range(1, len(points)), key=lambda k: -depth[k]):
        if not reach[k]:
            continue
        color = colors[names[k - 1]]
        _draw_arrow(draw, uv[0], uv[k], color, style)
        if tip_labels is not None:
            vector = uv[k] - uv[0]
            offset = vector / max(float(np.hypot(*vector)), 1e-9) * (style.small_font * 0.9)
            x, y = uv[k] + offset
            margin = style.small_font
            x, y = min(max(x, 2 * margin), size[0] - 2 * margin), min(max(y, margin), size[1] - margin)
            name = AXIS_LETTERS[names[k - 1]] if letters else names[k - 1]
            _outlined_text(draw, (x, y), name, color, font, anchor="mm")
            tip_labels.append(draw.textbbox((x, y), _printable(name), font=font, anchor="mm"))
    r = style.line + 1
    draw.ellipse([uv[0][0] - r, uv[0][1] - r, uv[0][0] + r, uv[0][1] + r], fill=(255, 255, 255, 255),
                 outline=(0, 0, 0, 255))
    return uv[reach]


def _outlined_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, color: tuple[int, int, int],
                   font: Any, anchor: str = "la") -> None:
    draw.text(xy, _printable(text), fill=(*color, 255), font=font, anchor=anchor, stroke_width=2,
              stroke_fill=(0, 0, 0, 255))


def _canvas(image: Image.Image, min_size: int) -> tuple[Image.Image, int]:
    if not isinstance(image, Image.Image):
        raise ImageNet3DError(f"image: expected a PIL image, got {type(image).__name__}")
    image = image.convert("RGB")
    short = min(image.size)
    scale = max(1, math.ceil(min_size / short)) if short else 1
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)
    return image, scale


@dataclass
class _Labels:
    """Label boxes placed so far, so that the next one moves off them."""

    size: tuple[int, int]
    placed: list[tuple[float, float, float, float]]

    def place(self, draw: ImageDraw.ImageDraw, anchor: tuple[float, float], text: str, color: tuple[int, int, int],
              font: Any, below: bool) -> None:
        left, top, right, bottom = draw.textbbox((0, 0), _printable(text), font=font)
        width, height = right - left + 6, bottom - top + 6
        x = min(max(anchor[0], 0), max(self.size[0] - width, 0))
        start = anchor[1] if below else anchor[1] - height
        step = height if below else -height
        tries = [start + k * step for k in range(6)] + [start - k * step for k in range(1, 6)]  # away, then back
        boxes = [(x, y, x + width, y + height) for y in (min(max(t, 0), max(self.size[1] - height, 0)) for t in tries)]
        box = next((b for b in boxes if not any(b[0] < p[2] and p[0] < b[2] and b[1] < p[3] and p[1] < b[3]
                                                  for p in self.placed)), boxes[0])
        y = box[1]
        self.placed.append(box)
        draw.rectangle(box, fill=(0, 0, 0, 150))
        draw.text((x + 3 - left, y + 3 - top), _printable(text), fill=(*color, 255), font=font)


def _draw_legend(draw: ImageDraw.ImageDraw, entries: Sequence[tuple[str, tuple[int, int, int]]],
                 style: _Style) -> None:
    font = _font(style.small_font)
    swatch = 2 * style.small_font
    widths = [draw.textlength(_printable(name), font=font) for name, _ in entries]
    line_height = style.small_font + 6
    box = (4, 4, 4 + swatch + max(widths) + 16, 4 + line_height * len(entries) + 6)
    draw.rectangle(box, fill=(0, 0, 0, 160))
    for k, (name, color) in enumerate(entries):
        y = 7 + k * line_height + line_height / 2
        draw.line([(10, y), (10 + swatch, y)], fill=(*color, 255), width=style.line + 1)
        draw.text((16 + swatch, y), _printable(name), fill=(255, 255, 255, 255), font=font, anchor="lm")


def draw_poses(image: Image.Image, objects: Sequence[Mapping[str, Any]],
               references: Sequence[Mapping[str, Any]] | None = None,
               meshes: Mapping[MeshKey, Mesh] | None = None, *, viewport: float = DEFAULT_VIEWPORT,
               min_size: int = DEFAULT_MIN_SIZE, labels: bool = True, legend: bool = True, boxes: bool = True,
               front_arrow: bool = True, names: tuple[str, str] = ("prediction", "ground truth"),
               colors: tuple[tuple[int, int, int], tuple[int, int, int]] = (PREDICTION_COLOR, REFERENCE_COLOR),
               line_width: int | None = None, axis_names: bool | None = None) -> Image.Image:
    """A new RGB image: ``image`` with every object's pose drawn (and every reference's, in a second colour).

    Args:
        image: a PIL image (any mode; drawn on an RGB copy).
        objects: dicts with ``azimuth``, ``elevation``, ``theta`` (radians), ``distance`` (CAD units), ``px``,
            ``py`` (pixels of ``image``: where the CAD origin projects), and optionally ``category``, ``tag``,
            ``box`` (or ``bbox``) [x1, y1, x2, y2] in pixels, ``cad_index`` (1-based), ``viewport`` (focal
            length in pixels). :func:`modeling.llava_pose.inference.predict`'s objects draw as they are (a
            prediction on a crop is in the crop's frame: draw it on the crop). Non-finite angles: the box and the
            label "no pose" only. No finite distance/px/py but a box: placed at the box (see ``_pose``).
        references: a second set (the ground truth), drawn first, in ``colors[1]``, labelled below its box.
        meshes: (vertices (V, 3), faces (F, 3)) by ``(category, cad_index)`` or ``category``
            (:func:`load_cad_meshes`, :func:`synthetic_meshes`); an object with a mesh (:func:`find_mesh`) is
            drawn as its wireframe, far edges fainter, plus a "front" arrow (``front_arrow``), one without as
            its axes (front, up, right).
        viewport: focal length in pixels for objects without a ``viewport`` (the official default, 2000).
        min_size: an image whose short side is under this many pixels is scaled up by the smallest whole factor
            that reaches it (bicubic; the returned image is that size), so that a 32-pixel crop is readable.
        labels: write each object's :func:`pose_label` by its box (above for objects, below for references).
        legend: with references, a legend of the two colours (``names``) in the top-left corner.
        boxes: draw each object's box, when it has one.
        front_arrow: with a wireframe, an arrow from the origin along the object's front (FRONT_ARROW_LENGTH).
        names: legend names of ``objects`` and ``references``.
        colors: RGB of ``objects`` and ``references``; one set alone draws its axes in :data:`AXIS_COLORS`.
        line_width: line width in output pixels (default: from the image size; faint wireframe edges are 1).
        axis_names: write the axes' names at their tips ("front", "up", "right"; with references, F, U, R in each
            set's colour); default: as ``labels``.

    Returns:
        A new RGB image, the size of ``image`` times the scale factor (1 unless ``min_size`` asked for more).

    Raises:
        ImageNet3DError: ``image`` is not a PIL image; an object (named ``objects[i]`` or ``references[i]``) has
        neither a usable distance/px/py nor a box, or a box that is not four finite numbers.
    """
    canvas, scale = _canvas(image, min_size)
    style = _Style.for_size(canvas.size, line_width)
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    paired = references is not None
    sets = ([("references", references, colors[1], True)] if paired else []) + [("objects", objects, colors[0], False)]
    pending = []
    placer = _Labels(canvas.size, [])
    tips = placer.placed if axis_names is None and labels or axis_names else None
    for which, items, color, below in sets:
        for i, obj in enumerate(items):
            name = f"{which}[{i}]"
            pose = _pose(obj, name, viewport, scale)
            box = _box(obj, name)
            box = None if box is None else tuple(scale * (v + 0.5) - 0.5 for v in box)
            drawn = np.empty((0, 2))
            if pose.angles is not None:
                mesh = find_mesh(meshes, obj)
                if mesh is not None:
                    drawn = _draw_wireframe(draw, mesh, pose, color, style, canvas.size)
                    if front_arrow:
                        _draw_axes(draw, pose, ("front",), {"front": color}, style, canvas.size, tips,
                                   FRONT_ARROW_LENGTH, letters=paired)
                else:
                    axis_colors = {n: color for n in OBJECT_AXES} if paired else AXIS_COLORS
                    drawn = _draw_axes(draw, pose, tuple(OBJECT_AXES), axis_colors, style, canvas.size, tips,
                                       letters=paired)
            if box is not None and boxes:
                draw.rectangle(box, outline=(*color, 200), width=style.thin)
            if labels:
                extent = box if box is not None else (
                    (*drawn.min(axis=0), *drawn.max(axis=0)) if len(drawn) else (pose.px, pose.py, pose.px, pose.py))
                anchor = (extent[0], extent[3] + style.thin) if below else (extent[0], extent[1] - style.thin)
                pending.append((anchor, pose_label(obj), color, below))
    for anchor, text, color, below in pending:
        placer.place(draw, anchor, text, color, _font(style.font), below)
    if paired and legend:
        _draw_legend(draw, [(names[0], colors[0]), (names[1], colors[1])], style)
    return Image.alpha_composite(canvas.convert("RGBA"), overlay).convert("RGB")


__all__ = ["AXIS_COLORS", "AXIS_LENGTH", "AXIS_LETTERS", "DEFAULT_MIN_SIZE", "FRONT_ARROW_LENGTH", "PREDICTION_COLOR",
           "REFERENCE_COLOR", "draw_poses", "find_mesh", "load_cad_meshes", "pose_label", "synthetic_meshes"]
