"""A model folder from `train` (the adapter, the output folder, merged/) loads from any working directory: with our
loader, `predict`, peft's AutoPeftModel and the transformers pipeline."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from peft import AutoPeftModel
from transformers import pipeline

from modeling.cli import main
from modeling.llava_pose.inference import load_model, predict
from modeling.llava_pose.training import train
from modeling.pipeline_llava_pose import CUSTOM_PIPELINES, TASK
from tests.helpers.llava_pose import random_image, tiny_model_dir

FAST = {"batch_size": 2, "logging_steps": 1, "eval_steps": 0, "save_steps": 0, "max_eval_samples": 2, "seed": 0,
        "caption_ratio": 0.0}


def rounded(value, digits: int = 3):
    """Floats rounded, recursively: folders that hold the same weights (merged on load, or merged and saved) agree
    to float rounding."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items() if k != "degrees"}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


@pytest.fixture(scope="module")
def trained(small_dataset, tmp_path_factory):
    """Stage 2 (2 LoRA steps, merged) run from its own folder with relative paths, as a user types them:
    `train --model base --output stage2` in WORK; returns WORK."""
    work = tmp_path_factory.mktemp("work")
    shutil.copytree(tiny_model_dir(), work / "base")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        train(small_dataset, "base", "stage2", stage=2, max_steps=2, merge=True, learning_rate=5e-2, progress=False,
              **FAST)
    adapter = work / "adapter"  # the adapter alone, as one would publish it
    adapter.mkdir()
    for path in (work / "stage2").iterdir():
        if path.is_file() and path.name != "training_args.bin":
            shutil.copy(path, adapter / path.name)
    return work


def test_the_adapter_records_where_its_base_is(trained):
    config = json.loads((trained / "stage2" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str((trained / "base").resolve())
    assert config["auto_mapping"] == {"base_model_class": "AutoModelForImageTextToText",
                                      "parent_library": "transformers"}
    for folder in (trained / "base", trained / "stage2" / "merged"):  # init-model's and train's models
        assert json.loads((folder / "config.json").read_text())["custom_pipelines"] == CUSTOM_PIPELINES
        assert (folder / "pipeline_llava_pose.py").is_file() and (folder / "box_crop.py").is_file()


def test_every_train_folder_loads_from_another_directory(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    image = random_image(3, (60, 80))
    image.save(tmp_path / "photo.png")
    answers = []
    for folder in (trained / "stage2", trained / "stage2" / "merged", trained / "adapter"):
        model, processor = load_model(folder)
        answers.append(predict(model, processor, [image], task="joint", boxes=[[[5, 5, 60, 50]]],
                               max_new_tokens=8))
    assert rounded(answers[0]) == rounded(answers[1]) == rounded(answers[2])
    # A LoRA step at this learning rate changes the answers: the adapter was applied, not only the base.
    base_model, base_processor = load_model(trained / "base")
    with torch.no_grad():
        inputs = base_processor(images=[image], text=[base_processor.describe_prompt()], return_tensors="pt")
        merged, _ = load_model(trained / "adapter")
        assert not torch.allclose(merged(**inputs).logits, base_model(**inputs).logits)
    code = main(["predict", "--model", str(trained / "stage2"), str(tmp_path / "photo.png"), "--box", "5,5,60,50",
                 "--max-new-tokens", "8", "--json"])
    out = capsys.readouterr().out
    assert code == 0 and rounded(json.loads(out)) == rounded(answers[0][0]["objects"])


def test_autopeftmodel_and_the_pipeline_load_the_adapter_from_elsewhere(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    peft_model = AutoPeftModel.from_pretrained(str(trained / "adapter"), trust_remote_code=True).eval()
    model, processor = load_model(trained / "adapter")  # merged
    image = random_image(4, (60, 80))
    inputs = processor(images=[image], text=[processor.describe_prompt()], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(peft_model(**inputs).logits, model(**inputs).logits, rtol=1e-4, atol=1e-4)
    want = predict(model, processor, [image], task="joint", boxes=[[[5, 5, 60, 50]]], max_new_tokens=8)[0]["objects"]
    for folder in (trained / "adapter", trained / "stage2" / "merged"):
        pipe = pipeline(TASK, model=str(folder), trust_remote_code=True, device="cpu")
        got = pipe(image, boxes=[[5, 5, 60, 50]], max_new_tokens=8)
        assert rounded(got) == rounded(want)
