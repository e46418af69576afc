"""ImageNet3D modeling: the pose convention, the official metric, the synthetic release and LLaVA-pose."""

from dataset_card import CATEGORIES, KNOWN_CATEGORIES, META_CLASSES

__all__ = ["CATEGORIES", "KNOWN_CATEGORIES", "META_CLASSES"]
__version__ = "0.1.0"
