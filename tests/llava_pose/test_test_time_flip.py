"""Test-time mirroring (`test_time_flip`): each pose averaged with the one read from the mirror image of its crop.

Mirroring a crop maps the averaged prediction to its mirror pose exactly (azimuth and theta negated, elevation kept,
the centre mirrored), for LLaVA-pose (given the same generated answer) and the baseline; the bins' map
(`geometry.flip_pose_bins`) is the one of `geometry.flip_pose`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from modeling.geometry import ANGLE_NAMES, TWO_PI, angle_to_bin, flip_pose, flip_pose_bins
from modeling.llava_pose.inference import load_model, predict
from modeling.utils.errors import ImageNet3DError

SIDE = 64
BOX = (8, 8, 56, 56)
"""A box symmetric about the crop's vertical axis: the mirror crop's prompt is the same text."""


def _wrapped(angle: float) -> float:
    return float(np.mod(angle, TWO_PI))


def test_flip_pose_bins_is_flip_pose_on_bins():
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, TWO_PI, (200, 3))
    one_hot = np.eye(40)[angle_to_bin(angles)]  # (200, 3, 40)
    mirrored = np.stack(flip_pose(*angles.T), axis=-1)
    np.testing.assert_array_equal(flip_pose_bins(one_hot).argmax(-1), angle_to_bin(mirrored))
    np.testing.assert_array_equal(flip_pose_bins(flip_pose_bins(one_hot)), one_hot)  # its own inverse
    as_torch = flip_pose_bins(torch.from_numpy(one_hot))
    assert isinstance(as_torch, torch.Tensor)
    np.testing.assert_array_equal(as_torch.numpy(), flip_pose_bins(one_hot))
    with pytest.raises(ValueError, match="3, num_bins"):
        flip_pose_bins(np.zeros((2, 40)))


def _mirror_of(found: dict, original: dict) -> None:
    """`found` (predicted on the mirror crop) is the mirror of `original` (on the crop)."""
    azimuth, elevation, theta = flip_pose(*(original[name] for name in ANGLE_NAMES))
    for name, expected in zip(ANGLE_NAMES, (azimuth, elevation, theta)):
        assert math.isclose(_wrapped(found[name]), _wrapped(expected), abs_tol=1e-6) or math.isclose(
            abs(_wrapped(found[name]) - _wrapped(expected)), TWO_PI, abs_tol=1e-6), name
    for name in ANGLE_NAMES:
        assert found["confidence"][name] == pytest.approx(original["confidence"][name], abs=1e-5)


def test_llava_pose_mirror_crop_gives_the_mirror_pose(two_objects, box_model_dir):
    from modeling.box_crop import box_crop

    image, objects, _ = two_objects
    model, processor = load_model(box_model_dir)
    crop = box_crop(image, objects[0]["box"])[0].resize((SIDE, SIDE))
    prompt = processor.joint_prompt(BOX, (SIDE, SIDE))
    plain, averaged, mirror = (predict(model, processor, [view], prompts=[prompt], max_new_tokens=16,
                                       test_time_flip=flip)[0]
                               for view, flip in ((crop, False), (crop, True), (ImageOps.mirror(crop), True)))
    assert mirror["text"] == averaged["text"], "the mirror crop should get the same answer"
    assert len(averaged["objects"]) == 1 and averaged["objects"][0]["category"] == objects[0]["category"]
    found, original = mirror["objects"][0], averaged["objects"][0]
    _mirror_of(found, original)
    assert found["px"] == pytest.approx(SIDE - original["px"], abs=1e-3)
    assert found["py"] == pytest.approx(original["py"], abs=1e-3)
    assert found["distance"] == pytest.approx(original["distance"], rel=1e-4)
    # Not the plain prediction: the mirror's half moves the probabilities.
    assert plain["objects"][0]["confidence"] != averaged["objects"][0]["confidence"]
    with pytest.raises(ImageNet3DError, match="test_time_flip"):
        predict(model, processor, [crop], task="describe", test_time_flip=True)


def test_baseline_mirror_crop_gives_the_mirror_pose(tiny_baseline):
    from modeling.llava_pose.inference import load_predictor

    model, processor = load_predictor(tiny_baseline)
    crop = Image.fromarray(np.random.default_rng(1).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8))
    plain, averaged, mirror = (predict(model, processor, [view], task="joint", boxes=[[(0, 0, SIDE, SIDE)]],
                                       test_time_flip=flip)[0]["objects"][0]
                               for view, flip in ((crop, False), (crop, True), (ImageOps.mirror(crop), True)))
    _mirror_of(mirror, averaged)
    assert mirror["category"] == averaged["category"]
    assert plain["confidence"] != averaged["confidence"]


def test_predict_cli_takes_test_time_flip(two_objects, box_model_dir, tiny_baseline, capsys):
    """`imagenet3d predict --test-time-flip`: the mirrored pose with a box (as `predict` gives it); LLaVA-pose
    without a box (a caption) is a one-line error naming the flag and the fix; a wrong value is refused."""
    import json

    from modeling.cli import main

    image, objects, path = two_objects
    box = ",".join(str(round(v)) for v in objects[0]["box"])
    model, processor = load_model(box_model_dir)
    want = predict(model, processor, [image], task="joint", boxes=[[[round(v) for v in objects[0]["box"]]]],
                   test_time_flip=True)[0]["objects"]
    assert main(["predict", "--model", str(box_model_dir), str(path), "--box", box, "--test-time-flip",
                 "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [obj["azimuth"] for obj in got] == pytest.approx([obj["azimuth"] for obj in want])
    assert main(["predict", "--model", str(tiny_baseline), str(path), "--test-time-flip", "--json"]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(box_model_dir), str(path), "--test-time-flip"]) == 2
    err = capsys.readouterr().err
    assert "--test-time-flip" in err and "--box" in err and "Traceback" not in err
    with pytest.raises(ImageNet3DError, match="expected True or False"):
        predict(model, processor, [image], task="joint", boxes=[[objects[0]["box"]]], test_time_flip=1)
