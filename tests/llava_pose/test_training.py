"""`imagenet3d train`: both stages learn, LoRA stays off the vision tower, resume = uninterrupted, the data and the
collator (prompt masked, one pose target per <pose6D> in order, mirroring), --known-only, bad input, --help."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from safetensors.torch import load_file
from transformers import AutoModel, TrainerCallback

from dataset_card import CATEGORIES, KNOWN_CATEGORIES
from modeling import cli
from modeling.data import build as build_module
from modeling.data.loading import load_pose_split, load_split
from modeling.geometry import angle_to_bin, flip_pose
from modeling.llava_pose.inference import load_model
from modeling.llava_pose.trainer import PoseStats, answer_window
from modeling.llava_pose.training import (
    DEFAULT_LORA_TARGETS,
    SUMMARY_FILE,
    LlavaPoseTrainingArguments,
    apply_lora,
    load_trained,
    train,
)
from modeling.llava_pose.training_data import (
    IGNORE_INDEX,
    KindGroupedSampler,
    LlavaPoseCollator,
    TrainingMix,
    caption_example,
    joint_example,
    load_training_data,
)
from modeling.utils.errors import ImageNet3DError
from tests.helpers.llava_pose import tiny_model_dir

CROP = 32
FAST = {"batch_size": 4, "logging_steps": 1, "eval_steps": 0, "save_steps": 0, "max_eval_samples": 8, "seed": 0}


@pytest.fixture(scope="module")
def data_dir(synthetic_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("train_data") / "imagenet3d"
    build_module.build(synthetic_release, out, configs=["pose", "open_vocab", "captions"], crop_size=CROP,
                       progress=False)
    return out


@pytest.fixture(scope="module")
def processor():
    return load_model(tiny_model_dir())[1]


def losses(output_dir):
    summary = json.loads((output_dir / SUMMARY_FILE).read_text())
    return [entry["loss"] for entry in summary["log_history"] if "loss" in entry]


def falls(curve):
    return np.mean(curve[-3:]) < np.mean(curve[:3])


@pytest.fixture(scope="module")
def stage1(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage1")
    target = train(data_dir, tiny_model_dir(), out, stage=1, max_steps=10, learning_rate=3e-3, progress=False, **FAST)
    return out, target


def test_stage1_full_finetuning_loss_falls_and_saves_a_model(stage1):
    out, target = stage1
    assert target == out
    curve = losses(out)
    assert len(curve) == 10 and falls(curve), curve
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["trained"]["trainable_parameters"] == summary["trained"]["total_parameters"]
    assert summary["data"]["train_items"]["caption"] == 0  # stage 1: the joint task only
    model, _ = load_model(out)  # a complete LLaVA-pose folder: stage 2 takes it as --model
    base, _ = load_model(tiny_model_dir())
    tower = "model.vision_tower.backbone.embedder.embedder.convolution.weight"  # the tiny ResNet's stem
    assert not torch.equal(model.state_dict()[tower], base.state_dict()[tower])  # the vision tower trained


def test_stage2_lora_loss_falls_merge_and_adapter_agree(stage1, data_dir, processor, tmp_path):
    out = tmp_path / "stage2"
    target = train(data_dir, stage1[0], out, stage=2, max_steps=10, learning_rate=5e-3, caption_ratio=0.5,
                   merge=True, progress=False, **FAST)
    assert target == out / "merged"
    curve = losses(out)
    assert len(curve) == 10 and falls(curve), curve
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["data"]["train_items"]["caption"] > 0 and summary["data"]["train_items"]["joint"] > 0
    assert 0 < summary["trained"]["trainable_parameters"] < summary["trained"]["total_parameters"] / 4
    assert {"eval_loss", "eval_pose_acc_pi6", "eval_aware_acc_pi6"} <= set(summary["eval"])
    assert (out / "adapter_model.safetensors").is_file() and (out / "processor_config.json").is_file()
    adapter = load_file(out / "adapter_model.safetensors")
    assert any("pose_head" in k for k in adapter) and any("multi_modal_projector" in k for k in adapter)
    assert not any("vision_tower" in k for k in adapter)

    peft_model, _ = load_trained(out)
    merged = AutoModel.from_pretrained(target, trust_remote_code=True).eval()
    assert not any("lora" in name for name, _ in merged.named_parameters())
    data = load_training_data(data_dir, processor, caption_ratio=0.5, hflip=False)
    batch = LlavaPoseCollator(processor, with_angles=False)([data.train[0], data.train[len(data.train) - 1]])
    with torch.no_grad():
        want, got = peft_model(**batch), merged(**batch)
    torch.testing.assert_close(got.logits, want.logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got.pose_logits, want.pose_logits, rtol=1e-4, atol=1e-4)


def test_lora_targets_never_include_the_vision_tower():
    model, _ = load_model(tiny_model_dir("tiny-clip"))  # a ViT tower has q_proj modules too
    _, adapted = apply_lora(model, rank=2, targets=DEFAULT_LORA_TARGETS)
    assert adapted and all("language_model" in name and "vision_tower" not in name for name in adapted)
    assert {name.rsplit(".", 1)[1] for name in adapted} == {"q_proj", "k_proj", "v_proj", "o_proj"}
    with pytest.raises(ImageNet3DError, match="vision-tower"):  # a bare suffix also matches CLIP's attention
        apply_lora(load_model(tiny_model_dir("tiny-clip"))[0], rank=2, targets=r".*\.q_proj")
    with pytest.raises(ImageNet3DError, match="lora-targets"):
        apply_lora(load_model(tiny_model_dir())[0], rank=2, targets=r".*no_such_module")


class StopAt(TrainerCallback):
    """Interrupts training after a step, as a killed run would (after that step's checkpoint)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        control.should_training_stop = state.global_step >= self.step
        return control


def test_stage1_on_a_baseline_tower_keeps_it_frozen(data_dir, tmp_path):
    from modeling.baseline.model import build_baseline, load_baseline
    from modeling.llava_pose.init_model import build_tiny_model

    baseline_dir = build_baseline(tmp_path / "baseline", size="tiny", image_size=64, seed=3)
    baseline, baseline_processor = load_baseline(baseline_dir)
    base = build_tiny_model(tmp_path / "base", size="tiny", vision_tower=baseline_dir)
    model, processor = load_model(base)
    assert model.config.image_seq_length == 4  # 64 px at stride 32
    assert model.config.pose_head_vision_features and model.pose_head.vision_dense is not None  # reads the tower
    assert list(processor.image_processor.image_mean) == list(baseline_processor.image_mean)
    assert list(processor.image_processor.image_std) == list(baseline_processor.image_std)
    expected = baseline.backbone.state_dict()  # weights and BatchNorm statistics
    tower = model.model.vision_tower.backbone.state_dict()
    assert tower.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(tower[key], expected[key], rtol=0, atol=0)

    out = tmp_path / "stage1"
    train(data_dir, base, out, stage=1, freeze_vision_tower=True, max_steps=3, learning_rate=3e-3, progress=False,
          **FAST)
    trained, _ = load_model(out)
    after = trained.state_dict()
    for key, value in model.state_dict().items():
        if key.startswith("model.vision_tower."):
            torch.testing.assert_close(after[key], value, rtol=0, atol=0)
    projector = "model.multi_modal_projector.linear_1.weight"
    assert not torch.equal(after[projector], model.state_dict()[projector])
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert "vision tower frozen" in summary["trained"]["what"]
    assert summary["trained"]["trainable_parameters"] < summary["trained"]["total_parameters"]

    with pytest.raises(ImageNet3DError, match="classification baseline"):
        build_tiny_model(tmp_path / "not_a_baseline", vision_tower=base)
    with pytest.raises(ImageNet3DError, match="--freeze-vision-tower"):
        train(data_dir, base, tmp_path / "s2", stage=2, freeze_vision_tower=True, progress=False, **FAST)


def test_a_clip_baseline_tower_keeps_its_input_side_and_drops_the_cls_token(tmp_path):
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModel

    from modeling.baseline.model import build_baseline
    from modeling.llava_pose.init_model import build_tiny_model

    clip = tmp_path / "clip"
    config = CLIPVisionConfig(image_size=64, patch_size=16, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2)
    CLIPVisionModel(config).save_pretrained(clip)
    CLIPImageProcessorPil(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(clip)
    baseline = build_baseline(tmp_path / "baseline", backbone=clip)
    model, processor = load_model(build_tiny_model(tmp_path / "base", size="tiny", vision_tower=baseline))
    assert model.config.vision_config.model_type == "clip_vision_model"
    assert model.config.vision_feature_select_strategy == "default"  # the CLS token is dropped, as in LLaVA
    assert model.config.image_seq_length == 16  # 64 px / 16 px patches, squared
    # A square crop as CLIP's processor makes it; a whole image resized to the tower's input, not centre-cropped
    # (px / py are fractions of the whole image), as `whole_images` resizes it for the tower's training.
    clip_processor = CLIPImageProcessorPil.from_pretrained(clip)
    for shape, resized in (((80, 80, 3), (80, 80)), ((48, 90, 3), (64, 64))):
        image = Image.fromarray(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
        expected = clip_processor(image.resize(resized, clip_processor.resample), return_tensors="pt")["pixel_values"]
        torch.testing.assert_close(processor.image_processor(image, return_tensors="pt")["pixel_values"], expected)
    expected = CLIPVisionModel.from_pretrained(clip).state_dict()
    for key, value in model.model.vision_tower.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)

    CLIPImageProcessorPil(size={"shortest_edge": 96}, crop_size={"height": 96, "width": 96}).save_pretrained(clip)
    with pytest.raises(ImageNet3DError, match="expects 64"):
        build_tiny_model(tmp_path / "b2", vision_tower=build_baseline(tmp_path / "baseline96", backbone=clip))


def test_resume_continues_where_it_stopped(data_dir, tmp_path):
    # Stage 2 from the random base: LoRA dropout, mirroring and the data order all draw random numbers.
    options = LlavaPoseTrainingArguments(stage=2, max_steps=6, save_steps=3, learning_rate=5e-3, caption_ratio=0.3,
                                         batch_size=2, logging_steps=1, eval_steps=0, max_eval_samples=4,
                                         lora_dropout=0.1)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    train(data_dir, tiny_model_dir(), whole, options, progress=False)
    train(data_dir, tiny_model_dir(), cut, options, callbacks=[StopAt(3)], progress=False)
    assert losses(cut) == losses(whole)[:3]  # same seed, same loss curve
    with pytest.raises(ImageNet3DError, match="--resume"):  # checkpoints there: continuing needs --resume
        train(data_dir, tiny_model_dir(), cut, options, progress=False)
    train(data_dir, tiny_model_dir(), cut, options, resume=True, progress=False)
    # The resumed run's history starts with the checkpoint's; its new steps continue the uninterrupted curve.
    np.testing.assert_allclose(losses(cut), losses(whole), rtol=1e-6)
    final_whole = load_file(whole / "adapter_model.safetensors")
    final_cut = load_file(cut / "adapter_model.safetensors")
    assert final_whole.keys() == final_cut.keys()
    # Weights: up to 2.8e-6 apart on the 22-category synthetic data of 2026-12-01 (2 of 4 full runs over 1e-6), while
    # the loss curves agree to 1e-6: float noise in near-zero gradients, which AdamW scales up to a step of the
    # learning rate (5e-3 here), as in tests/llava_pose/test_multiprocess.py's WEIGHT_ATOL.
    for key in final_whole:
        torch.testing.assert_close(final_cut[key], final_whole[key], rtol=1e-5, atol=2e-5)
    start = load_file(cut / "checkpoint-3" / "adapter_model.safetensors")
    assert any(not torch.equal(start[k], final_cut[k]) for k in start)  # it did train after the resume


def test_known_only_has_no_novel_category(data_dir, processor):
    known = {CATEGORIES.index(c) for c in KNOWN_CATEGORIES}
    everything = load_training_data(data_dir, processor, caption_ratio=0.5)
    assert set(everything.train.joint["category"]) - known  # the release has novel categories to drop
    data = load_training_data(data_dir, processor, known_only=True, caption_ratio=0.5)
    assert set(data.train.joint["category"]) <= known
    assert sorted(data.train.joint["object_id"]) == sorted(load_split(data_dir, "open_vocab", "train")["object_id"])
    assert len(data.train.captions) and set(data.train.captions["category"]) <= known
    assert data.info["captions_dropped_known_only"] > 0
    for i in range(len(data.train)):
        example = data.train[i]
        name = example.answer.split(" with ")[0].split()[-1].rstrip("0123456789").lower() \
            if example.kind == "joint" else None
        assert example.kind == "caption" or name in KNOWN_CATEGORIES
    assert set(data.eval.joint["category"]) <= known


def test_collator_masks_the_prompt_and_orders_the_pose_targets(data_dir, processor):
    captions = load_split(data_dir, "captions", "train")
    multi = next(row for row in captions if len(row["pose6d"]) >= 2)
    joint_row = load_split(data_dir, "pose", "train")[0]
    examples = [joint_example(joint_row, processor), caption_example(multi, processor)]
    batch = LlavaPoseCollator(processor)(examples)
    tokenizer = processor.tokenizer
    for b, example in enumerate(examples):
        ids, labels = batch["input_ids"][b], batch["labels"][b]
        prompt_length = processor(images=[example.image], text=[example.prompt],
                                  return_tensors="pt")["input_ids"].shape[1]
        assert (labels[:prompt_length] == IGNORE_INDEX).all()  # prompt and image tokens: no loss
        assert (ids[:prompt_length] == processor.image_token_id).sum() > 0
        scored = labels[labels != IGNORE_INDEX]
        assert scored[-1] == tokenizer.eos_token_id
        assert tokenizer.decode(scored[:-1]).strip() == example.answer
        assert (labels[prompt_length:][batch["attention_mask"][b][prompt_length:].bool()] != IGNORE_INDEX).all()
        n = len(example.poses)
        assert (ids == processor.pose_token_id).sum() == n and batch["pose_mask"][b].sum() == n
        want = angle_to_bin(np.asarray(example.poses)[:, :3])
        assert batch["pose_labels"][b, :n].tolist() == want.tolist()
    poses = multi["pose6d"]
    assert batch["pose_labels"][1, :len(poses), 0].tolist() == [int(angle_to_bin(p["azimuth"])) for p in poses]
    width, height = multi["image"].size
    np.testing.assert_allclose(batch["pose_regression_labels"][1, 1].numpy(),
                               [poses[1]["px"] / width, poses[1]["py"] / height, math.log(poses[1]["distance"])],
                               rtol=1e-6)
    assert not batch["pose_mask"][0, 1:].any()  # the joint row has one pose, padded to the caption's count
    bad = caption_example({**multi, "pose6d": multi["pose6d"][:1]}, processor)
    with pytest.raises(ImageNet3DError, match="caption:"):
        LlavaPoseCollator(processor)([bad])


def test_mirroring_flips_the_crop_the_box_and_the_pose(data_dir, processor):
    row = load_split(data_dir, "pose", "train")[3]
    plain, mirrored = joint_example(row, processor), joint_example(row, processor, flip=True)
    assert np.array_equal(np.asarray(mirrored.image), np.asarray(ImageOps.mirror(plain.image)))
    azimuth, elevation, theta = flip_pose(row["azimuth"], row["elevation"], row["theta"])
    np.testing.assert_allclose(mirrored.poses[0][:3], [azimuth, elevation, theta])
    assert mirrored.poses[0][3] == pytest.approx(1 - plain.poses[0][3]) and mirrored.poses[0][4:] == plain.poses[0][4:]
    x1, y1, x2, y2 = row["bbox"]
    assert mirrored.prompt == processor.joint_prompt((CROP - x2, y1, CROP - x1, y2), (CROP, CROP))
    data = load_training_data(data_dir, processor)
    flips = [data.train.flips(i) for i in range(len(data.train))]
    assert 0.3 < np.mean(flips) < 0.7
    data.train.set_epoch(1)
    assert [data.train.flips(i) for i in range(len(data.train))] != flips  # new draws each epoch
    data.train.set_epoch(0)
    assert [data.train.flips(i) for i in range(len(data.train))] == flips  # a pure function of (seed, epoch, i)


def test_a_flagged_box_still_makes_a_prompt(data_dir, processor):
    # pose rows keep odd boxes as found (see their flags): no box or a NaN one prompts with the whole crop.
    row = load_split(data_dir, "pose", "train")[0]
    for box in (None, [float("nan"), 1.0, 2.0, 3.0]):
        assert joint_example({**row, "bbox": box}, processor).prompt == processor.joint_prompt((0, 0, CROP, CROP),
                                                                                                 (CROP, CROP))
    x1, y1, x2, y2 = row["bbox"]
    inverted = joint_example({**row, "bbox": [x2, y2, x1, y1]}, processor)
    assert inverted.prompt == joint_example(row, processor).prompt


def test_bad_input_gives_one_line_errors(data_dir, tmp_path, capsys):
    base = str(tiny_model_dir())
    not_built = tmp_path / "not_built"
    not_built.mkdir()
    assert cli.main(["train", "--data", str(not_built), "--model", base, "--output", str(tmp_path / "o")]) == 2
    assert "not a built ImageNet3D dataset" in capsys.readouterr().err
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert cli.main(["train", "--data", str(data_dir), "--model", str(llama), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not a LLaVA-pose model" in err and "config.json" in err
    assert cli.main(["train", "--data", str(data_dir), "--model", base, "--output", str(tmp_path / "o"),
                     "--caption-ratio", "1.5"]) == 2
    assert "--caption-ratio" in capsys.readouterr().err
    assert cli.main(["train", "--data", str(data_dir), "--model", base, "--output", str(tmp_path / "o"),
                     "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert cli.main(["train", "--data", str(data_dir), "--model", base, "--output", str(tmp_path / "o"),
                     "--stage", "1", "--merge"]) == 2
    assert cli.main(["train", "--data", str(data_dir), "--model", base, "--output", str(tmp_path / "o"),
                     "--max-steps", "0"]) == 2
    assert "--max-steps: must be positive" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert cli.main(["train", "--data", str(data_dir), "--model", base, "--output", str(tmp_path / "o"),
                         "--bf16"]) == 2
        assert "--bf16" in capsys.readouterr().err


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--data", "--model", "--output", "--stage", "--known-only", "--lora-rank", "--lora-alpha",
                 "--lora-targets", "--max-steps", "--epochs", "--batch-size", "--learning-rate", "--bf16",
                 "--eval-steps", "--save-steps", "--resume", "--merge", "--seed", "--caption-ratio",
                 "--freeze-vision-tower"):
        assert flag in text, flag
    assert "llava-hf/llava-1.5-7b-hf" in text and "accelerate launch" in text
    assert "train" in cli.COMMANDS


REAL_BASE = os.environ.get("IMAGENET3D_REAL_LLAVA", "llava-hf/llava-1.5-7b-hf")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the real-checkpoint path needs a GPU with bf16")
@pytest.mark.skipif(os.environ.get("HF_HUB_OFFLINE") == "1" and not os.path.isdir(REAL_BASE),
                    reason="the real-checkpoint path needs the Hub (HF_HUB_OFFLINE=1) or IMAGENET3D_REAL_LLAVA=DIR")
def test_real_checkpoint_stage2_bf16(data_dir, tmp_path):
    from modeling.llava_pose.init_model import convert_model

    base = convert_model(tmp_path / "base", REAL_BASE, dtype=torch.bfloat16)
    target = train(data_dir, base, tmp_path / "run", stage=2, max_steps=2, batch_size=2, bf16=True, merge=False,
                   eval_steps=0, save_steps=0, max_eval_samples=4, progress=False)
    assert (target / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize("reduction", ["token", "example"])
def test_answer_window_keeps_the_loss_and_its_gradients(data_dir, processor, reduction):
    """The trainer's logits window (answer_window) gives the whole sequence's LM loss, answer accuracy and gradients,
    on joint items and a long caption mixed."""
    model = load_model(tiny_model_dir())[0]
    model.config.lm_loss_reduction = reduction
    rows = load_split(data_dir, "pose", "train")
    captions = load_split(data_dir, "captions", "train")
    examples = [joint_example(rows[i], processor) for i in range(3)] + [caption_example(captions[0], processor)]
    batch = LlavaPoseCollator(processor, with_angles=False)(examples)
    windowed = answer_window(batch)
    keep = windowed["logits_to_keep"]
    assert 0 < keep < batch["labels"].shape[1] and windowed["labels"].shape[1] == keep
    assert (batch["labels"][:, :-keep] == IGNORE_INDEX).all()  # no labelled token is left out
    results = []
    for inputs in (batch, windowed):
        model.zero_grad()
        out = model(**inputs)
        out.loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        stats = PoseStats(processor.pose_token_id).sequence_counts(out, inputs, None)
        results.append((out.lm_loss.item(), out.pose_loss.item(), grads, stats))
    (full_lm, full_pose, full_grads, full_stats), (lm, pose, grads, stats) = results
    assert lm == pytest.approx(full_lm, rel=1e-5) and pose == pytest.approx(full_pose, rel=1e-5)
    assert grads.keys() == full_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, full_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    np.testing.assert_array_equal(stats, full_stats)
    assert answer_window({"input_ids": batch["input_ids"]}) == {"input_ids": batch["input_ids"]}


def test_joint_crops_decoded_once_give_the_same_items(data_dir, processor):
    """TrainingMix reads its joint crops from one array decoded once: every item (crop pixels after mirror and jitter,
    prompt, answer, poses) is the one read from the dataset row."""
    rows = load_pose_split(data_dir, "train", "known")
    mix = TrainingMix(rows, None, processor, seed=3, hflip=True, augment=True)
    assert mix._joint_decoded is not None and len(mix._joint_decoded[1]) == len(rows)
    for index in range(0, len(rows), max(1, len(rows) // 12)):
        got = mix[index]
        want = joint_example(rows[index], processor, flip=mix.flips(index), rng=mix.jitter_rng(index))
        assert (got.prompt, got.answer, got.poses, got.source) == (want.prompt, want.answer, want.poses, want.source)
        np.testing.assert_array_equal(np.asarray(got.image), np.asarray(want.image))


def test_kind_grouped_batches_hold_one_kind_and_every_item_once():
    kinds = ["joint"] * 70 + ["caption"] * 18
    sampler = KindGroupedSampler(kinds, batch_size=16, seed=5)
    order = list(sampler)
    assert sorted(order) == list(range(88)) and len(sampler) == 88
    batches = [order[start:start + 16] for start in range(0, 88, 16)]
    # 70 joint = 4 × 16 + 6 and 18 captions = 16 + 2: five full batches of one kind each, then the two partial ones
    assert [len({kinds[i] for i in batch}) for batch in batches[:5]] == [1] * 5
    assert sorted(kinds[i] for i in batches[5]) == ["caption"] * 2 + ["joint"] * 6
    assert sorted(kinds[batch[0]] for batch in batches[:5]) == ["caption"] + ["joint"] * 4
    assert list(KindGroupedSampler(kinds, 16, seed=5)) == order  # a pure function of (seed, epoch)
    sampler.set_epoch(1)
    assert list(sampler) != order


def test_the_trainer_reads_a_mix_in_batches_of_one_kind(data_dir, processor, tmp_path):
    """Batches of one kind for the global batch: one process with batch 8 here, as two processes with batch 4."""
    from transformers import TrainingArguments

    from modeling.llava_pose.trainer import PoseTrainer

    mix = load_training_data(data_dir, processor, caption_ratio=0.3).train
    model = AutoModel.from_pretrained(tiny_model_dir(), trust_remote_code=True)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, use_cpu=True, report_to="none",
                             remove_unused_columns=False)
    trainer = PoseTrainer(model=model, args=args, train_dataset=mix, data_collator=LlavaPoseCollator(processor),
                          pose_token_id=model.config.pose_token_id)
    loader = trainer.get_train_dataloader()
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, KindGroupedSampler) and sampler.batch_size == 8
    batches = list(loader.batch_sampler)
    mixed = [batch for batch in batches if len({mix.kinds[i] for i in batch}) > 1]
    assert len(batches) > 4 and len(mixed) <= 1  # only the last batch can join two partial ones
    assert {mix.kinds[i] for batch in batches for i in batch} == {"joint", "caption"}
