"""The Space's README.md: the Spaces YAML built with ``huggingface_hub.SpaceCardData`` from the Space folder.

What goes in is measured, not typed: ``app_file`` is the folder's ``app.py`` (checked), ``sdk_version`` the Gradio
installed here (the version the app was run with), ``python_version`` this interpreter's, ``models`` and
``datasets`` the Hub ids the Space reads (given by ``publish space --model/--dataset``), ``license`` the project's.
The text below the YAML is kept when the folder's README.md has one (the Space's own description), else a short
one is written.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from modeling.utils.errors import ImageNet3DError, located

APP_FILE = "app.py"
REQUIREMENTS_FILE = "requirements.txt"
SPACE_SDKS = ("gradio", "streamlit", "docker", "static")
"""The SDKs the Hub's Spaces run (huggingface_hub's SpaceCardData documents these)."""
PROJECT_LICENSE = "apache-2.0"


def installed_gradio() -> str | None:
    """The installed Gradio version (without importing it), or None when Gradio is not installed."""
    try:
        return metadata.version("gradio")
    except metadata.PackageNotFoundError:
        return None


def _existing_text(folder: Path) -> str | None:
    from huggingface_hub import SpaceCard

    readme = folder / "README.md"
    if not readme.is_file():
        return None
    try:
        text = SpaceCard(readme.read_text(encoding="utf-8")).text.strip()
    except ValueError as err:
        raise located(readme, f"not a valid Space card: {str(err).splitlines()[0]}") from None
    return text or None


def render_space_card(folder: str | Path, models: tuple[str, ...] = (), datasets: tuple[str, ...] = (),
                      title: str | None = None, emoji: str | None = None) -> str:
    """The README.md of the Space in ``folder`` (YAML + the existing or a default description).

    Raises ImageNet3DError naming the file when ``app.py`` or ``requirements.txt`` is missing, or when the card
    does not parse back with ``huggingface_hub.SpaceCard``.
    """
    from huggingface_hub import SpaceCardData

    folder = Path(folder)
    for name in (APP_FILE, REQUIREMENTS_FILE):
        if not (folder / name).is_file():
            raise located(folder, f"no {name}: a Gradio Space needs {APP_FILE} and {REQUIREMENTS_FILE}")
    extra: dict[str, Any] = {"emoji": emoji} if emoji else {}
    data = SpaceCardData(
        title=title or "ImageNet3D pose", sdk="gradio", sdk_version=installed_gradio(),
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}", app_file=APP_FILE,
        license=PROJECT_LICENSE, models=list(models) or None, datasets=list(datasets) or None,
        tags=["imagenet3d", "3d-pose-estimation", "object-pose-estimation"], **extra)
    body = _existing_text(folder) or (
        f"# {data.title}\n\nObjects and their 3D poses (azimuth, elevation, in-plane rotation, distance) in a photo, "
        "drawn on the image, with [ImageNet3D](https://arxiv.org/abs/2406.09613) models. The model is read from "
        "`IMAGENET3D_MODEL` (a folder or a Hub id).")
    text = f"---\n{data.to_yaml()}\n---\n\n{body}\n"
    check_space_card(text, folder)
    return text


def check_space_card(text: str, folder: str | Path, where: str = "README.md") -> Any:
    """Parse a Space card with ``huggingface_hub.SpaceCard`` and check, offline, what the Hub needs to start it: a
    known ``sdk`` and an ``app_file`` present in ``folder``. Returns the card; raises ImageNet3DError naming the
    field."""
    from huggingface_hub import SpaceCard

    try:
        card = SpaceCard(text)
    except ValueError as err:
        raise ImageNet3DError(f"{where}: not a valid Space card: {str(err).splitlines()[0]}") from None
    if card.data.get("sdk") not in SPACE_SDKS:
        raise ImageNet3DError(f"{where}: Spaces YAML: sdk {card.data.get('sdk')!r} is not one of "
                              f"{', '.join(SPACE_SDKS)}")
    app_file = card.data.get("app_file")
    if not app_file or not (Path(folder) / app_file).is_file():
        raise ImageNet3DError(f"{where}: Spaces YAML: app_file {app_file!r} is not a file of {folder}")
    return card


__all__ = ["APP_FILE", "REQUIREMENTS_FILE", "check_space_card", "installed_gradio", "render_space_card"]
