"""The ImageNet3D Space: the 3D pose of every object in a photo, drawn on it, with LLaVA-pose.

Run it locally with ``python space/app.py`` (the model from ``$IMAGENET3D_MODEL``, a folder or a Hub id) or
``imagenet3d space --model DIR [--port N]``; both serve on 127.0.0.1 (``$GRADIO_SERVER_NAME``, which Hugging Face
Spaces set, overrides it). This file is the interface only: what it computes lives in ``modeling.demo.space``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("modeling") is None:
    # Not installed: the package lies beside this file (a Space repository) or one folder up (a source checkout).
    for folder in (HERE, HERE.parent):
        if (folder / "modeling" / "__init__.py").is_file():
            sys.path.insert(0, str(folder))
            break

import gradio as gr  # noqa: E402

import modeling.demo.space as space  # noqa: E402
from modeling.utils.errors import ImageNet3DError  # noqa: E402

TITLE = "ImageNet3D: the 3D pose of the objects in a photo"
TASKS = [("Describe the whole image (find the objects from the caption)", space.TASK_DESCRIBE),
         ("The objects in the boxes", space.TASK_BOXES)]
INTRO = (
    "Upload a photo or pick a sample validation image, then **Estimate the poses**. Without boxes the model "
    "describes the whole image and every object it names gets a pose; with boxes (one per line, `x1,y1,x2,y2` "
    "in pixels, or click two opposite corners on the photo) choose *The objects in the boxes*. Angles are in "
    "degrees: azimuth in [0, 360), elevation and θ (in-plane rotation) in (−180, 180]; distance in CAD units; "
    "confidence per angle in 0..1.")


def _model_status(source: str | None, error: str | None) -> str:
    if source is None:
        return f"**{space.NO_MODEL_MESSAGE}**"
    if error is not None:
        return f"**The model `{source}` could not be loaded:** {error}"
    return f"Model: `{source}` (CPU)."


def build_app(model: str | None = None, strict: bool = False) -> gr.Blocks:
    """The Gradio Blocks of the Space, with the model ``model`` (a folder or a Hub id; default
    ``$IMAGENET3D_MODEL``) loaded once. Without one the page says how to make one, and running it is an error; a
    model that does not load is said on the page too, or raised (ImageNet3DError, OSError) when ``strict``."""
    source = space.model_source(model)
    loaded, error = None, None
    if source is not None:
        try:
            loaded = space.load_space_model(source)
        except (ImageNet3DError, OSError) as err:
            if strict:
                raise
            error = str(err)
    try:
        meshes = space.cad_meshes()
    except ImageNet3DError as err:  # a bad $IMAGENET3D_CAD: said on the page, the objects drawn as their axes
        if strict:
            raise
        meshes, cad_error = {}, str(err)
    else:
        cad_error = None
    samples = space.write_sample_images(Path(tempfile.gettempdir()) / "imagenet3d_space_samples")

    def run(image_path: str | None, boxes_text: str, task: str, wireframes: bool, mirror: bool):
        if loaded is None:
            raise gr.Error((space.NO_MODEL_MESSAGE if source is None else f"{source}: {error}").replace("`", ""))
        try:
            image, read_notes = space.read_photo(image_path)
            result = space.analyse(*loaded, image, boxes_text, task, meshes=meshes if wireframes else None,
                                   test_time_flip=mirror)
        except ImageNet3DError as err:
            raise gr.Error(str(err)) from None
        notes = "\n".join(f"- {note}" for note in read_notes + result.notes)
        return result.overlay, {"data": result.rows, "headers": list(space.TABLE_HEADERS)}, result.text, notes

    def add_corner(pending: list[int] | None, boxes_text: str, event: gr.SelectData):
        x, y = (int(v) for v in event.index)
        if pending is None:
            return [x, y], boxes_text, f"First corner at ({x}, {y}): click the opposite corner."
        (x0, y0), lines = pending, [line for line in (boxes_text or "").splitlines() if line.strip()]
        lines.append(f"{min(x0, x)},{min(y0, y)},{max(x0, x)},{max(y0, y)}")
        return None, "\n".join(lines), "Box added. Click two more corners for another."

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        gr.Markdown(_model_status(source, error) + (f" **No CAD models:** {cad_error}" if cad_error else ""),
                    elem_id="model-status")
        pending = gr.State(None)
        with gr.Row():
            with gr.Column():
                image = gr.Image(type="filepath", label="Photo", sources=["upload", "clipboard"],
                                 elem_id="photo")
                boxes = gr.Textbox(label="Boxes (optional): one per line, x1,y1,x2,y2 in pixels", lines=3,
                                   placeholder="12,40,180,210", elem_id="boxes")
                hint = gr.Markdown("Click two opposite corners on the photo to add a box.", elem_id="hint")
                task = gr.Radio(TASKS, value=space.TASK_DESCRIBE, label="What to find", elem_id="task")
                wireframes = gr.Checkbox(value=True, label=f"Draw CAD wireframes (the synthetic release's models, "
                                                           f"or ${space.CAD_ENV}'s); else each object's 3D axes")
                mirror = gr.Checkbox(value=False, label="Boxes: average each pose with the mirror image's "
                                                        "(test-time mirroring)", elem_id="mirror")
                button = gr.Button("Estimate the poses", variant="primary", elem_id="run")
            with gr.Column():
                overlay = gr.Image(type="pil", format="png", label="Poses", interactive=False, elem_id="overlay")
                text = gr.Textbox(label="Generated text", lines=3, interactive=False, elem_id="caption")
        table = gr.Dataframe(headers=list(space.TABLE_HEADERS), interactive=False, label="Objects",
                             elem_id="objects", wrap=True)
        notes = gr.Markdown(elem_id="notes")
        gr.Examples([[str(s.path), s.boxes_text, space.TASK_BOXES] for s in samples],
                    inputs=[image, boxes, task], label="Sample validation images (synthetic)")
        image.select(add_corner, inputs=[pending, boxes], outputs=[pending, boxes, hint])
        button.click(run, inputs=[image, boxes, task, wireframes, mirror], outputs=[overlay, table, text, notes])
    return app


def launch(model: str | None = None, port: int | None = None, host: str | None = None, strict: bool = False) -> None:
    """Serve the Space on ``host:port`` (default ``$GRADIO_SERVER_NAME`` or 127.0.0.1, and Gradio's port
    ``$GRADIO_SERVER_PORT`` or 7860) until interrupted; ``model`` and ``strict`` as in :func:`build_app`."""
    host = host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    build_app(model, strict=strict).launch(server_name=host, server_port=port, ssr_mode=False)


if __name__ == "__main__":
    launch()
