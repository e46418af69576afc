"""``imagenet3d space``: the Space (``space/app.py``, Gradio) served locally, with a model given by path or Hub id."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

from modeling.utils.errors import ImageNet3DError

APP = Path(__file__).resolve().parents[2] / "space" / "app.py"
"""The Space's app, in the source checkout the package is installed from (``pip install -e``)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d space``."""
    parser.add_argument("--model", metavar="DIR_OR_HUB_ID",
                        help="a LLaVA-pose folder (train: its output folder, the adapter or merged/), a "
                             "classification baseline folder, or a Hub id of one (default: $IMAGENET3D_MODEL; "
                             "without either the page says how to make one)")
    parser.add_argument("--port", type=int, default=None,
                        help="port on 127.0.0.1 (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default: 127.0.0.1, this machine only)")


def load_app() -> ModuleType:
    """``space/app.py`` as a module; ImageNet3DError when it is not there or Gradio is not installed."""
    if importlib.util.find_spec("gradio") is None:
        raise ImageNet3DError("gradio is not installed: pip install -e '.[space]'")
    if not APP.is_file():
        raise ImageNet3DError(f"{APP}: not found: `imagenet3d space` runs the Space of a source checkout "
                              f"(pip install -e .)")
    spec = importlib.util.spec_from_file_location("imagenet3d_space_app", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args: argparse.Namespace) -> int:
    """Serve the Space until interrupted; a model that does not load is an error (exit 2) before serving.
    Returns the exit status."""
    if args.port is not None and not 0 < args.port < 65536:
        raise ImageNet3DError(f"--port: expected 1..65535, got {args.port}")
    load_app().launch(model=args.model, port=args.port, host=args.host, strict=True)
    return 0
