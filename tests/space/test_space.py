"""The Space's logic (modeling.demo.space): boxes, table rows, the symmetric note, samples, one run on an image."""

from __future__ import annotations

import math

import pytest

from modeling.demo import space
from modeling.utils.errors import ImageNet3DError
from tests.space.conftest import SAMPLE, TAGS


def obj(azimuth=0.0, elevation=0.0, theta=0.0, conf_azimuth=0.9, **extra):
    return {"tag": "CAR1", "category": "car", "azimuth": azimuth, "elevation": elevation, "theta": theta,
            "distance": 5.123, "px": 10.0, "py": 20.0,
            "confidence": {"azimuth": conf_azimuth, "elevation": 0.8, "theta": 0.7}, **extra}


def test_rows_are_in_degrees_with_signed_elevation_and_theta():
    (row,) = space.table_rows([obj(azimuth=3 * math.pi / 2, elevation=2 * math.pi - 0.1, theta=math.pi)])
    assert len(row) == len(space.TABLE_HEADERS)
    assert row[:6] == ["CAR1", "car", 270.0, round(-math.degrees(0.1), 1), 180.0, 5.12]
    assert row[6:9] == [0.9, 0.8, 0.7]
    assert row[9] == ""


def test_low_azimuth_confidence_says_the_object_may_be_symmetric():
    threshold = space.SYMMETRY_AZIMUTH_CONFIDENCE
    note = space.table_rows([obj(conf_azimuth=threshold - 0.01)])[0][-1]
    assert "symmetric" in note and f"{threshold:.2f}" in note
    assert space.table_rows([obj(conf_azimuth=threshold)])[0][-1] == ""
    unnamed = space.table_rows([obj(tag=None, category=None)])[0]
    assert unnamed[:2] == ["?", "?"]
    # A joint answer without <pose6D>: no angles, no confidence, said in the note.
    no_pose = obj(azimuth=None, elevation=None, theta=None, tag=None, category=None, confidence=None)
    row = space.table_rows([no_pose])[0]
    assert row[2:5] == [space.NO_VALUE] * 3 and row[6:9] == [space.NO_VALUE] * 3 and "no pose" in row[9]


def test_boxes_are_read_one_per_line_clipped_with_a_note_and_a_bad_line_is_named():
    assert space.parse_boxes("", (100, 200)) == ([], [])
    assert space.parse_boxes(None, (100, 200)) == ([], [])
    boxes, notes = space.parse_boxes(" 1, 2, 30, 40\n\n10,20,199,99\n", (100, 200))
    assert boxes == [(1, 2, 30, 40), (10, 20, 199, 99)] and notes == []
    boxes, notes = space.parse_boxes("1,2,30,40\n150,50,250,120", (100, 200))
    assert boxes[1] == (150, 50, 200, 100)
    assert len(notes) == 1 and notes[0].startswith("boxes, line 2") and "clipped" in notes[0]
    with pytest.raises(ImageNet3DError, match="boxes, line 2: .*four"):
        space.parse_boxes("1,2,30,40\n1,2,x,4", (100, 200))
    with pytest.raises(ImageNet3DError, match="boxes, line 1"):
        space.parse_boxes("30,2,1,40", (100, 200))


def test_the_model_comes_from_the_argument_or_the_environment(monkeypatch):
    monkeypatch.delenv(space.MODEL_ENV, raising=False)
    assert space.model_source() is None
    monkeypatch.setenv(space.MODEL_ENV, "  ")
    assert space.model_source() is None
    monkeypatch.setenv(space.MODEL_ENV, "some/model")
    assert space.model_source() == "some/model"
    assert space.model_source("folder") == "folder"
    assert "make demo" in space.NO_MODEL_MESSAGE and space.MODEL_ENV in space.NO_MODEL_MESSAGE


def test_a_model_that_is_neither_a_folder_nor_on_the_hub_is_one_clear_error(tmp_path):
    with pytest.raises(ImageNet3DError, match="missing: model folder not found"):
        space.load_space_model(str(tmp_path / "missing"))
    with pytest.raises(ImageNet3DError, match="nobody/nothing: .*not loadable as a Hub model id"):
        space.load_space_model("nobody/nothing")  # offline in the tests: the Hub is not reached


def test_wireframes_come_from_the_synthetic_release_unless_a_source_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv(space.CAD_ENV, raising=False)
    meshes = space.cad_meshes()
    vertices, faces = meshes[("aeroplane", 1)]
    assert vertices.shape[1] == 3 and faces.shape[1] == 3
    monkeypatch.setenv(space.CAD_ENV, str(tmp_path / "missing"))
    with pytest.raises(ImageNet3DError, match="missing"):
        space.cad_meshes()


def test_samples_are_deterministic_validation_images_with_their_boxes(space_sample, tmp_path):
    from PIL import Image

    from modeling.synthetic.generator import _is_val

    sample, annotations = space_sample
    again = space.write_sample_images(tmp_path, [SAMPLE])[0]
    assert again.path.read_bytes() == sample.path.read_bytes()
    assert again.boxes_text == sample.boxes_text
    width, height = Image.open(sample.path).size
    boxes = space.parse_boxes(sample.boxes_text, (height, width))
    assert len(boxes) == len(annotations) == 2
    # The demo's release has 540 images per known category: every sample is one of its validation images.
    assert all(_is_val(index, 540) for _, index in space.SAMPLE_IMAGES)


def test_analyse_describes_the_image_and_poses_every_object(space_model, space_sample):
    from modeling.llava_pose.inference import load_model

    sample, annotations = space_sample
    model, processor = load_model(space_model)
    image, notes = space.read_photo(sample.path)
    assert notes == []
    result = space.analyse(model, processor, image, task=space.TASK_DESCRIBE)
    assert all(tag in result.text for tag in TAGS)
    assert [row[:2] for row in result.rows] == [[tag, "aeroplane"] for tag in TAGS]
    for row, truth in zip(result.rows, annotations):
        assert row[2] == pytest.approx(math.degrees(truth["azimuth"]), abs=360 / 40)
    assert result.overlay.size == image.size and result.overlay.tobytes() != image.tobytes()  # the poses drawn
    with pytest.raises(ImageNet3DError, match="type one box per line"):
        space.analyse(model, processor, image, "", task=space.TASK_BOXES)
    # Test-time mirroring: the boxes' poses of predict(..., test_time_flip=True), said in the notes; a caption
    # reads the image once and says so.
    from modeling.llava_pose.inference import predict

    mirrored = space.analyse(model, processor, image, sample.boxes_text, task=space.TASK_BOXES, test_time_flip=True)
    boxes, _ = space.parse_boxes(sample.boxes_text, (image.height, image.width))
    want = predict(model, processor, [image], task="joint", boxes=[boxes], test_time_flip=True)[0]["objects"]
    assert [row[2] for row in mirrored.rows] == [space.table_rows(want)[k][2] for k in range(len(want))]
    assert any("mirror" in note for note in mirrored.notes)
    described = space.analyse(model, processor, image, task=space.TASK_DESCRIBE, test_time_flip=True)
    assert any("caption reads the image once" in note for note in described.notes)
    with pytest.raises(ImageNet3DError, match="upload a photo"):
        space.read_photo(None)
    with pytest.raises(ImageNet3DError, match="task: expected"):
        space.analyse(model, processor, image, task="everything")


def test_the_space_requirements_are_the_project_s():
    """space/requirements.txt (what the Hub installs) names setup.cfg's install_requires and its space extra."""
    import configparser
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    config = configparser.ConfigParser()
    config.read(root / "setup.cfg", encoding="utf-8")

    def requirements(text: str) -> set[str]:
        lines = (line.split("#")[0].strip() for line in text.splitlines())
        return {line.replace(" ", "") for line in lines if line}

    wanted = (requirements(config["options"]["install_requires"])
              | requirements(config["options.extras_require"]["space"]))
    assert requirements((root / "space" / "requirements.txt").read_text(encoding="utf-8")) == wanted
