"""ImageNet3D (Ma et al. 2024, "Towards General-Purpose Object-Level 3D Understanding") for 🤗 Datasets.

The taxonomy of the release lives in ``dataset_card/`` and is re-exported here:

>>> import imagenet3d
>>> len(imagenet3d.CATEGORIES), len(imagenet3d.META_CLASSES), len(imagenet3d.KNOWN_CATEGORIES)
(189, 7, 63)
"""

from dataset_card import (
    CATEGORIES,
    KNOWN_CATEGORIES,
    META_CLASS_ABBREVIATIONS,
    META_CLASS_OF,
    META_CLASSES,
    NOVEL_CATEGORIES,
)

__all__ = ["CATEGORIES", "KNOWN_CATEGORIES", "META_CLASSES", "META_CLASS_ABBREVIATIONS", "META_CLASS_OF",
           "NOVEL_CATEGORIES"]
