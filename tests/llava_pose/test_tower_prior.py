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


def test_llava_pose_on_a_baseline_tower_starts_with_the_baselines_pose(tmp_path):
    from modeling.baseline.model import build_baseline, load_baseline, pixel_values
    from modeling.llava_pose.init_model import build_tiny_model

    baseline_dir = build_baseline(tmp_path / "baseline", size="tiny", image_size=64, seed=3)
    baseline, baseline_processor = load_baseline(baseline_dir)
    with torch.no_grad():  # a trained head is not near zero: make the one compared here far from it
        baseline.pose_head.weight.normal_(0.0, 1.0)
    baseline.save_pretrained(baseline_dir)
    model, processor = load_model(build_tiny_model(tmp_path / "base", size="tiny", vision_tower=baseline_dir))
    assert model.config.pose_head_tower_prior
    head = model.pose_head
    torch.testing.assert_close(head.tower_prior_weight, baseline.pose_head.weight, rtol=0, atol=0)
    assert "pose_head.tower_prior_weight" in model.state_dict()  # saved and loaded with the weights...
    assert not any("tower_prior" in name for name, _ in model.named_parameters())  # ... never trained

    images = [_crop(0), _crop(1)]
    expected = baseline.eval()(pixel_values=pixel_values(baseline_processor, images)).pose_logits
    got = _joint_pose_logits(model.eval(), processor, images)
    assert got.shape == expected.shape == (2, 3, model.config.num_bins)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


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
