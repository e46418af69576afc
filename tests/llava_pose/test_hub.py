"""Save -> load in a fresh process with trust_remote_code: the custom code travels with the weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor

import modeling
import modeling.llava_pose.registration  # noqa: F401  (registers the auto classes in-process)
from tests.helpers.llava_pose import load_tiny, random_image, tiny_model_dir


@pytest.fixture(scope="module")
def tiny():
    return load_tiny()


def test_saved_folder_has_auto_map_and_self_contained_code():
    folder = tiny_model_dir()
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llava_pose"
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForImageTextToText"}
    processor_config = json.loads((folder / "processor_config.json").read_text())
    assert processor_config["auto_map"] == {"AutoProcessor": "processing_llava_pose.LlavaPoseProcessor"}
    code = ["configuration_llava_pose.py", "modeling_llava_pose.py", "processing_llava_pose.py", "geometry.py",
            "category_names.py", "pipeline_llava_pose.py", "box_crop.py", "image_decoding.py"]
    assert config["custom_pipelines"]["object-pose-estimation"]["impl"] == "pipeline_llava_pose.ObjectPosePipeline"
    for name in code:
        assert (folder / name).is_file(), name
    # The copied files import nothing of this package but each other (else the Hub copy breaks).
    for name in code:
        text = (folder / name).read_text()
        assert "import modeling" not in text and "from modeling" not in text and "dataset_card" not in text, name


def test_import_registers_the_auto_classes_in_process(tiny):
    folder = tiny_model_dir()
    assert isinstance(AutoConfig.from_pretrained(folder), modeling.LlavaPoseConfig)
    assert type(AutoModel.from_pretrained(folder)) is modeling.LlavaPoseForConditionalGeneration
    assert type(AutoModelForImageTextToText.from_pretrained(folder)) is modeling.LlavaPoseForConditionalGeneration
    assert type(AutoProcessor.from_pretrained(folder)) is modeling.LlavaPoseProcessor


FRESH = textwrap.dedent("""
    import sys, torch
    from transformers import AutoModel, AutoModelForImageTextToText, AutoProcessor
    folder, inputs_file, out_file = sys.argv[1:]
    inputs = torch.load(inputs_file, weights_only=True)
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    assert type(processor).__module__.startswith("transformers_modules"), type(processor).__module__
    results = {"pose_token_id": processor.pose_token_id}
    for auto in (AutoModel, AutoModelForImageTextToText):
        model = auto.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__name__ == "LlavaPoseForConditionalGeneration", type(model)
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        assert "modeling" not in sys.modules  # this project's package was not importable
        with torch.no_grad():
            out = model(**inputs)
            gen = model.generate(**inputs, max_new_tokens=4, do_sample=False, return_poses=True)
        results[auto.__name__] = {"logits": out.logits, "pose_logits": out.pose_logits,
                                  "pose_regression": out.pose_regression, "sequences": gen.sequences}
    torch.save(results, out_file)
""")


def test_fresh_process_loads_offline_with_trust_remote_code_and_gives_identical_outputs(tiny, tmp_path):
    model, processor = tiny
    text = processor.describe_prompt() + " a bicycle BICYCLE1 with <pose6D> and a car CAR2 with <pose6D>"
    inputs = dict(processor(images=[random_image(5)], text=[text], return_tensors="pt"))
    torch.save(inputs, tmp_path / "inputs.pt")
    script = tmp_path / "fresh.py"
    script.write_text(FRESH)
    # No PYTHONPATH and another working directory: the project's package cannot be imported there.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    subprocess.run([sys.executable, str(script), str(tiny_model_dir()), str(tmp_path / "inputs.pt"),
                    str(tmp_path / "out.pt")], check=True, cwd=tmp_path, env=env, timeout=120)
    results = torch.load(tmp_path / "out.pt", weights_only=True)
    assert results["pose_token_id"] == processor.pose_token_id
    with torch.no_grad():
        out = model(**inputs)
        gen = model.generate(**inputs, max_new_tokens=4, do_sample=False, return_poses=True)
    assert out.pose_logits.shape[0] == 2
    for name in ("AutoModel", "AutoModelForImageTextToText"):
        torch.testing.assert_close(results[name]["logits"], out.logits, rtol=0, atol=0)
        torch.testing.assert_close(results[name]["pose_logits"], out.pose_logits, rtol=0, atol=0)
        torch.testing.assert_close(results[name]["pose_regression"], out.pose_regression, rtol=0, atol=0)
        assert torch.equal(results[name]["sequences"], gen.sequences)
