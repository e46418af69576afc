"""A LoRA adapter on LLaVA-pose: LM-only, pose head saved, <pose6D> rows trainable; save, reload, merge."""

from __future__ import annotations

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from modeling import LlavaPoseForConditionalGeneration, LlavaPoseProcessor
from tests.helpers.llava_pose import random_image, tiny_model_dir, training_batch

LM_ONLY = r".*language_model.*\.(q_proj|v_proj)"


def outputs(model, inputs):
    with torch.no_grad():
        out = model(**inputs)
    return out.logits, out.pose_logits, out.pose_regression


def test_lora_adapter_save_reload_merge(tmp_path):
    folder = tiny_model_dir()  # the random base is on disk: reloading gives the same weights, no re-seeding
    processor = LlavaPoseProcessor.from_pretrained(folder)
    base = LlavaPoseForConditionalGeneration.from_pretrained(folder)
    pose_id = base.config.pose_token_id
    config = LoraConfig(r=4, lora_alpha=8, target_modules=LM_ONLY, modules_to_save=["pose_head"],
                        trainable_token_indices={"embed_tokens": [pose_id], "lm_head": [pose_id]})
    model = get_peft_model(base, config)
    adapted = [name for name, _ in model.named_modules() if name.endswith("lora_A")]
    assert adapted and all("language_model" in name for name in adapted)
    assert not any("vision_tower" in name and "lora" in name for name, _ in model.named_parameters())
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert any("pose_head" in name for name in trainable)
    for layer in ("embed_tokens", "lm_head"):  # lm_head is not tied to the embeddings in LLaVA: both rows train
        assert any(layer in name and "token_adapter" in name for name in trainable), (layer, trainable)
    assert all("lora_" in name or "pose_head" in name or "token_adapter" in name for name in trainable), trainable

    images = [random_image(0), random_image(1)]
    prompts = [processor.describe_prompt()] * 2
    answers = ["a car CAR1 with <pose6D> is parked.", "a bicycle BICYCLE1 with <pose6D> and a car CAR2 with <pose6D>"]
    poses = [[(1.0, 0.2, 0.1, 5.0, 30.0, 20.0)], [(2.0, 0.1, 6.0, 4.0, 10.0, 10.0), (3.0, 0.3, 0.2, 8.0, 50, 30)]]
    batch = training_batch(processor, prompts, answers, images, poses)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(3):  # move LoRA's B, the pose head and the token rows off their initial values
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "pixel_values")}
    expected = outputs(model, inputs)
    base_only = outputs(LlavaPoseForConditionalGeneration.from_pretrained(folder).eval(), inputs)
    assert not torch.allclose(expected[0], base_only[0]) and not torch.allclose(expected[1], base_only[1])

    model.save_pretrained(tmp_path / "adapter")
    reloaded = PeftModel.from_pretrained(LlavaPoseForConditionalGeneration.from_pretrained(folder),
                                         tmp_path / "adapter").eval()
    for got, want in zip(outputs(reloaded, inputs), expected):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    # generate(return_poses=True) goes through the PEFT wrapper to the adapted model.
    prompt = processor(images=images[:1], text=[processor.describe_prompt() + " a car CAR1 with"], return_tensors="pt")
    with torch.no_grad():
        wrapped = reloaded.generate(**prompt, max_new_tokens=3, min_new_tokens=3, do_sample=False, return_poses=True)
    assert wrapped.sequences.shape[1] == prompt["input_ids"].shape[1] + 3
    merged = reloaded.merge_and_unload()
    assert type(merged) is LlavaPoseForConditionalGeneration
    assert not any("lora" in name for name, _ in merged.named_parameters())
    for got, want in zip(outputs(merged, inputs), expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    # The merged model saves and loads as an ordinary LLaVA-pose.
    with torch.no_grad():
        unwrapped = merged.generate(**prompt, max_new_tokens=3, min_new_tokens=3, do_sample=False, return_poses=True)
    assert torch.equal(unwrapped.sequences, wrapped.sequences)
    torch.testing.assert_close(unwrapped.pose_logits, wrapped.pose_logits, rtol=1e-4, atol=1e-5)
    merged.save_pretrained(tmp_path / "merged")
    again = LlavaPoseForConditionalGeneration.from_pretrained(tmp_path / "merged").eval()
    for got, want in zip(outputs(again, inputs), expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_a_plain_module_list_would_adapt_the_vision_tower_too():
    """Why the regex: PEFT matches q_proj/v_proj by suffix, which also hits CLIP's attention."""
    base = LlavaPoseForConditionalGeneration.from_pretrained(tiny_model_dir("tiny-clip"))
    model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    assert any("vision_tower" in name and "lora_A" in name for name, _ in model.named_parameters())
