"""ImageNet3D modeling: the pose convention, the official metric, the synthetic release and LLaVA-pose.

``import modeling`` is light (no torch, no transformers), so that the dataset side and the scorer stay fast.
The LLaVA-pose classes load on first use, and loading them registers them with transformers' auto classes
(see ``modeling/llava_pose/registration.py``)::

    from modeling import LlavaPoseForConditionalGeneration   # registers AutoConfig/AutoModel/... in-process
"""

from __future__ import annotations

import importlib
from typing import Any

from dataset_card import CATEGORIES, KNOWN_CATEGORIES, META_CLASSES

_LLAVA_POSE_NAMES = (
    "LlavaPoseCausalLMOutputWithPast",
    "LlavaPoseConfig",
    "LlavaPoseForConditionalGeneration",
    "LlavaPoseGenerateOutput",
    "LlavaPoseProcessor",
)

__all__ = ["CATEGORIES", "KNOWN_CATEGORIES", "META_CLASSES", *_LLAVA_POSE_NAMES]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LLAVA_POSE_NAMES:
        return getattr(importlib.import_module(".llava_pose.registration", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
