"""LlavaPoseProcessor: prompts, caption tags, parsing of multi-object captions, pose decoding."""

from __future__ import annotations

import math

import pytest
import torch

from dataset_card import CATEGORIES
from modeling.data.captions import CaptionObject, template_caption
from modeling.llava_pose.inference import load_model
from modeling.processing_llava_pose import format_box, make_tag
from tests.helpers.llava_pose import load_tiny, random_image, tiny_model_dir


@pytest.fixture(scope="module")
def processor():
    return load_tiny()[1]


def test_tags_and_phrases(processor):
    assert make_tag("hand_barrow", 1) == "HAND_BARROW1"
    assert make_tag("bicycle", 12) == "BICYCLE12"
    with pytest.raises(ValueError):
        make_tag("bicycle", 0)
    assert processor.object_phrase("hand_barrow", 2) == "a hand barrow HAND_BARROW2 with <pose6D>"
    assert processor.object_phrase("aeroplane") == "an aeroplane AEROPLANE1 with <pose6D>"
    assert processor.describe_prompt() == "USER: <image>\nDescribe the image in detail with 6D poses. ASSISTANT:"
    assert format_box((20, 10, 60, 40), (40, 80)) == "[250, 250, 750, 1000]"
    assert "[250, 250, 750, 1000]" in processor.joint_prompt((20, 10, 60, 40), (40, 80))


def test_parse_multi_object_caption(processor):
    caption = ("Two cyclists: the first, riding a bicycle BICYCLE1 with <pose6D>, is at the forefront. The second, "
               "riding a bicycle BICYCLE2 with <pose6D> is to the left, next to a HAND_BARROW1 with <pose6D>; a "
               "BICYCLE_BUILT_FOR_TWO12 with <pose6D> and a WIDGET3 with <pose6D> and something with <pose6D>.")
    assert processor.parse_caption(caption) == [
        {"tag": "BICYCLE1", "category": "bicycle"},
        {"tag": "BICYCLE2", "category": "bicycle"},
        {"tag": "HAND_BARROW1", "category": "hand_barrow"},
        {"tag": "BICYCLE_BUILT_FOR_TWO12", "category": "bicycle_built_for_two"},
        {"tag": "WIDGET3", "category": None},  # a tag, but no known category
        {"tag": None, "category": None},  # a pose without a tag since the previous <pose6D>
    ]


def test_parse_ignores_words_that_only_look_like_tags(processor):
    # "6D" starts with a digit, "ASSISTANT" has no index, "bicycle1" is not uppercase, "XBICYCLE1x" is inside a word.
    caption = "USER ASSISTANT: 6D poses of bicycle1 and XBICYCLE1x, then CAR1 with <pose6D>."
    assert processor.parse_caption(caption) == [{"tag": "CAR1", "category": "car"}]
    assert processor.parse_caption("no poses here BICYCLE1") == []


def test_decode_poses_angles_and_confidence(processor):
    num_bins = 40
    logits = torch.full((2, 3, num_bins), 0.0)  # pose 0: uniform over all bins
    logits[1, :, 7] = 30.0  # pose 1: certain, bin 7 for all three angles
    logits[1, 0] = 0.0  # ... except a symmetric object's azimuth: two far-apart peaks
    logits[1, 0, 3] = logits[1, 0, 23] = 30.0
    regression = torch.tensor([[0.5, 0.25, 0.0], [0.1, 0.9, math.log(4.0)]])
    poses = processor.decode_poses(logits, regression, (100, 200))
    assert poses[0]["confidence"]["azimuth"] == pytest.approx(3 / num_bins)
    assert poses[0]["px"] == pytest.approx(100.0) and poses[0]["py"] == pytest.approx(25.0)
    assert poses[0]["distance"] == pytest.approx(1.0)
    assert poses[1]["elevation"] == pytest.approx((7 + 0.5) / num_bins * 2 * math.pi)
    assert poses[1]["confidence"]["theta"] == pytest.approx(1.0)
    assert poses[1]["confidence"]["azimuth"] == pytest.approx(0.5)  # uncertain: half the mass is 180° away
    assert poses[1]["distance"] == pytest.approx(4.0)
    for pose in poses:
        assert all(0 <= pose[k] < 2 * math.pi for k in ("azimuth", "elevation", "theta"))


def test_processor_rejects_text_without_image_token(processor):
    with pytest.raises(ValueError, match="text\\[1\\] has no image token"):
        processor(images=[random_image(0), random_image(1)], text=[processor.describe_prompt(), "Describe it."])


@pytest.mark.parametrize(("size", "tokens"), [("tiny", 4), ("tiny-clip", 16)])
def test_processor_expands_the_image_token_to_what_the_tower_outputs(size, tokens):
    """ResNet: (64 / 32)² cells of the last stage, no CLS; CLIP: (64 / 16)² patches, CLS dropped."""
    model, processor = load_model(tiny_model_dir(size))
    inputs = processor(images=[random_image(0)], text=[processor.describe_prompt()], return_tensors="pt")
    assert int((inputs["input_ids"] == processor.image_token_id).sum()) == tokens
    assert inputs["pixel_values"].shape == (1, 3, 64, 64)
    with torch.no_grad():
        features = model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
    assert features[0].shape == (tokens, model.config.text_config.hidden_size)
    model(**inputs)  # LLaVA checks that the image tokens and the features agree


def test_joint_answer_names_every_category_as_the_captions_do(processor):
    # One wording per object: the joint answer's phrase is the one a template caption writes for that object.
    assert len(CATEGORIES) == 189
    for category in CATEGORIES:
        phrase = processor.object_phrase(category, 1)
        caption = template_caption("n1_1", [CaptionObject(0, category, 0.1, 0.2, 0.0, 6.0, 100.0, 80.0)], 320)[0]
        # The caption may start a sentence with it ("A TV monitor TVMONITOR1 with <pose6D> is ...").
        assert phrase in caption or phrase[0].upper() + phrase[1:] in caption, (category, phrase, caption)
        assert processor.joint_answer(category) == f"It is {phrase}."
    assert processor.joint_answer("tvmonitor") == "It is a TV monitor TVMONITOR1 with <pose6D>."
    assert processor.joint_answer("hourglass") == "It is an hourglass HOURGLASS1 with <pose6D>."
    assert processor.joint_answer("eyeglasses") == "It is a pair of eyeglasses EYEGLASSES1 with <pose6D>."
