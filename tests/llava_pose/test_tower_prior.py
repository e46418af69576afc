"""LLaVA-pose on a trained baseline tower starts from the baseline's pose (`pose_head_tower_prior`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from modeling.llava_pose.inference import load_model


def _crop(seed: int, side: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8))


def _joint_pose_logits(model, processor, images: list[Image.Image]) -> torch.Tensor:
    """The angle logits (B, 3, bins) of the `<pose6D>` of each image's joint answer, teacher-forced."""
    texts = [processor.joint_prompt((8, 8, 56, 56), (64, 64)) + processor.joint_answer("car") for _ in images]
    inputs = processor(images=images, text=texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**inputs).pose_logits


def _on_a_baseline_tower(tmp_path, head: str):
    """A tiny LLaVA-pose (eval mode) on a tiny baseline's tower whose `head` ("pose_head" or "category_head") was
    made far from zero, and the baseline: `(model, processor, baseline, baseline_processor)`."""
    from modeling.baseline.model import build_baseline, load_baseline
    from modeling.llava_pose.init_model import build_tiny_model

    baseline_dir = build_baseline(tmp_path / "baseline", size="tiny", image_size=64, seed=3)
    baseline, baseline_processor = load_baseline(baseline_dir)
    with torch.no_grad():  # a trained head is not near zero: make the one compared here far from it
        getattr(baseline, head).weight.normal_(0.0, 1.0)
    baseline.save_pretrained(baseline_dir)
    model, processor = load_model(build_tiny_model(tmp_path / "base", size="tiny", vision_tower=baseline_dir))
    return model.eval(), processor, baseline.eval(), baseline_processor


def test_llava_pose_on_a_baseline_tower_starts_with_the_baselines_pose(tmp_path):
    from modeling.baseline.model import pixel_values

    model, processor, baseline, baseline_processor = _on_a_baseline_tower(tmp_path, "pose_head")
    assert model.config.pose_head_tower_prior
    head = model.pose_head
    torch.testing.assert_close(head.tower_prior_weight, baseline.pose_head.weight, rtol=0, atol=0)
    torch.testing.assert_close(head.category_prior_weight, baseline.category_head.weight, rtol=0, atol=0)
    assert len(model.config.category_prior_token_ids) == baseline.config.num_categories
    assert "pose_head.tower_prior_weight" in model.state_dict()  # saved and loaded with the weights...
    assert not any("tower_prior" in name for name, _ in model.named_parameters())  # ... never trained

    images = [_crop(0), _crop(1)]
    expected = baseline.eval()(pixel_values=pixel_values(baseline_processor, images)).pose_logits
    got = _joint_pose_logits(model.eval(), processor, images)
    assert got.shape == expected.shape == (2, 3, model.config.num_bins)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(40, 100, 3), (120, 50, 3), (64, 64, 3)])
def test_llava_pose_sees_a_whole_image_as_its_tower_does(tmp_path, shape):
    """No LLaVA-1.5 padding to a square: the describe task's whole images reach the tower as its own processor (and
    its whole-image training, `train-baseline --whole-image-ratio`) makes them, pixel for pixel."""
    from modeling.baseline.model import pixel_values

    _, processor, _, baseline_processor = _on_a_baseline_tower(tmp_path, "category_head")
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8))
    got = processor.image_processor(image, return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(got, pixel_values(baseline_processor, [image]), rtol=0, atol=0)


def test_the_category_prior_biases_the_category_names_in_training_and_generation(tmp_path):
    from dataset_card import CATEGORIES
    from modeling.baseline.model import pixel_values
    from modeling.category_names import category_words

    model, processor, baseline, baseline_processor = _on_a_baseline_tower(tmp_path, "category_head")
    images = [_crop(0), _crop(1)]
    texts = [processor.joint_prompt((8, 8, 56, 56), (64, 64)) + "It is a" for _ in images]
    inputs = processor(images=images, text=texts, return_tensors="pt", padding=True)
    vocab = model.lm_head.out_features
    with torch.no_grad():
        fused = model(**inputs).logits
        plain = model(**inputs, category_bias=torch.zeros(len(images), vocab)).logits
    probabilities = baseline.eval()(pixel_values=pixel_values(baseline_processor, images)).category_logits.softmax(-1)
    tokenizer = processor.tokenizer
    bicycle = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" " + category_words("bicycle"))[0])
    sharing = [k for k, name in enumerate(CATEGORIES)
               if tokenizer.tokenize(" " + category_words(name))[0] == tokenizer.convert_ids_to_tokens(bicycle)]
    expected = probabilities[:, sharing].sum(-1).clamp_min(1e-4).log()
    torch.testing.assert_close((fused - plain)[:, -1, bicycle], expected, rtol=1e-4, atol=1e-4)
    named = set(model.config.category_prior_token_ids)
    others = [t for t in range(vocab) if t not in named]
    assert torch.equal(fused[..., others], plain[..., others])  # every other word as the LM alone scores it

    # Generation: the cached steps, which see no image, get the prior too (the logits of a teacher-forced pass).
    generated = model.generate(**inputs, max_new_tokens=3, do_sample=False, output_logits=True,
                               return_dict_in_generate=True)
    full = torch.cat([inputs["attention_mask"], torch.ones_like(generated.sequences[:, inputs["input_ids"].shape[1]:])],
                     dim=1)
    with torch.no_grad():
        forced = model(input_ids=generated.sequences, attention_mask=full, pixel_values=inputs["pixel_values"]).logits
    prompt = inputs["input_ids"].shape[1]
    for step, step_logits in enumerate(generated.logits):
        torch.testing.assert_close(step_logits, forced[:, prompt - 1 + step], rtol=1e-4, atol=1e-4)


def test_the_prior_needs_the_tower_features_and_a_cnn_tower(tmp_path):
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModel

    from modeling import LlavaPoseConfig
    from modeling.baseline.model import build_baseline
    from modeling.llava_pose.init_model import build_tiny_model

    with pytest.raises(ValueError, match="pose_head_vision_features"):
        LlavaPoseConfig(pose_head_tower_prior=True, pose_token_index=1)
    clip = tmp_path / "clip"  # a ViT's mean pooling averages its CLS token in, which LLaVA's tokens drop: no prior
    config = CLIPVisionConfig(image_size=64, patch_size=16, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2)
    CLIPVisionModel(config).save_pretrained(clip)
    CLIPImageProcessorPil(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(clip)
    baseline = build_baseline(tmp_path / "baseline", backbone=clip)
    model, _ = load_model(build_tiny_model(tmp_path / "base", vision_tower=baseline))
    assert model.config.pose_head_vision_features and not model.config.pose_head_tower_prior
    assert not hasattr(model.pose_head, "tower_prior_weight")


def test_lora_and_the_merge_keep_the_prior(synthetic_release, tmp_path):
    from modeling.baseline.model import build_baseline, load_baseline
    from modeling.data.build import build
    from modeling.llava_pose.init_model import build_tiny_model
    from modeling.llava_pose.training import train

    data = tmp_path / "data"
    build(synthetic_release, data, configs=["pose", "captions"], crop_size=64, progress=False)
    baseline_dir = build_baseline(tmp_path / "baseline", size="tiny", image_size=64, seed=3)
    expected = load_baseline(baseline_dir)[0].pose_head.weight
    base = build_tiny_model(tmp_path / "base", size="tiny", vision_tower=baseline_dir)
    fast = {"max_steps": 2, "batch_size": 2, "eval_steps": 0, "save_steps": 0, "progress": False, "seed": 0}
    stage1 = train(data, base, tmp_path / "stage1", stage=1, freeze_vision_tower=True, learning_rate=1e-2, **fast)
    merged = train(data, stage1, tmp_path / "stage2", stage=2, caption_ratio=0.5, learning_rate=1e-2, merge=True,
                   **fast)
    for folder in (stage1, tmp_path / "stage2", merged):  # the adapter folder loads onto its base
        head = load_model(folder)[0].pose_head
        torch.testing.assert_close(head.tower_prior_weight, expected, rtol=0, atol=0)


def test_test_time_flip_averages_the_category_prior_over_both_views(tmp_path, monkeypatch):
    """With `test_time_flip`, generation's category prior is the log of the mean of the image's and its mirror's
    probabilities (0 at every other token), the same for an image and its mirror; generate uses it."""
    model, processor, _, _ = _on_a_baseline_tower(tmp_path, "category_head")
    texts = [processor.joint_prompt((8, 8, 56, 56), (64, 64)) for _ in range(2)]
    pixels = processor(images=[_crop(0), _crop(1)], text=texts, return_tensors="pt", padding=True)["pixel_values"]
    with torch.no_grad():
        single = model.generation_category_bias(pixels)
        mirror = model.generation_category_bias(pixels.flip(-1))
        averaged = model.generation_category_bias(pixels, test_time_flip=True)
        averaged_of_mirror = model.generation_category_bias(pixels.flip(-1), test_time_flip=True)
    named = torch.tensor(model.config.category_prior_token_ids).unique()
    expected = ((single.exp() + mirror.exp()) / 2).log()
    torch.testing.assert_close(averaged[:, named], expected[:, named], rtol=1e-5, atol=1e-5)
    others = torch.ones(averaged.shape[1], dtype=torch.bool)
    others[named] = False
    assert not averaged[:, others].any()
    torch.testing.assert_close(averaged, averaged_of_mirror, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(averaged, single)

    calls = []
    original = type(model).generation_category_bias
    monkeypatch.setattr(type(model), "generation_category_bias",
                        lambda self, px, flip=False: calls.append(flip) or original(self, px, flip))
    inputs = processor(images=[_crop(0)], text=texts[:1], return_tensors="pt")
    model.generate(**inputs, max_new_tokens=2, do_sample=False, return_poses=True, test_time_flip=True)
    assert calls == [True]
    with pytest.raises(ValueError, match="return_poses"):
        model.generate(**inputs, max_new_tokens=2, do_sample=False, test_time_flip=True)
