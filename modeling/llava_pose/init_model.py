"""``imagenet3d init-model``: write a LLaVA-pose folder, either the built-in tiny random model or a converted stock
LLaVA checkpoint.

The tiny model is built offline: a byte-level BPE tokenizer trained on a caption vocabulary generated from the
taxonomy, LLaVA's image processor (the whole image is seen, so px/py keep their meaning: padded to a square, or on a
trained tower resized to its input as the tower learnt whole images, `tower_image_geometry`), and a
random LLaVA-pose (a ResNet vision tower, as in ConvLLaVA, or a CLIP ViT + projector + Llama language model) small
enough to train on a CPU.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from dataset_card import CATEGORIES
from modeling.baseline.sizes import SIZES as BASELINE_SIZES
from modeling.category_names import category_words, with_article
from modeling.geometry import NUM_BINS
from modeling.utils.errors import ImageNet3DError

# Sizes of the built-in model. "tiny" (~1M parameters) is for tests; "small" (a few M) is still trainable on
# 2 CPU cores; "tiny-clip" has LLaVA's own kind of tower (a CLIP ViT) for tests of that path. Edit here: every
# number of the architecture lives in this dict, but for the ResNet towers, which are the baseline's backbones of
# the same size (`modeling.baseline.sizes`: the demo hands LLaVA-pose the trained baseline as its tower).
# "patch_size" is the pixels per image token: the ViT's patch, or the CNN's output stride at the feature layer read
# (a ResNet's last stage: 32).
RESNET_STRIDE = 32
"""Pixels per image token of a ResNet read at its last stage (its output stride)."""
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 2048,
        "image_size": 64,
        "patch_size": RESNET_STRIDE,
        "vision": {"model_type": "resnet", **BASELINE_SIZES["tiny"]["backbone"]},
        "text": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2},
    },
    "small": {
        # From the recipe experiments (issue 5 notes): trained from scratch on ~3k crops, a small ResNet reaches
        # 70 % 3D-aware accuracy in 1,500 steps where a CLIP ViT of the same cost stays under 45 % after 4,800;
        # its last stage reads 64 px as 2 x 2 tokens, and a narrow 2-layer LM keeps each step cheap.
        "vocab_size": 2048,
        "image_size": 64,
        "patch_size": RESNET_STRIDE,
        "vision": {"model_type": "resnet", **BASELINE_SIZES["small"]["backbone"]},
        "text": {"hidden_size": 128, "intermediate_size": 336, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2},
    },
}
SIZES["tiny-clip"] = {  # "tiny" with a CLIP ViT tower of about the same size
    **SIZES["tiny"], "patch_size": 16,
    "vision": {"model_type": "clip_vision_model", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
               "num_attention_heads": 2},
}
MAX_POSITIONS = 1024
SPECIAL_TOKENS = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "image": "<image>", "pose": "<pose6D>"}
CAPTION_WORDS = (
    "the a an this that these there is are was with and or of in on at to from by for its it their they them "
    "image photo picture shows showing scene view viewed seen left right center centre middle top bottom front back "
    "behind beside next near far close above below under over between foreground background forefront corner edge "
    "large small big little tall short long wide narrow one two three four five first second third another other "
    "object objects facing toward towards away camera side upright tilted rotated lying standing sitting parked "
    "placed leaning hanging floating flying riding holding resting mounted open closed partially visible occluded "
    "red blue green yellow white black gray grey brown orange silver wooden metal plastic glass table floor ground "
    "wall room street road water sky grass field person man woman people some several pair group while also"
).split()


def caption_corpus() -> list[str]:
    """Lines of the caption vocabulary: category names in words, tags 1-9, box numbers, prompts, caption words."""
    from modeling.processing_llava_pose import DESCRIBE_QUESTION, JOINT_QUESTION, PROMPT_TEMPLATE

    # The prompts are repeated so that their words get whole-word merges.
    lines = [PROMPT_TEMPLATE.format(image="", question=DESCRIBE_QUESTION),
             PROMPT_TEMPLATE.format(image="", question=JOINT_QUESTION.format(box="[0, 250, 500, 1000]"))] * 20
    for category in CATEGORIES:
        words = with_article(category)
        tags = " ".join(f"{category.upper()}{i}" for i in range(1, 10))
        lines.append(f"{words} {tags} with is at the forefront. It is {words} {category.upper()}1 with .")
    lines.append(" ".join(str(n) for n in range(0, 1001)))
    lines.append("[" + ", ".join(str(n) for n in range(0, 1001, 7)) + "]")
    # Several shuffles of the caption words so that frequent pairs get merges.
    for shift in range(5):
        lines.append(" ".join(CAPTION_WORDS[shift:] + CAPTION_WORDS[:shift]))
    return lines


def build_tokenizer(vocab_size: int, extra_special_tokens: tuple[str, ...] = (SPECIAL_TOKENS["image"],
                                                                             SPECIAL_TOKENS["pose"])):
    """A byte-level BPE tokenizer trained on [`caption_corpus`], wrapped as a transformers fast tokenizer, with a
    pad token and `extra_special_tokens` (`<image>` and `<pose6D>`) added."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[SPECIAL_TOKENS["bos"], SPECIAL_TOKENS["eos"]],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(caption_corpus(), trainer=trainer)
    bos = SPECIAL_TOKENS["bos"]
    backend.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, backend.token_to_id(bos))])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=bos, eos_token=SPECIAL_TOKENS["eos"],
                                        padding_side="left")
    # One call: a second add_special_tokens call would replace the extra special tokens of the first.
    tokenizer.add_special_tokens({"pad_token": SPECIAL_TOKENS["pad"],
                                  "extra_special_tokens": list(extra_special_tokens)})
    return tokenizer


def _square_side(image_processor: Any) -> int | None:
    """The side of the square an image processor makes of a square crop: its centre crop, else its resize."""
    sizes = [getattr(image_processor, "size", None) or {}]
    if getattr(image_processor, "do_center_crop", False):
        sizes.insert(0, getattr(image_processor, "crop_size", None) or {})
    for size in sizes:
        if size.get("height") and size.get("height") == size.get("width"):
            return int(size["height"])
    return None


def tower_image_geometry(tower_processor: Any, side: int) -> dict[str, Any]:
    """The `LlavaImageProcessorPil` options of LLaVA-pose on a trained tower: the whole image resized to the tower's
    `side` x `side` input with the tower processor's resample (bilinear when it names none, as `whole_images`),
    then its rescale and normalisation; no padding, no crop. A square crop (the tower's training data) comes out as
    the tower's own processor makes it when that processor resizes straight to its input (ViT, CLIP and BiT
    processors whose resize side is their crop side; one that resizes larger and then crops sees crops zoomed), and
    a whole image as `train-baseline --whole-image-ratio` showed it to the tower when the dataset's crops are at the
    tower's input size, as in the demo (`baseline.training.whole_images` resizes to the crop size).

    Why not LLaVA-1.5's padding to a square: the tower never saw grey bars, and its category head, which names the
    describe task's objects, named fewer whole images right through them (the demo's 96 describe images, 2026-12-03:
    70.8 % against 82.3 % through the tower's own resize with the tower of one run, 68.8 % against 80.2 % with the
    next run's); without the padding LLaVA-pose's describe precision / recall rose from 66.7 / 48.9 % to 81.2 /
    59.5 % (same tower; joint 82.1 -> 82.3). Why not a centre crop (a CLIP processor's): the whole image must be
    seen, as px / py are fractions of its width and height."""
    from PIL import Image

    geometry: dict[str, Any] = {"do_pad": False, "do_center_crop": False, "do_convert_rgb": True, "do_resize": True,
                                "size": {"height": side, "width": side},
                                "crop_size": {"height": side, "width": side},  # unused; not LLaVA's 224 either
                                "resample": Image.Resampling.BILINEAR}
    for name in ("resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean", "image_std"):
        value = getattr(tower_processor, name, None)
        if value is not None:
            geometry[name] = value
    return geometry


def _pretrained_tower(path: str | Path) -> tuple[Any, Any, int]:
    """`(classifier, image processor, input side)` of a trained classification baseline folder."""
    from modeling.baseline.model import is_baseline_dir, load_baseline

    if not is_baseline_dir(path):
        raise ImageNet3DError(f"{path}: --vision-tower expects a classification baseline folder "
                              "(`imagenet3d train-baseline`)")
    classifier, image_processor = load_baseline(path)
    vision = classifier.config.backbone_config
    if vision.model_type != "clip_vision_model" and not getattr(vision, "hidden_sizes", None):
        raise ImageNet3DError(f"{path}: backbone {vision.model_type!r} is neither a CNN (hidden_sizes) nor a CLIP "
                              "vision model, the towers the built-in LLaVA-pose knows how to read")
    side = _square_side(image_processor)
    if side is None:
        raise ImageNet3DError(f"{path}: the baseline's image processor does not make a fixed square input "
                              "(preprocessor_config.json: size / crop_size)")
    if vision.model_type == "clip_vision_model" and side != vision.image_size:
        raise ImageNet3DError(f"{path}: the image processor makes {side} px inputs, the CLIP tower expects "
                              f"{vision.image_size}")
    return classifier, image_processor, side


def category_token_ids(tokenizer: Any) -> list[int]:
    """Per official category (`dataset_card.CATEGORIES` order), the id of the token that starts its name in words as
    captions write it after a space (" bicycle", " hand" of "hand barrow"; `category_names.category_words`)."""
    return [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" " + category_words(name))[0]) for name in CATEGORIES]


def _has_prior(classifier: Any, vision: Any) -> bool:
    """Whether LLaVA-pose can start from `classifier`'s heads: a CNN tower, mean pooling, the same bins and
    categories."""
    from modeling.configuration_llava_pose import is_convolutional

    return (classifier is not None and classifier.config.pooling == "mean" and is_convolutional(vision)
            and classifier.config.num_bins == NUM_BINS and classifier.config.num_categories == len(CATEGORIES))


def _copy_tower_prior(model: Any, classifier: Any) -> None:
    """Copy the baseline's pose and category heads into LLaVA-pose's tower prior and zero the head's own angle
    outputs, so that on a crop the new model's angle logits are the baseline's (`LlavaPoseConfig.
    pose_head_tower_prior`) and its category names start from the baseline's category probabilities."""
    import torch

    head = model.pose_head
    split = 3 * model.config.num_bins
    with torch.no_grad():
        head.tower_prior_weight.copy_(classifier.pose_head.weight)
        head.tower_prior_bias.copy_(classifier.pose_head.bias)
        head.category_prior_weight.copy_(classifier.category_head.weight)
        head.category_prior_bias.copy_(classifier.category_head.bias)
        head.out.weight[:split].zero_()
        head.out.bias[:split].zero_()


def build_tiny_model(out_dir: str | Path, size: str = "tiny", seed: int = 0,
                     vision_tower: str | Path | None = None) -> Path:
    """Build the built-in random LLaVA-pose of `size` ("tiny" or "small", see SIZES) and save model + processor
    to `out_dir` with `save_pretrained`, custom code included. Returns the folder.

    `vision_tower` is a trained classification baseline folder (`imagenet3d train-baseline`) whose backbone becomes
    the vision tower, weights, input side and pixel normalisation included, as LLaVA starts from a pretrained CLIP;
    `size` then gives the language model only, and the pose head also reads the tower's features
    (`LlavaPoseConfig.pose_head_vision_features`). A CNN tower trained on the 189 categories also hands over its
    pose and category heads as fixed priors that the new model starts from (`pose_head_tower_prior`,
    `category_prior_token_ids`). Train such a base with `imagenet3d train --stage 1 --freeze-vision-tower`.
    """
    import torch
    from transformers import CONFIG_MAPPING, LlamaConfig, LlavaImageProcessorPil

    from modeling import LlavaPoseConfig, LlavaPoseForConditionalGeneration, LlavaPoseProcessor

    if size not in SIZES:
        raise ImageNet3DError(f"unknown size {size!r}; choose from {', '.join(SIZES)}")
    spec = SIZES[size]
    tokenizer = build_tokenizer(spec["vocab_size"])
    side, patch_size = spec["image_size"], spec["patch_size"]
    pretrained = classifier = None
    if vision_tower is not None:
        classifier, tower_processor, side = _pretrained_tower(vision_tower)
        pretrained = classifier.backbone
        vision = copy.deepcopy(pretrained.config)  # LlavaPoseConfig sets its hidden_size
        patch_size = getattr(vision, "patch_size", None) or RESNET_STRIDE
        image_processor = LlavaImageProcessorPil(**tower_image_geometry(tower_processor, side))
        if side % patch_size:
            raise ImageNet3DError(f"{vision_tower}: input side {side} is not a multiple of the tower's stride "
                                  f"{patch_size}")
    else:
        vision_spec = dict(spec["vision"])
        vision_type = vision_spec.pop("model_type")
        extra = {"image_size": side, "patch_size": patch_size} if vision_type == "clip_vision_model" else {}
        vision = CONFIG_MAPPING[vision_type](**extra, **vision_spec)
        image_processor = LlavaImageProcessorPil(do_pad=True, size={"shortest_edge": side},
                                                 crop_size={"height": side, "width": side})
    if vision.model_type == "clip_vision_model":
        strategy, cls_tokens = "default", 1  # a ViT's CLS token is dropped, as in LLaVA
    else:
        strategy, cls_tokens = "full", 0  # a CNN's feature map has no CLS token
    processor = LlavaPoseProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=patch_size,
                                   vision_feature_select_strategy=strategy, num_additional_image_tokens=cls_tokens,
                                   categories=list(CATEGORIES))
    text = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=MAX_POSITIONS,
                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False, **spec["text"])
    config = LlavaPoseConfig(
        vision_config=vision, text_config=text,
        image_token_index=processor.image_token_id, pose_token_index=processor.pose_token_id,
        image_seq_length=(side // patch_size) ** 2,
        pose_bin_sigma=1.0,  # soft bin targets: a neighbouring bin is a small error (see LlavaPoseConfig)
        # Three 40-way cross-entropies per <pose6D> carry far more gradient than the one category word of an answer:
        # at weight 1 the LM learns the category late and unreliably (demo data, stage 1 on a frozen 4,500-step
        # tower, 600 steps: category 85.6 % at 1.0, 98.4 % at 0.3, pose 77.9 vs 77.8 %).
        pose_loss_weight=0.3,
        # A small tower has little to spare: read its last layer (LLaVA-1.5 reads the second to last).
        vision_feature_layer=-1, vision_feature_select_strategy=strategy,
        # A trained tower already sees the pose: the head reads its features too, not only what survives the
        # projector and the LM (demo data, stage 1 with 20 % captions + stage 2, joint 3D-aware Acc@π/6: 77.2 without,
        # 78.2 with; the describe task's matched-object Acc@π/6 34.3 -> 42.4).
        pose_head_vision_features=pretrained is not None,
        # ... and starts from the baseline's pose: its pose head on the mean of a CNN tower's feature map (what the
        # baseline's "mean" pooling reads; a ViT's tokens drop the CLS token that its pooling averages in).
        pose_head_tower_prior=_has_prior(classifier, vision),
        # ... and from its category: the LM's token of each category's name, whose logit the head's prior biases.
        category_prior_token_ids=category_token_ids(tokenizer) if _has_prior(classifier, vision) else None,
    )
    torch.manual_seed(seed)
    model = LlavaPoseForConditionalGeneration(config)
    if pretrained is not None:
        tower = model.model.vision_tower
        getattr(tower, "backbone", tower).load_state_dict(pretrained.state_dict())
    if config.pose_head_tower_prior:
        _copy_tower_prior(model, classifier)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def convert_model(out_dir: str | Path, base: str, **from_pretrained_kwargs) -> Path:
    """Convert a stock LLaVA (local folder or Hub id) with `from_llava` and save it to `out_dir`."""
    from modeling import LlavaPoseForConditionalGeneration
    from modeling.hub.model_card import write_model_card

    model, processor = LlavaPoseForConditionalGeneration.from_llava(base, categories=list(CATEGORIES),
                                                                    **from_pretrained_kwargs)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    write_model_card(out_dir, base_model=base)  # the card's base_model, carried on by train
    return out_dir


__all__ = ["SIZES", "build_tiny_model", "build_tokenizer", "caption_corpus", "convert_model"]
