"""ImageNet3D modeling: the pose convention, the official metric, the synthetic release and LLaVA-pose.

Importing this package registers LLaVA-pose with transformers' auto classes in-process (AutoConfig, AutoModel,
AutoModelForImageTextToText, AutoProcessor), and marks the classes for ``save_pretrained`` to write ``auto_map``
and copy the custom code, so that a saved folder loads elsewhere with ``trust_remote_code=True``.
"""

from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor

from dataset_card import CATEGORIES, KNOWN_CATEGORIES, META_CLASSES

from .configuration_llava_pose import LlavaPoseConfig
from .modeling_llava_pose import (
    LlavaPoseCausalLMOutputWithPast,
    LlavaPoseForConditionalGeneration,
    LlavaPoseGenerateOutput,
)
from .processing_llava_pose import LlavaPoseProcessor

AutoConfig.register(LlavaPoseConfig.model_type, LlavaPoseConfig, exist_ok=True)
AutoModel.register(LlavaPoseConfig, LlavaPoseForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(LlavaPoseConfig, LlavaPoseForConditionalGeneration, exist_ok=True)
AutoProcessor.register(LlavaPoseConfig, LlavaPoseProcessor, exist_ok=True)
LlavaPoseConfig.register_for_auto_class()
LlavaPoseForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")
LlavaPoseProcessor.register_for_auto_class()

__all__ = [
    "CATEGORIES",
    "KNOWN_CATEGORIES",
    "META_CLASSES",
    "LlavaPoseCausalLMOutputWithPast",
    "LlavaPoseConfig",
    "LlavaPoseForConditionalGeneration",
    "LlavaPoseGenerateOutput",
    "LlavaPoseProcessor",
]
__version__ = "0.1.0"
