"""LLaVA-pose processor: task prompts, caption tags, and decoding of generated `<pose6D>` poses into objects.

Caption form (from the ImageNet3D paper): an object is referred to by its UPPERCASE category tag plus a 1-based
instance index, followed by "with <pose6D>": "a bicycle BICYCLE1 with <pose6D> is at the forefront". A
multi-word category keeps its underscores: hand_barrow -> HAND_BARROW1.

Hub custom code: this file is copied next to the weights by ``save_pretrained`` and may import only torch,
transformers and its sibling files (``geometry.py``, the one home of the bin convention, imports only numpy, and torch
only inside its ``soft_bin_targets``; ``category_names.py``, the one home of an object's name in words, only the
standard library; ``box_crop.py``, the one home of the crop a box gives, the standard library and ``geometry.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LlavaProcessor

from .box_crop import BoxCrop, box_crop, object_in_image
from .category_names import with_article
from .geometry import ANGLE_NAMES, decode_bins

POSE_TOKEN = "<pose6D>"
DESCRIBE_QUESTION = "Describe the image in detail with 6D poses."
"""The user prompt of the paper's caption task."""
JOINT_QUESTION = "Name the object in the box {box} and give its 6D pose."
"""The joint task (Task 3): box -> category + pose. The box is written as four integers in [0, 1000]."""
PROMPT_TEMPLATE = "USER: {image}\n{question} ASSISTANT:"
"""LLaVA-1.5's conversation format."""
BOX_SCALE = 1000
# A tag: uppercase letters and underscores, then the 1-based instance index; not inside a longer word.
TAG_PATTERN = re.compile(r"(?<![A-Za-z0-9_])([A-Z](?:[A-Z_]*[A-Z])?)([1-9][0-9]*)(?![A-Za-z0-9_])")


class LlavaPoseProcessor(LlavaProcessor):
    r"""
    A [`LlavaProcessor`] (image processor + tokenizer, `<image>` expansion) that also knows the `<pose6D>` token,
    builds the prompts of the two tasks, and turns generated ids and poses into objects.

    Args (beyond [`LlavaProcessor`]'s):
        pose_token (`str`, *optional*, defaults to `"<pose6D>"`):
            The token the model writes where a pose belongs.
        prompt_template (`str`, *optional*, defaults to `"USER: {image}\n{question} ASSISTANT:"`):
            The conversation format; `{image}` becomes the image token and `{question}` the task's question.
        categories (`list[str]`, *optional*):
            The category names (lowercase, underscores) that tags may name. A parsed tag whose lowercased name is
            not in the list gets `category=None`. Without a list, every tag names the category it spells.
    """

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        patch_size=None,
        vision_feature_select_strategy=None,
        chat_template=None,
        image_token="<image>",
        num_additional_image_tokens=0,
        pose_token: str = POSE_TOKEN,
        prompt_template: str = PROMPT_TEMPLATE,
        categories: list[str] | None = None,
        **kwargs,
    ):
        self.pose_token = pose_token
        self.prompt_template = prompt_template
        self.categories = list(categories) if categories is not None else None
        super().__init__(image_processor, tokenizer, patch_size=patch_size,
                         vision_feature_select_strategy=vision_feature_select_strategy, chat_template=chat_template,
                         image_token=image_token, num_additional_image_tokens=num_additional_image_tokens, **kwargs)
        self.pose_token_id = tokenizer.convert_tokens_to_ids(pose_token)

    # ---- prompts and caption phrases -------------------------------------------------------------------------

    def describe_prompt(self) -> str:
        """The caption task's prompt: "Describe the image in detail with 6D poses."."""
        return self.prompt_template.format(image=self.image_token, question=DESCRIBE_QUESTION)

    def joint_prompt(self, box: Sequence[float], image_size: tuple[int, int]) -> str:
        """The joint task's prompt for `box` = (x1, y1, x2, y2) in pixels of an image of `image_size` = (height,
        width); the box is written as integers in [0, 1000] (thousandths of the width and height)."""
        return self.prompt_template.format(image=self.image_token,
                                           question=JOINT_QUESTION.format(box=format_box(box, image_size)))

    def object_phrase(self, category: str, index: int = 1) -> str:
        """How a caption mentions an object: "a hand barrow HAND_BARROW1 with <pose6D>", "a TV monitor TVMONITOR1
        with <pose6D>" (the name in words as the template captions write it: `category_names.with_article`)."""
        return f"{with_article(category)} {make_tag(category, index)} with {self.pose_token}"

    def joint_answer(self, category: str) -> str:
        """The joint task's answer: "It is a bicycle BICYCLE1 with <pose6D>."."""
        return f"It is {self.object_phrase(category, 1)}."

    def joint_inputs(self, image: Any, box: Sequence[float], name: str = "box") -> tuple[Any, str, BoxCrop]:
        """The joint task's input for the object in `box` = (x1, y1, x2, y2), pixels of the PIL `image`: `(crop,
        prompt, where)`.

        The crop is cut as the training crops were (`box_crop.box_crop`: centred on the box, scaled so that the
        object fills it as in training; the box is clipped to the image first), the prompt holds the box moved into
        the crop, and `where` ([`BoxCrop`]) maps the answer back with [`joint_object`]. A box that is not four
        finite numbers, is empty, or lies wholly outside the image raises ValueError naming `name`.
        """
        crop, where = box_crop(image, box, name=name)
        return crop, self.joint_prompt(where.box_in_crop(), where.size), where

    def joint_object(self, objects: Sequence[dict[str, Any]], where: BoxCrop) -> dict[str, Any]:
        """The object of one joint answer, in the image's frame: the first object of `objects` (what
        [`post_process_pose_generation`] gives for the crop of [`joint_inputs`]) with px, py in image pixels, the
        box's distance and `box` (`box_crop.object_in_image`). An answer without `<pose6D>` gives an object whose
        tag, category, angles, px, py and confidence are None."""
        if objects:
            return object_in_image(objects[0], where)
        empty = {"tag": None, "category": None, **{name: None for name in ANGLE_NAMES}, "distance": None,
                 "px": None, "py": None, "confidence": None}
        return object_in_image(empty, where)

    # ---- encoding ------------------------------------------------------------------------------------------

    def __call__(self, images=None, text=None, **kwargs):
        """[`LlavaProcessor.__call__`], with a clear error when a text lacks the image token."""
        if images is not None and text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            for i, one in enumerate(texts):
                if self.image_token not in one:
                    raise ValueError(f"text[{i}] has no image token {self.image_token!r}: build prompts with "
                                     f"describe_prompt() or joint_prompt(), or put {self.image_token} in the text")
        return super().__call__(images=images, text=text, **kwargs)

    # ---- decoding -------------------------------------------------------------------------------------------

    def decode_poses(self, pose_logits: torch.Tensor, pose_regression: torch.Tensor,
                     image_size: tuple[int, int]) -> list[dict[str, Any]]:
        """Poses from the head's outputs, `(N, 3, num_bins)` and `(N, 3)`, for an image of (height, width).

        Angles are the argmax bins' centres (the official decoding), in radians in [0, 2π); px, py in pixels of
        the original image; distance = exp(log distance). `confidence` maps each angle name to the probability mass
        near its argmax (`geometry.decode_bins`): a rotationally symmetric object spreads its azimuth mass and gets a
        low azimuth confidence.
        """
        height, width = image_size
        angles, mass = decode_bins(pose_logits.detach().float().softmax(dim=-1).cpu().numpy())
        regression = pose_regression.detach().float().cpu()
        poses = []
        for i in range(angles.shape[0]):
            pose: dict[str, Any] = {name: float(angles[i, k]) for k, name in enumerate(ANGLE_NAMES)}
            pose["distance"] = math.exp(float(regression[i, 2]))
            pose["px"] = float(regression[i, 0]) * width
            pose["py"] = float(regression[i, 1]) * height
            pose["confidence"] = {name: float(mass[i, k]) for k, name in enumerate(ANGLE_NAMES)}
            poses.append(pose)
        return poses

    def parse_tags(self, ids: Sequence[int] | torch.Tensor) -> list[dict[str, str | None]]:
        """The tag and category of each `<pose6D>` in `ids`, in order: the last tag written before the token
        (and after the previous one). A pose without a readable tag gets `tag=None, category=None`."""
        ids = [int(i) for i in ids]
        objects, start = [], 0
        for position, token in enumerate(ids):
            if token != self.pose_token_id:
                continue
            segment = self.tokenizer.decode(ids[start:position], skip_special_tokens=True)
            start = position + 1
            matches = TAG_PATTERN.findall(segment)
            if not matches:
                objects.append({"tag": None, "category": None})
                continue
            name, index = matches[-1]
            objects.append({"tag": f"{name}{index}", "category": self.category_of(name)})
        return objects

    def category_of(self, tag_name: str) -> str | None:
        """Category named by a tag without its index (BICYCLE -> bicycle), None if not a known category."""
        category = tag_name.lower()
        if self.categories is None or category in self.categories:
            return category
        return None

    def parse_caption(self, text: str) -> list[dict[str, str | None]]:
        """[`parse_tags`] on a caption string."""
        return self.parse_tags(self.tokenizer.encode(text, add_special_tokens=False))

    def decode_answers(self, output: Any) -> list[str]:
        """The generated text of each sequence of [`LlavaPoseForConditionalGeneration.generate`]`(...,
        return_poses=True)`: after the prompt, `<pose6D>` kept, padding and end-of-sequence tokens removed."""
        texts = self.batch_decode(output.sequences[:, output.prompt_length:], skip_special_tokens=False)
        for token in (self.tokenizer.pad_token, self.tokenizer.eos_token):
            if token:
                texts = [text.replace(token, "") for text in texts]
        return [text.strip() for text in texts]

    def post_process_pose_generation(self, output: Any, image_sizes: Sequence[tuple[int, int]]) -> list[list[dict]]:
        """Objects per sequence from [`LlavaPoseForConditionalGeneration.generate`]`(..., return_poses=True)`.

        `image_sizes` holds each original image's (height, width). Returns one list per sequence (per image), each
        object a dict `{tag, category, azimuth, elevation, theta, distance, px, py, confidence}` (see
        [`decode_poses`] and [`parse_tags`]), in the frame of the image the model was given.
        """
        sequences = output.sequences
        if len(image_sizes) != sequences.shape[0]:
            raise ValueError(f"got {len(image_sizes)} image sizes for {sequences.shape[0]} sequences")
        batch_index = output.pose_positions[:, 0].cpu()
        results = []
        for b in range(sequences.shape[0]):
            tags = self.parse_tags(sequences[b, output.prompt_length:])
            rows = batch_index == b
            poses = self.decode_poses(output.pose_logits[rows], output.pose_regression[rows], image_sizes[b])
            if len(tags) != len(poses):
                raise ValueError(f"sequence {b}: {len(tags)} {self.pose_token} tokens but {len(poses)} poses")
            results.append([{**tag, **pose} for tag, pose in zip(tags, poses)])
        return results


def make_tag(category: str, index: int) -> str:
    """The caption tag of the `index`-th (1-based) object of a category: hand_barrow, 1 -> HAND_BARROW1."""
    if index < 1:
        raise ValueError(f"instance indices are 1-based, got {index}")
    return f"{category.upper()}{index}"


def number_box_tags(objects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects of one image's boxes, in box order, tagged as a caption tags them: the k-th object of a category
    gets CATEGORYk. Each box's joint answer sees its crop alone, so the model tags every box CATEGORY1; an object
    without a category keeps its tag. Returns new dicts; `objects` is left as it was."""
    counts: dict[str, int] = {}
    numbered = []
    for obj in objects:
        category = obj.get("category")
        if category:
            counts[category] = counts.get(category, 0) + 1
            obj = {**obj, "tag": make_tag(category, counts[category])}
        numbered.append(dict(obj))
    return numbered


def format_box(box: Sequence[float], image_size: tuple[int, int]) -> str:
    """(x1, y1, x2, y2) in pixels -> "[x1, y1, x2, y2]" as integers in [0, 1000] of an image of (height, width)."""
    height, width = image_size
    scales = (width, height, width, height)
    values = [min(BOX_SCALE, max(0, round(BOX_SCALE * float(v) / s))) for v, s in zip(box, scales)]
    return "[" + ", ".join(str(v) for v in values) + "]"


__all__ = ["LlavaPoseProcessor", "format_box", "make_tag", "number_box_tags"]
