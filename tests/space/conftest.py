"""The Space's fixtures: one sample validation image and the tiny LLaVA-pose overfit to caption it."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = ("aeroplane", 7)
"""A sample of the Space (modeling.demo.space.SAMPLE_IMAGES) with two annotated aeroplanes."""
TAGS = ("AEROPLANE1", "AEROPLANE2")


@pytest.fixture(scope="session")
def space_sample(tmp_path_factory: pytest.TempPathFactory):
    """``(Sample, annotations)``: the sample image written as the Space writes it, and its ground truth."""
    from modeling.demo.space import write_sample_images
    from modeling.synthetic.generator import synthesize_image

    sample = write_sample_images(tmp_path_factory.mktemp("space_samples"), [SAMPLE])[0]
    return sample, synthesize_image(*SAMPLE).annotations


@pytest.fixture(scope="session")
def space_model(space_sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model trained (100 steps, one batch) to caption the sample with its two aeroplanes and their
    poses."""
    import torch
    from PIL import Image

    from tests.helpers.llava_pose import load_tiny, train, training_batch

    sample, annotations = space_sample
    assert len(annotations) == 2, "the sample is meant to hold two objects"
    model, processor = load_tiny()
    image = Image.open(sample.path).convert("RGB")
    answer = "an aeroplane AEROPLANE1 with <pose6D> is next to an aeroplane AEROPLANE2 with <pose6D>."
    poses = [[tuple(float(a[k]) for k in ("azimuth", "elevation", "theta", "distance", "px", "py"))
              for a in annotations]]
    batch = training_batch(processor, [processor.describe_prompt()], [answer], [image], poses)
    torch.manual_seed(0)
    train(model, batch, steps=100, lr=3e-3)
    folder = tmp_path_factory.mktemp("space_model") / "model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
