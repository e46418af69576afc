"""LLaVA-pose forward/backward, pose loss, and generate with poses (tiny model, CPU)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from modeling.geometry import angle_to_bin
from tests.helpers.llava_pose import load_tiny, random_image, train, training_batch

CAPTION = ("a bicycle BICYCLE1 with <pose6D> is at the forefront and a hand barrow HAND_BARROW1 with <pose6D> "
           "is to the left.")
POSES = {
    "caption": [(0.3, 0.2, 6.1, 5.0, 20.0, 30.0), (4.0, 0.1, 0.05, 9.0, 60.0, 12.0)],
    "joint": [(2.5, 6.0, 0.4, 3.0, 40.0, 24.0)],
}


@pytest.fixture(scope="module")
def tiny():
    return load_tiny()


def caption_batch(processor):
    images = [random_image(0), random_image(1, (64, 64))]
    prompts = [processor.describe_prompt(), processor.joint_prompt((20, 10, 60, 40), (64, 64))]
    answers = [CAPTION, processor.joint_answer("bicycle")]
    return images, prompts, training_batch(processor, prompts, answers, images, [POSES["caption"], POSES["joint"]])


def test_forward_backward_with_pose_targets_and_the_loss_falls(tiny):
    model, processor = copy.deepcopy(tiny[0]), tiny[1]
    _, _, batch = caption_batch(processor)
    out = model(**batch)
    assert out.pose_logits.shape == (3, 3, model.config.num_bins)  # 2 + 1 <pose6D> tokens in the batch
    assert out.pose_regression.shape == (3, 3)
    assert out.pose_positions[:, 0].tolist() == [0, 0, 1]
    assert model.config.pose_loss_weight != 1.0  # the built-in models weigh the pose loss down
    assert torch.allclose(out.loss, out.lm_loss + model.config.pose_loss_weight * out.pose_loss)
    out.loss.backward()
    assert model.pose_head.out.weight.grad.abs().sum() > 0
    # The gradient reaches the vision tower's first layer (the stem of the tiny ResNet).
    first = next(model.model.vision_tower.parameters())
    assert first.grad is not None and first.grad.abs().sum() > 0
    model.zero_grad()
    losses = train(model, batch, steps=8, lr=3e-3)
    assert losses[-1] < 0.8 * losses[0], losses


def test_pose_loss_masks_missing_targets_and_rejects_orphans(tiny):
    model, processor = tiny
    _, _, batch = caption_batch(processor)
    with torch.no_grad():
        full = model(**batch).pose_loss
        masked = model(**{**batch, "pose_mask": torch.zeros_like(batch["pose_mask"])}).pose_loss
        first_only = batch["pose_mask"].clone()
        first_only[0, 1] = False
        partial = model(**{**batch, "pose_mask": first_only}).pose_loss
    assert masked.item() == 0.0
    assert partial.item() != pytest.approx(full.item())
    # A target for a third pose in the joint sequence, which has only one <pose6D>: an error, not a silent skip.
    orphan = {**batch, "pose_labels": torch.zeros(2, 3, 3, dtype=torch.long),
              "pose_mask": torch.tensor([[True, True, False], [True, True, False]])}
    orphan.pop("pose_regression_labels")
    with pytest.raises(ValueError, match="sequence\\(s\\) \\[1\\]"):
        model(**orphan)


def test_generate_returns_the_poses_of_generated_tokens_batched(tiny):
    """Overfit the tiny model on two examples, then generate both, batched with left padding: the captions come
    back with their <pose6D> tokens and the decoded poses are the trained ones."""
    model, processor = copy.deepcopy(tiny[0]), tiny[1]
    images, prompts, batch = caption_batch(processor)
    torch.manual_seed(0)
    train(model, batch, steps=120, lr=3e-3)
    inputs = processor(images=images, text=prompts, return_tensors="pt", padding=True)
    assert (inputs["attention_mask"][:, 0] == 0).any(), "the batch should be left-padded"
    out = model.generate(**inputs, max_new_tokens=40, do_sample=False, return_poses=True)
    generated = out.sequences[:, out.prompt_length:]
    assert out.pose_logits.shape[0] == int((generated == model.config.pose_token_id).sum()) == 3
    objects = processor.post_process_pose_generation(out, [(im.height, im.width) for im in images])
    assert [o["tag"] for o in objects[0]] == ["BICYCLE1", "HAND_BARROW1"]
    assert [o["category"] for o in objects[0]] == ["bicycle", "hand_barrow"]
    assert [o["tag"] for o in objects[1]] == ["BICYCLE1"]
    for found, poses, image in zip(objects, (POSES["caption"], POSES["joint"]), images):
        for obj, (azimuth, elevation, theta, distance, px, _) in zip(found, poses):
            predicted = [angle_to_bin(obj[name]) for name in ("azimuth", "elevation", "theta")]
            assert predicted == list(angle_to_bin([azimuth, elevation, theta]))
            assert all(0 <= obj[name] < 2 * math.pi for name in ("azimuth", "elevation", "theta"))
            assert obj["distance"] == pytest.approx(distance, rel=0.3)
            assert obj["px"] == pytest.approx(px, abs=0.15 * image.width)
            assert 0 < obj["confidence"]["azimuth"] <= 1
    # The poses of the padded batch equal those of each example generated alone (positions follow the padding).
    for b in range(2):
        alone = processor(images=[images[b]], text=[prompts[b]], return_tensors="pt")
        single = model.generate(**alone, max_new_tokens=40, do_sample=False, return_poses=True)
        rows = out.pose_positions[:, 0] == b
        torch.testing.assert_close(single.pose_logits, out.pose_logits[rows], atol=1e-4, rtol=1e-4)


def test_plain_generate_is_unchanged(tiny):
    model, processor = tiny
    inputs = processor(images=[random_image(3)], text=[processor.describe_prompt()], return_tensors="pt")
    ids = model.generate(**inputs, max_new_tokens=5, min_new_tokens=5, do_sample=False)
    assert isinstance(ids, torch.Tensor) and ids.shape[1] == inputs["input_ids"].shape[1] + 5


def test_a_frozen_convolutional_tower_keeps_its_batchnorm_statistics(tiny):
    """Under LoRA the tower is frozen; its BatchNorm running statistics must not drift in train mode, or the model
    trained in memory would differ from the one saved and reloaded."""
    model = copy.deepcopy(tiny[0])
    tower = model.model.vision_tower
    before = {k: v.clone() for k, v in tower.state_dict().items() if "running_mean" in k}
    assert before
    model.train()
    assert tower.training  # trainable: BatchNorm uses and updates batch statistics
    tower.requires_grad_(False)
    model.train()
    assert not tower.training and model.pose_head.training
    with torch.no_grad():
        model.get_image_features(pixel_values=torch.randn(2, 3, 64, 64))
    assert all(torch.equal(tower.state_dict()[k], v) for k, v in before.items())


def test_pose_head_reads_the_image_tokens_of_its_own_sequence(tiny):
    model = tiny[0]
    head = model.pose_head
    torch.manual_seed(0)
    width = model.config.text_config.hidden_size
    hidden = torch.randn(2, 6, width)
    image_mask = torch.tensor([[0, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    pose_states = hidden[[0, 1], [5, 5]]
    with torch.no_grad():
        logits, _ = head(pose_states, hidden, image_mask, torch.tensor([0, 1]))
        changed = hidden.clone()
        changed[0, 3] += 10.0  # not an image token: no effect
        changed[1, 1] += 10.0  # the second sequence has no image token at all: no effect
        same, _ = head(pose_states, changed, image_mask, torch.tensor([0, 1]))
        changed[0, 2] += 10.0  # an image token of sequence 0: its pose changes
        moved, _ = head(pose_states, changed, image_mask, torch.tensor([0, 1]))
    torch.testing.assert_close(same, logits)
    assert not torch.allclose(moved[0], logits[0]) and torch.equal(moved[1], logits[1])
    assert torch.isfinite(logits).all()


def test_a_pass_without_pose_tokens_keeps_the_head_in_the_graph(tiny):
    """A batch with no <pose6D> (a prompt; a data-parallel rank whose batch has no pose) gives empty pose outputs,
    and the head's weights still get a (zero) gradient, so that DDP finds every parameter used."""
    model, processor = copy.deepcopy(tiny[0]), tiny[1]
    model.train()
    inputs = processor(images=[random_image(0)], text=[processor.describe_prompt()], return_tensors="pt")
    out = model(**inputs)
    assert out.pose_logits.shape == (0, 3, model.config.num_bins) and out.pose_regression.shape == (0, 3)
    (out.logits.sum() * 0 + out.pose_logits.sum() + out.pose_regression.sum()).backward()
    head = model.pose_head
    for weight in (head.query.weight, head.key_value.weight, head.dense.weight):
        assert weight.grad is not None and not weight.grad.any()


def test_a_model_in_bfloat16_takes_float32_pixels(tiny):
    """A merged --bf16 run is saved in bfloat16; its processor still gives float32 pixels, which the
    convolutional tower casts (CLIP's tower does the same), so generation runs."""
    model, processor = copy.deepcopy(tiny[0]).to(torch.bfloat16), tiny[1]
    inputs = processor(images=[random_image(0)], text=[processor.describe_prompt()], return_tensors="pt")
    assert inputs["pixel_values"].dtype == torch.float32
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False, return_poses=True)
    assert out.sequences.shape[1] > inputs["input_ids"].shape[1]


def test_per_example_lm_loss_weighs_every_sequence_alike(tiny):
    from modeling.modeling_llava_pose import per_example_lm_loss

    model, processor = copy.deepcopy(tiny[0]), tiny[1]
    _, _, batch = caption_batch(processor)
    with torch.no_grad():
        out = model(**batch)
        model.config.lm_loss_reduction = "example"
        per_example = model(**batch).lm_loss
    logits, labels = out.logits[:, :-1], batch["labels"][:, 1:]
    rows = [torch.nn.functional.cross_entropy(logits[b][labels[b] != -100], labels[b][labels[b] != -100])
            for b in range(2)]
    assert per_example == pytest.approx(float((rows[0] + rows[1]) / 2), rel=1e-5)
    # The token mean weighs the long caption by its length: it differs from the per-example mean.
    counts = [(labels[b] != -100).sum() for b in range(2)]
    assert out.lm_loss == pytest.approx(float((rows[0] * counts[0] + rows[1] * counts[1]) / sum(counts)), rel=1e-5)
    assert abs(float(out.lm_loss) - float(per_example)) > 1e-4
    assert float(per_example_lm_loss(out.logits, torch.full_like(batch["labels"], -100))) == 0.0
    with pytest.raises(ValueError, match="lm_loss_reduction"):
        type(model.config)(**{**model.config.to_dict(), "lm_loss_reduction": "sentence"})


def test_the_pose_head_can_read_the_tower_features(tiny):
    from modeling.modeling_llava_pose import LlavaPoseForConditionalGeneration

    config = copy.deepcopy(tiny[0].config)
    config.pose_head_vision_features = True
    torch.manual_seed(0)
    model = LlavaPoseForConditionalGeneration(config)
    missing, _ = model.load_state_dict(tiny[0].state_dict(), strict=False)
    assert sorted({k.split(".")[1] for k in missing}) == ["vision_dense", "vision_key_value", "vision_query"]
    _, _, batch = caption_batch(tiny[1])
    out = model(**batch)
    out.loss.backward()
    assert model.pose_head.vision_key_value.weight.grad.abs().sum() > 0
    assert model.pose_head.vision_dense.weight.grad.abs().sum() > 0
    # Without images in the pass (a cached decoding step) the second attention reads nothing and still runs.
    with torch.no_grad():
        no_image = model(input_ids=batch["input_ids"][:, -6:].clone().fill_(model.config.pose_token_id))
    assert no_image.pose_logits.shape[0] == 12 and torch.isfinite(no_image.pose_logits).all()
