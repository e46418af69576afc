"""``imagenet3d predict``: output on the tiny model, and a clear one-line error (exit 2) for each bad input."""

from __future__ import annotations

import json

import pytest
import torch

from modeling.cli import main
from modeling.llava_pose.inference import format_objects_table, predict
from modeling.utils.errors import ImageNet3DError
from tests.helpers.llava_pose import load_tiny, random_image, tiny_model_dir, train, training_batch


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "photo.jpg"
    random_image(0, (60, 80)).save(path)
    return path


@pytest.fixture(scope="module")
def trained_dir(image_file, tmp_path_factory):
    """The tiny model overfit to caption `image_file` with two posed objects, saved."""
    model, processor = load_tiny()
    image = random_image(0, (60, 80))
    answer = "a car CAR1 with <pose6D> is next to a hand barrow HAND_BARROW1 with <pose6D>."
    poses = [[(1.0, 0.2, 0.1, 5.0, 30.0, 20.0), (4.0, 0.3, 6.0, 2.0, 60.0, 40.0)]]
    batch = training_batch(processor, [processor.describe_prompt()], [answer], [image], poses)
    torch.manual_seed(0)
    train(model, batch, steps=100, lr=3e-3)
    folder = tmp_path_factory.mktemp("trained")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def run_cli(capsys, *args):
    code = main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_prints_a_table_and_json(trained_dir, image_file, capsys):
    code, out, err = run_cli(capsys, "--model", trained_dir, image_file, "--json")
    assert code == 0, err
    objects = json.loads(out)
    assert [(o["tag"], o["category"]) for o in objects] == [("CAR1", "car"), ("HAND_BARROW1", "hand_barrow")]
    assert objects[0]["azimuth"] == pytest.approx(1.0, abs=2 * 3.1416 / 40)
    assert set(objects[0]["confidence"]) == {"azimuth", "elevation", "theta"}
    code, out, err = run_cli(capsys, "--model", trained_dir, image_file)
    assert code == 0, err
    assert "CAR1" in out and "hand_barrow" in out and "conf a/e/θ" in out and "azim (°)" in out
    # The random model usually writes no <pose6D>: that is said, not an error.
    code, out, err = run_cli(capsys, "--model", tiny_model_dir(), image_file, "--box", "10,10,40,50",
                             "--max-new-tokens", "8")
    assert code == 0, err


def test_table_shows_degrees_and_confidences():
    obj = {"tag": "CAR1", "category": "car", "azimuth": 3.14159265, "elevation": 0.1, "theta": 0.0,
           "distance": 4.0, "px": 10.0, "py": 20.0, "confidence": {"azimuth": 0.25, "elevation": 0.9, "theta": 1.0}}
    table = format_objects_table([obj])
    assert "CAR1" in table and " 180.0 " in table and "0.25/0.90/1.00" in table


@pytest.mark.parametrize("case, expected", [
    ("missing image", "image not found"),
    ("unreadable image", "cannot read the image"),
    ("box outside", "lies outside the image (80x60 pixels)"),
    ("malformed box", "expected four numbers"),
    ("empty box", "need x1 < x2"),
    ("model without config", "no config.json"),
    ("another model type", "not a LLaVA-pose model"),
    ("no model folder", "model folder not found"),
])
def test_bad_input_gives_one_clear_line_and_exit_2(case, expected, image_file, tmp_path, capsys):
    model, image, extra = tiny_model_dir(), image_file, []
    if case == "missing image":
        image = tmp_path / "nope.jpg"
    elif case == "unreadable image":
        image = tmp_path / "text.jpg"
        image.write_text("not an image")
    elif case == "box outside":
        extra = ["--box", "81,10,90,50"]
    elif case == "malformed box":
        extra = ["--box", "10,ten,40,50"]
    elif case == "empty box":
        extra = ["--box", "40,10,40,50"]
    elif case == "model without config":
        model = tmp_path
    elif case == "another model type":
        (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
        model = tmp_path
    elif case == "no model folder":
        model = tmp_path / "missing"
    code, out, err = run_cli(capsys, "--model", model, image, *extra)
    assert code == 2
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    if case in ("missing image", "unreadable image"):
        assert str(image) in err  # the message names the file
    if case == "another model type":
        assert "config.json" in err and "'llava'" in err


def test_python_api_rejects_a_prompt_without_the_image_token():
    model, processor = load_tiny()
    with pytest.raises(ImageNet3DError, match=r"prompts\[0\]: no image token '<image>'"):
        predict(model, processor, [random_image(0)], prompts=["Describe the image in detail with 6D poses."])
    with pytest.raises(ImageNet3DError, match="needs at least one box per image"):
        predict(model, processor, [random_image(0)], task="joint")


def test_a_photo_turned_by_its_exif_is_read_upright_and_the_cli_says_so(tmp_path, capsys):
    from tests.data.test_images import exif_block, jpeg, two_colour

    photo = tmp_path / "phone.jpg"
    photo.write_bytes(jpeg(two_colour(), exif=exif_block(6)))  # stored 200x120, shown 120x200
    code, out, err = run_cli(capsys, "--model", tiny_model_dir(), photo, "--box", "10,10,110,190",
                             "--max-new-tokens", "2")
    assert code == 0, err
    assert "applied the orientation 6 of the file's metadata" in err and "120x200 pixels" in err
    code, out, err = run_cli(capsys, "--model", tiny_model_dir(), photo, "--box", "130,10,190,110")
    assert code == 2 and "lies outside the image (120x200 pixels)" in err
