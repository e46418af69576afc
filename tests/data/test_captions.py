"""Captions with <pose6D>: tags (left to right), templates (one fixed structure, deterministic), imported captions
checked."""

import codecs
import json
import re

import numpy as np
import pytest

from modeling.data.captions import (
    POSE_TOKEN,
    PROMPT,
    CaptionError,
    CaptionObject,
    assign_tags,
    check_caption,
    read_captions_file,
    tag_of,
    template_caption,
)
from modeling.utils.errors import ImageNet3DError


def obj(index, category="bicycle", azimuth=0.1, elevation=0.2, theta=0.0, distance=6.0, px=100.0, py=80.0,
        status="status_good"):
    return CaptionObject(index, category, azimuth, elevation, theta, distance, px, py, status)


def test_prompt_and_token_are_the_papers():
    assert PROMPT == "Describe the image in detail with 6D poses."
    assert POSE_TOKEN == "<pose6D>"


def test_tags_are_uppercase_category_and_one_based_index():
    assert tag_of("bicycle", 1) == "BICYCLE1" and tag_of("hand_barrow", 2) == "HAND_BARROW2"
    tags = assign_tags([obj(0), obj(2, "car"), obj(5), obj(7, "hand_barrow")])
    assert {t: o.index for t, o in tags.items()} == {"BICYCLE1": 0, "CAR1": 2, "BICYCLE2": 5, "HAND_BARROW1": 7}


def test_template_tags_every_object_once_with_its_pose():
    objects = [obj(0, px=20.0, distance=5.0), obj(1, px=300.0, distance=9.0, azimuth=3.1, status="status_partially"),
               obj(3, "hand_barrow", px=160.0, distance=7.0, elevation=0.7)]
    text, pose6d = template_caption("n1_7", objects, width=320)
    assert text.count(POSE_TOKEN) == 3 == len(pose6d)
    found = re.findall(r"([A-Z_]+[0-9]+) with <pose6D>", text)
    assert found == [entry["tag"] for entry in pose6d]
    assert sorted(found) == ["BICYCLE1", "BICYCLE2", "HAND_BARROW1"]
    by_tag = {e["tag"]: e for e in pose6d}
    assert by_tag["BICYCLE2"]["object_index"] == 1 and by_tag["BICYCLE2"]["azimuth"] == 3.1
    assert by_tag["HAND_BARROW1"]["object_index"] == 3 and by_tag["HAND_BARROW1"]["px"] == 160.0
    assert "a hand barrow HAND_BARROW1 with <pose6D>" in text.replace("A hand", "a hand")
    assert "two bicycles" in text and "partly occluded" in text and "behind" in text
    # What the template says agrees with the annotations: nearest first, leftmost on the left.
    assert "A bicycle BICYCLE1 with <pose6D> is on the left, at the forefront, seen from the front" in text
    assert re.search(r"BICYCLE2 with <pose6D> is on the right, further back, seen from behind[^.]*partly occluded\.",
                     text)
    # The text parses back through the import check to the same entries.
    assert check_caption(text, objects) == (text, pose6d)


def test_templates_are_deterministic_left_to_right_and_of_one_structure():
    objects = [obj(0, px=250.0), obj(1, px=30.0), obj(2, "car", px=120.0)]
    assert template_caption("n1_1", objects, 320) == template_caption("n1_2", objects, 320)
    text, pose6d = template_caption("n1_1", objects, 320)
    # Mentioned and numbered left to right: the bicycle at px 30 is BICYCLE1, then the car, then BICYCLE2.
    assert [(e["tag"], e["object_index"]) for e in pose6d] == [("BICYCLE1", 1), ("CAR1", 2), ("BICYCLE2", 0)]
    assert text.startswith("The image shows two bicycles and a car. A bicycle BICYCLE1 with <pose6D> is on the left")
    sentences = text.split(". ")[1:]
    assert len(sentences) == 3 and all(re.match(r"An? \w+ [A-Z_]+[0-9] with <pose6D> is ", t) for t in sentences)


def test_views_follow_the_azimuth():
    def view(azimuth_degrees):
        return template_caption("n1_1", [obj(0, azimuth=np.deg2rad(azimuth_degrees))], 320)[0]

    assert "seen from the front" in view(3) and "seen from behind" in view(181)
    assert "seen from its left side" in view(92) and "seen from its right side" in view(268)
    assert "from high above" in template_caption("n1_1", [obj(0, elevation=np.deg2rad(50))], 320)[0]
    assert "from below" in template_caption("n1_1", [obj(0, elevation=np.deg2rad(-20))], 320)[0]


def test_no_objects_no_caption():
    assert template_caption("n1_1", [], 320) is None


def test_articles_and_plurals():
    text = template_caption("n1_1", [obj(0, "aeroplane"), obj(1, "knife"), obj(2, "knife")], 320)[0]
    assert "an aeroplane" in text and "two knives" in text
    assert "a pair of scissors" in template_caption("n1_1", [obj(0, "scissors")], 320)[0]
    assert "a unicycle" in template_caption("n1_1", [obj(0, "unicycle")], 320)[0]


@pytest.mark.parametrize("text, message", [
    ("A bicycle BICYCLE1 with <pose6D> and another with <pose6D>.", "without a tag"),
    ("A bicycle BICYCLE3 with <pose6D>, a bicycle BICYCLE2 with <pose6D>.", "unknown tag BICYCLE3"),
    ("A car CAR1 with <pose6D>, a bicycle BICYCLE2 with <pose6D>.", "unknown tag CAR1"),
    ("BICYCLE1 with <pose6D> and again BICYCLE1 with <pose6D>.", "BICYCLE1 has <pose6D> twice"),
    ("Only BICYCLE2 with <pose6D>.", "tag count mismatch: 1 tagged, 2 objects"),
    ("A bicycle bicycle1 with <pose6D>, BICYCLE2 with <pose6D>.", "without a tag"),
])
def test_imported_captions_are_checked(text, message):
    with pytest.raises(CaptionError, match=re.escape(message)):
        check_caption(text, [obj(0), obj(4)])


def test_imported_caption_token_spelling_is_normalised():
    text, pose6d = check_caption("BICYCLE2 with <pose6d> left of BICYCLE1 with <POSE6D>.", [obj(0), obj(4)])
    assert text == "BICYCLE2 with <pose6D> left of BICYCLE1 with <pose6D>."
    assert [e["object_index"] for e in pose6d] == [4, 0]


def test_read_captions_file(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"image_id": "a", "caption": "x"}) + "\n\n" + json.dumps({"image_id": "b", "text": "y"})
                    + "\n", encoding="utf-8")
    assert read_captions_file(path) == {"a": "x", "b": "y"}


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                                           ("utf-8", codecs.BOM_UTF8)])
def test_read_captions_file_in_bom_encodings(tmp_path, encoding, bom):
    path = tmp_path / "c.jsonl"
    text = json.dumps({"image_id": "a", "caption": "un café BICYCLE1 with <pose6D>"}, ensure_ascii=False) + "\r\n"
    path.write_bytes(bom + text.encode(encoding))
    assert read_captions_file(path) == {"a": "un café BICYCLE1 with <pose6D>"}


def test_read_captions_file_refuses_a_latin1_byte(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"image_id": "a", "caption": "x"}\n{"image_id": "b", "caption": "caf\xe9"}\n')
    with pytest.raises(ImageNet3DError, match=re.escape("c.jsonl:2: not UTF-8 text: byte 0xe9 at column 34")):
        read_captions_file(path)


@pytest.mark.parametrize("lines, message", [
    (['{"image_id": "a", "caption": "x"}', "{oops"], ":2: malformed JSON"),
    (['["a", "x"]'], ":1: each line must be a JSON object"),
    (['{"caption": "x"}'], ":1: field 'image_id'"),
    (['{"image_id": "a", "caption": 3}'], ":1: field 'caption'"),
    (['{"image_id": "a", "caption": "x"}', '{"image_id": "a", "caption": "y"}'], ":2: duplicate image_id 'a'"),
])
def test_read_captions_file_errors_name_file_and_line(tmp_path, lines, message):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImageNet3DError, match=re.escape(f"c.jsonl{message}")):
        read_captions_file(path)


def test_dataset_and_model_agree_on_token_prompt_and_tags():
    # The model's Hub code is self-contained (its own copies); this is the guard that they stay the same.
    from modeling.processing_llava_pose import DESCRIBE_QUESTION, make_tag
    from modeling.processing_llava_pose import POSE_TOKEN as MODEL_POSE_TOKEN

    assert (MODEL_POSE_TOKEN, DESCRIBE_QUESTION) == (POSE_TOKEN, PROMPT)
    for category in ("bicycle", "hand_barrow", "salt_or_pepper_shaker"):
        assert make_tag(category, 3) == tag_of(category, 3)
