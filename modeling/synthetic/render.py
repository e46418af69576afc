"""A small z-buffer renderer (numpy + PIL) for the synthetic release.

Every object is projected with :func:`modeling.geometry.project_points`, the official camera
model, so the pixels agree with the annotation by construction. Each object is rasterised into its
own depth buffer (on a canvas that also covers the part outside the image, to measure truncation);
the objects are then composited per pixel by depth, which gives exact occlusion between objects and
both masks the annotation needs: the full silhouette and the visible part.

Pixel convention: pixel (x, y) has its centre at image coordinate (x, y), as for PIL's and cv2's
drawing functions. Rendering is supersampled ``SSAA`` times per axis for anti-aliased edges.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from modeling.geometry import camera_center, project_points, rotation_matrix
from modeling.synthetic.meshes import Mesh

SSAA = 2
"""Supersampling factor per axis."""


@dataclass(frozen=True)
class SceneObject:
    """One object to render: its mesh, the official pose and per-material RGB colours in [0, 1], shape (6, 3)."""

    mesh: Mesh
    azimuth: float
    elevation: float
    theta: float
    distance: float
    px: float
    py: float
    viewport: float
    colors: np.ndarray


@dataclass(frozen=True)
class Rendered:
    """A rendered scene: RGB image (H, W, 3) uint8 and, per object, boolean masks (H, W) and areas in pixels.

    ``full_area`` counts the silhouette also outside the image, so ``visible_area / full_area`` measures
    occlusion and truncation together.
    """

    image: np.ndarray
    full_masks: list[np.ndarray]
    visible_masks: list[np.ndarray]
    full_areas: list[int]

    @property
    def visible_fractions(self) -> list[float]:
        """Per object, the fraction of its unoccluded area that is visible (0 when it projects to nothing)."""
        return [float(v.sum()) / a if a else 0.0 for v, a in zip(self.visible_masks, self.full_areas)]


def _face_setup(uv: np.ndarray, depth: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per face: barycentric coefficients (F, 3, 3) and inverse-depth plane (F, 3), keeping non-degenerate faces.

    Barycentrics are affine in screen space, b_i = A_i x + B_i y + C_i, and so is 1/depth for a planar
    triangle under perspective, which is what the depth test compares (larger = nearer).
    """
    tri = np.stack([uv[faces][..., 0], uv[faces][..., 1], np.ones(faces.shape)], axis=1)  # (F, 3 rows, 3 verts)
    det = np.linalg.det(tri)
    keep = np.abs(det) > 1e-9
    inverse = np.linalg.inv(tri[keep])  # rows: barycentric i as a function of (x, y, 1)
    inv_depth_plane = np.einsum("fi,fij->fj", 1.0 / depth[faces[keep]], inverse)
    return np.flatnonzero(keep), inverse, inv_depth_plane


_CHUNK = 1 << 20
"""Candidate (face, pixel) pairs tested at once by :func:`rasterize` (bounds its memory to ~50 MB)."""
_LARGE = 256
"""Faces whose bounding box holds more pixels are drawn one by one: there a per-face loop costs less per pixel."""


def rasterize(uv: np.ndarray, depth: np.ndarray, faces: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray,
                                                                                                      np.ndarray]:
    """Z-buffer rasterisation of triangles at integer pixel centres.

    ``uv`` (V, 2) are vertex positions in pixels, ``depth`` (V,) their camera depths, ``faces`` (F, 3) vertex
    indices, ``shape`` (H, W). Returns the inverse-depth buffer (H, W) float64 (0 where empty) and the index of the
    nearest face (H, W) int32 (−1 where empty). A pixel takes the largest inverse depth (> 0) among the faces that
    cover it and, on a tie, the first such face: what drawing the faces in order with a strict depth test gives.

    Small faces (most of them, in small images) are vectorised: every (face, pixel of its bounding box) pair is
    tested at once, a chunk of pairs at a time; large faces are drawn one by one. The arithmetic per pair is the
    same either way, so the buffers do not depend on the split.
    """
    height, width = shape
    kept, bary, plane = _face_setup(uv, depth, faces)
    corners = uv[faces[kept]]
    lo = np.maximum(np.ceil(corners.min(1)), 0).astype(np.int64)
    hi = np.minimum(np.floor(corners.max(1)), [width - 1, height - 1]).astype(np.int64)
    spans = hi - lo + 1
    areas = np.where(np.all(spans > 0, axis=1), spans[:, 0] * spans[:, 1], 0)
    inv_depth = np.zeros(shape, np.float64)
    nearest = np.full(shape, -1, np.int32)
    for n in np.flatnonzero(areas > _LARGE):  # in order, strict test: the first of equal depths stays
        xs = np.arange(lo[n, 0], hi[n, 0] + 1, dtype=np.float64)
        ys = np.arange(lo[n, 1], hi[n, 1] + 1, dtype=np.float64)[:, None]
        b = bary[n]
        # A tiny negative tolerance closes cracks along shared edges; the depth test settles the overlap.
        inside = ((b[0, 0] * xs + b[0, 1] * ys + b[0, 2] >= -1e-9) & (b[1, 0] * xs + b[1, 1] * ys + b[1, 2] >= -1e-9)
                  & (b[2, 0] * xs + b[2, 1] * ys + b[2, 2] >= -1e-9))
        z = plane[n, 0] * xs + plane[n, 1] * ys + plane[n, 2]
        window = (slice(lo[n, 1], hi[n, 1] + 1), slice(lo[n, 0], hi[n, 0] + 1))
        nearer = inside & (z > inv_depth[window])
        inv_depth[window][nearer] = z[nearer]
        nearest[window][nearer] = kept[n]
    small = np.flatnonzero((areas > 0) & (areas <= _LARGE))
    ends = np.cumsum(areas[small])
    first = 0
    while first < len(small):  # as many small faces as fit in a chunk, at least one
        last = max(first + 1, int(np.searchsorted(ends, (ends[first - 1] if first else 0) + _CHUNK, "right")))
        _rasterize_small(small[first:last], areas[small[first:last]], spans, lo, bary, plane, kept,
                         inv_depth.reshape(-1), nearest.reshape(-1), width)
        first = last
    return inv_depth, nearest


def _rasterize_small(faces: np.ndarray, areas: np.ndarray, spans: np.ndarray, lo: np.ndarray, bary: np.ndarray,
                     plane: np.ndarray, kept: np.ndarray, inv_depth: np.ndarray, nearest: np.ndarray,
                     width: int) -> None:
    """Draw faces into the flat buffers in place: a pixel keeps the largest inverse depth, then the smallest face
    (``kept`` is increasing, so comparing face numbers compares their order)."""
    pair = np.repeat(np.arange(len(faces)), areas)
    offset = np.arange(len(pair)) - np.repeat(np.cumsum(areas) - areas, areas)
    f = faces[pair]
    cols = spans[f, 0]
    x = lo[f, 0] + offset % cols
    y = lo[f, 1] + offset // cols
    xs, ys = x.astype(np.float64), y.astype(np.float64)
    inside = ((bary[f, 0, 0] * xs + bary[f, 0, 1] * ys + bary[f, 0, 2] >= -1e-9)
              & (bary[f, 1, 0] * xs + bary[f, 1, 1] * ys + bary[f, 1, 2] >= -1e-9)
              & (bary[f, 2, 0] * xs + bary[f, 2, 1] * ys + bary[f, 2, 2] >= -1e-9))
    z = plane[f, 0] * xs + plane[f, 1] * ys + plane[f, 2]
    pixel = y * width + x
    face = kept[f]
    current, holder = inv_depth[pixel], nearest[pixel]
    beats = inside & (z > 0) & ((z > current) | ((z == current) & (face < holder)))
    x, y, z, face = x[beats], y[beats], z[beats], face[beats]
    if not len(z):
        return
    # Per pixel of the pairs' bounding box (not of the canvas): the best depth, then the first face at it.
    left, top = x.min(), y.min()
    box_width = x.max() - left + 1
    local = (y - top) * box_width + (x - left)
    size = int(local.max()) + 1
    best = np.zeros(size, np.float64)
    np.maximum.at(best, local, z)
    wins = z == best[local]
    first_face = np.full(size, np.iinfo(np.int32).max, np.int32)
    np.minimum.at(first_face, local[wins], face[wins])
    # Every pair left beats what its pixel held, so each pixel's best pair does too.
    changed = np.flatnonzero(first_face != np.iinfo(np.int32).max)
    target = (changed // box_width + top) * width + changed % box_width + left
    inv_depth[target] = best[changed]
    nearest[target] = first_face[changed]


def _shade(obj: SceneObject, light_camera: np.ndarray, ambient: float) -> tuple[np.ndarray, np.ndarray]:
    """Lambertian face colours (F, 3) and the front-facing mask (F,) of an object."""
    v = obj.mesh.vertices[obj.mesh.faces]
    normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    eye = camera_center(obj.azimuth, obj.elevation, obj.distance)
    front = np.einsum("ij,ij->i", normals, eye - v.mean(1)) > 0
    # The light is fixed in camera coordinates (shared by all objects); R maps object to camera axes.
    light = rotation_matrix(obj.azimuth, obj.elevation, obj.theta).T @ light_camera
    diffuse = np.clip(normals @ light, 0.0, 1.0)
    base = obj.colors[obj.mesh.materials]
    return np.clip(base * (ambient + (1.0 - ambient) * diffuse)[:, None], 0.0, 1.0), front


def _project(obj: SceneObject, offset: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vertices in supersampled canvas pixels: image point (x, y) lands at SSAA·(x + ½) − ½ − offset."""
    uv, depth = project_points(obj.mesh.vertices, obj.azimuth, obj.elevation, obj.theta, obj.distance,
                               SSAA * (obj.px + 0.5) - 0.5, SSAA * (obj.py + 0.5) - 0.5, SSAA * obj.viewport)
    return uv - np.asarray(offset, np.float64), depth


def _downsample(array: np.ndarray) -> np.ndarray:
    """Mean over SSAA×SSAA blocks (strided adds: several times faster than a reshape-mean)."""
    h, w = array.shape[0] // SSAA, array.shape[1] // SSAA
    total = np.zeros((h, w) + array.shape[2:], np.float32)
    for dy in range(SSAA):
        for dx in range(SSAA):
            total += array[dy:h * SSAA:SSAA, dx:w * SSAA:SSAA]
    return total / (SSAA * SSAA)


def _render_object(obj: SceneObject, size: tuple[int, int], light: np.ndarray, ambient: float) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, int]:
    """One object alone, supersampled: in-image inverse depth, nearest-face index (−1 where empty), the colours of
    those faces, and its full silhouette area in pixels."""
    width, height = size
    uv, _ = _project(obj, (0, 0))
    # Extend the canvas to the projected bounding box (aligned to whole pixels) to count truncated area.
    left = min(0, int(np.floor(uv[:, 0].min() / SSAA)) * SSAA)
    top = min(0, int(np.floor(uv[:, 1].min() / SSAA)) * SSAA)
    right = max(width * SSAA, int(np.ceil(uv[:, 0].max() / SSAA + 1)) * SSAA)
    bottom = max(height * SSAA, int(np.ceil(uv[:, 1].max() / SSAA + 1)) * SSAA)
    uv, depth = _project(obj, (left, top))
    colors, front = _shade(obj, light, ambient)
    faces = obj.mesh.faces[front]
    inv_depth, face_index = rasterize(uv, depth, faces, (bottom - top, right - left))
    full_area = int((_downsample(inv_depth > 0) >= 0.5).sum())
    window = (slice(-top, -top + height * SSAA), slice(-left, -left + width * SSAA))
    # Colours stay per face: the canvas looks them up only where the object wins (a full-canvas RGB is costly).
    return inv_depth[window], face_index[window], colors[front], full_area


def render_scene(objects: list[SceneObject], background: np.ndarray, light: np.ndarray | None = None,
                 ambient: float = 0.35) -> Rendered:
    """Render objects over a background (H, W, 3) uint8 with exact occlusion between objects."""
    height, width = background.shape[:2]
    light = np.array([0.3, 0.5, 1.0]) if light is None else np.asarray(light, np.float64)
    light = light / np.linalg.norm(light)
    canvas = np.repeat(np.repeat(background.astype(np.float32) / 255.0, SSAA, 0), SSAA, 1)
    layers = [_render_object(obj, (width, height), light, ambient) for obj in objects]
    if not layers:
        return Rendered(background.copy(), [], [], [])
    nearest = np.stack([layer[0] for layer in layers]).argmax(0) if len(layers) > 1 else None
    full_masks, visible_masks = [], []
    for k, (inv_depth, face_index, face_colors, _) in enumerate(layers):
        wins = inv_depth > 0 if nearest is None else (inv_depth > 0) & (nearest == k)
        canvas[wins] = face_colors[face_index[wins]]
        full_masks.append(_downsample(inv_depth > 0) >= 0.5)
        visible_masks.append(_downsample(wins) >= 0.5)
    image = np.clip(_downsample(canvas) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Rendered(image, full_masks, visible_masks, [layer[3] for layer in layers])


# ---- backgrounds, colours, camera effects -------------------------------------------------------------------


def random_color(rng: np.random.Generator, saturation: tuple[float, float] = (0.35, 0.9),
                 value: tuple[float, float] = (0.35, 0.95)) -> np.ndarray:
    """A random RGB colour in [0, 1] drawn in HSV."""
    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), rng.uniform(*value)))


def object_palette(rng: np.random.Generator) -> np.ndarray:
    """Per-material colours (body, trim, dark, glass, accent, metal), each slightly jittered."""
    body = random_color(rng)
    trim = random_color(rng, (0.1, 0.7), (0.2, 0.8))
    fixed = np.array([[0.07, 0.07, 0.08], [0.25, 0.36, 0.48], [0.97, 0.93, 0.62], [0.62, 0.63, 0.66]])
    accent_is_red = rng.uniform() < 0.3
    if accent_is_red:
        fixed[2] = [0.85, 0.12, 0.1]
    jitter = rng.uniform(-0.05, 0.05, size=fixed.shape)
    return np.clip(np.vstack([body, trim, fixed + jitter]), 0.0, 1.0)


def random_background(rng: np.random.Generator, size: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """A cluttered background (H, W, 3) uint8 of ``size`` = (W, H) pixels: two-tone gradient, low-frequency noise
    and blurred random shapes.

    ``scale`` (in (0, 1]) says the image stands for one of ``size / scale`` pixels rendered at ``scale`` of its
    resolution: the draws are those of the full-size background (same noise grid, same shapes), line widths and
    blur radii shrink with it, so the result looks like the full-size one resampled.
    """
    width, height = size
    top, bottom = random_color(rng, (0.0, 0.5), (0.3, 0.95)), random_color(rng, (0.0, 0.6), (0.15, 0.8))
    horizon = rng.uniform(0.3, 0.8)
    t = np.clip((np.linspace(0, 1, height)[:, None] - horizon) * rng.uniform(3, 12) + 0.5, 0, 1)
    base = (1 - t)[..., None] * top + t[..., None] * bottom
    base = np.broadcast_to(base, (height, width, 3)).copy()
    full_height, full_width = (height, width) if scale == 1.0 else (round(height / scale), round(width / scale))
    coarse = rng.normal(0.0, 1.0, size=(max(2, full_height // 24), max(2, full_width // 24), 3)).astype(np.float32)
    noise = np.stack([np.asarray(Image.fromarray(coarse[..., c]).resize((width, height), Image.BILINEAR))
                      for c in range(3)], -1)
    # Mostly luminance noise: strong per-channel noise looks like confetti, not like texture.
    base = np.clip(base + 0.05 * (0.75 * noise.mean(-1, keepdims=True) + 0.25 * noise), 0, 1)
    img = Image.fromarray((base * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(8, 30))):
        color = tuple(int(c) for c in random_color(rng, (0.0, 0.6), (0.2, 0.9)) * 255)
        x0, y0 = rng.uniform(-0.1, 1.0) * width, rng.uniform(-0.1, 1.0) * height
        w, h = rng.uniform(0.03, 0.4) * width, rng.uniform(0.03, 0.4) * height
        kind = rng.integers(4)
        if kind == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=color)
        elif kind == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=color)
        elif kind == 2:
            end = [x0 + w * rng.choice([-1, 1]), y0 + h]  # drawn before the width: the order of the draws
            line_width = int(rng.integers(1, 8))
            line_width = line_width if scale == 1.0 else max(1, round(line_width * scale))
            draw.line([x0, y0, *end], fill=color, width=line_width)
        else:
            points = rng.uniform(0, 1, size=(int(rng.integers(3, 6)), 2)) * [w, h] + [x0, y0]
            draw.polygon([tuple(p) for p in points], fill=color)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 4.0) * scale)))


def camera_effects(rng: np.random.Generator, image: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Mild optical blur and sensor noise, as in real photos, on an (H, W, 3) uint8 image.

    ``scale`` as in :func:`random_background`: the blur radius (pixels) and the noise's standard deviation (levels)
    shrink with it, as resampling the full-size image down would shrink them (noise averages over 1/scale² pixels).
    """
    img = Image.fromarray(image)
    if rng.uniform() < 0.6:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9) * scale))
    noisy = np.asarray(img, np.float32) + rng.normal(0.0, rng.uniform(1.0, 4.0) * scale, size=image.shape)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
