"""LLaVA-pose, registered with transformers' auto classes.

Importing this module (``import modeling.llava_pose.registration``, or touching any LLaVA-pose name through
``modeling``, e.g. ``from modeling import LlavaPoseForConditionalGeneration``) registers the classes in-process with
AutoConfig, AutoModel, AutoModelForImageTextToText and AutoProcessor, and marks them for ``save_pretrained``
to write ``auto_map`` and copy the custom code, so that a saved folder loads elsewhere with
``trust_remote_code=True``. It also registers the ``object-pose-estimation`` pipeline
(``modeling/pipeline_llava_pose.py``) with ``PIPELINE_REGISTRY``; ``save_pretrained`` writes it into the saved
folder's ``config.json`` (``custom_pipelines``) and copies its file, so that
``pipeline("object-pose-estimation", model=DIR, trust_remote_code=True)`` works elsewhere.

This lives apart from ``modeling/__init__.py`` so that ``import modeling`` stays light: the dataset side,
the scorer and the CLI's ``--help`` must not pay for importing torch and transformers (~4 s).
"""

from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor
from transformers.pipelines import PIPELINE_REGISTRY

from modeling.configuration_llava_pose import LlavaPoseConfig
from modeling.modeling_llava_pose import (
    LlavaPoseCausalLMOutputWithPast,
    LlavaPoseForConditionalGeneration,
    LlavaPoseGenerateOutput,
)
from modeling.pipeline_llava_pose import TASK, ObjectPosePipeline
from modeling.processing_llava_pose import LlavaPoseProcessor

AutoConfig.register(LlavaPoseConfig.model_type, LlavaPoseConfig, exist_ok=True)
AutoModel.register(LlavaPoseConfig, LlavaPoseForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(LlavaPoseConfig, LlavaPoseForConditionalGeneration, exist_ok=True)
AutoProcessor.register(LlavaPoseConfig, LlavaPoseProcessor, exist_ok=True)
LlavaPoseConfig.register_for_auto_class()
LlavaPoseForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")
LlavaPoseProcessor.register_for_auto_class()
PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=ObjectPosePipeline, pt_model=AutoModelForImageTextToText,
                                    type="multimodal")

__all__ = [
    "LlavaPoseCausalLMOutputWithPast",
    "LlavaPoseConfig",
    "LlavaPoseForConditionalGeneration",
    "LlavaPoseGenerateOutput",
    "LlavaPoseProcessor",
    "ObjectPosePipeline",
]
