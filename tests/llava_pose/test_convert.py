"""Conversion of a stock LLaVA into LLaVA-pose: new token, resized embeddings, fresh head, every weight kept."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModel,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaImageProcessorPil,
    LlavaProcessor,
)

from modeling import LlavaPoseForConditionalGeneration, LlavaPoseProcessor
from modeling.cli import main
from modeling.llava_pose.inference import load_model
from modeling.llava_pose.init_model import build_tokenizer
from tests.helpers.llava_pose import random_image
from tests.helpers.network import hub_reachable


@pytest.fixture(scope="module")
def stock_dir(tmp_path_factory):
    """A tiny stock LlavaForConditionalGeneration + LlavaProcessor (no <pose6D>) saved to disk."""
    tokenizer = build_tokenizer(512, extra_special_tokens=("<image>",))
    processor = LlavaProcessor(image_processor=LlavaImageProcessorPil(do_pad=True, size={"shortest_edge": 32},
                                                                      crop_size={"height": 32, "width": 32}),
                               tokenizer=tokenizer, patch_size=16, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(image_size=32, patch_size=16, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=2),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=2, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id),
        image_token_index=processor.image_token_id, image_seq_length=4)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("stock")
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def assert_keeps_every_weight(stock: dict[str, torch.Tensor], converted) -> None:
    params = dict(converted.named_parameters())
    assert set(params) - set(stock) == {n for n in params if n.startswith("pose_head.")} != set()
    for name, value in stock.items():
        got = params[name].detach()
        if got.shape != value.shape:  # the two vocabulary matrices grew by the new row
            assert got.shape[1:] == value.shape[1:] and got.shape[0] == value.shape[0] + 1, name
            got = got[: value.shape[0]]
        assert torch.equal(got, value), name


def check_pose_model(model, processor, stock_vocab: int) -> None:
    assert isinstance(processor, LlavaPoseProcessor)
    assert processor.pose_token_id == model.config.pose_token_id == stock_vocab  # a new id after the old ones
    assert model.config.model_type == "llava_pose" and model.config.text_config.vocab_size == stock_vocab + 1
    text = processor.describe_prompt() + " a car CAR1 with <pose6D>"
    out = model(**processor(images=[random_image(0)], text=[text], return_tensors="pt"))
    assert out.pose_logits.shape == (1, 3, 40)


def test_from_llava_path_keeps_every_weight(stock_dir, tmp_path):
    stock = dict(LlavaForConditionalGeneration.from_pretrained(stock_dir).named_parameters())
    stock = {k: v.detach() for k, v in stock.items()}
    model, processor = LlavaPoseForConditionalGeneration.from_llava(str(stock_dir))
    assert_keeps_every_weight(stock, model)
    check_pose_model(model, processor, stock["lm_head.weight"].shape[0])
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    again = AutoModel.from_pretrained(tmp_path)
    for name, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[name], value), name


def test_from_llava_model_object(stock_dir):
    stock_model = LlavaForConditionalGeneration.from_pretrained(stock_dir)
    stock = {k: v.detach().clone() for k, v in stock_model.named_parameters()}
    stock_processor = LlavaProcessor.from_pretrained(stock_dir)
    model, processor = LlavaPoseForConditionalGeneration.from_llava(stock_model, stock_processor)
    assert_keeps_every_weight(stock, model)
    check_pose_model(model, processor, stock["lm_head.weight"].shape[0])


def test_from_llava_renames_the_legacy_key_layout(stock_dir, tmp_path):
    """llava-hf checkpoints keep transformers 4 names (language_model.model.*); custom code gets no automatic
    renaming, so from_llava passes it: without it the weights would silently stay random."""
    legacy = tmp_path / "legacy"
    shutil.copytree(stock_dir, legacy)
    renames = [("model.language_model.", "language_model.model."), ("lm_head.", "language_model.lm_head."),
               ("model.vision_tower.", "vision_tower."), ("model.multi_modal_projector.", "multi_modal_projector.")]
    state = load_file(legacy / "model.safetensors")
    renamed = {}
    for key, value in state.items():
        for old, new in renames:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        renamed[key] = value
    assert any(k.startswith("language_model.model.") for k in renamed)
    save_file(renamed, legacy / "model.safetensors", metadata={"format": "pt"})
    stock = {k: v.detach() for k, v in LlavaForConditionalGeneration.from_pretrained(stock_dir).named_parameters()}
    model, _ = LlavaPoseForConditionalGeneration.from_llava(str(legacy))
    assert_keeps_every_weight(stock, model)


def test_init_model_cli_with_base(stock_dir, tmp_path, capsys):
    assert main(["init-model", str(tmp_path / "out"), "--base", str(stock_dir)]) == 0
    model, processor = load_model(tmp_path / "out")
    assert processor.categories and "bicycle" in processor.categories
    assert model.config.pose_token_id == processor.pose_token_id
    assert main(["init-model", str(tmp_path / "out")]) == 2  # never overwrites
    assert "not empty" in capsys.readouterr().err


def test_init_model_cli_with_a_baseline_tower(stock_dir, tmp_path, capsys):
    from modeling.baseline.model import build_baseline

    baseline = build_baseline(tmp_path / "baseline", size="tiny", image_size=64)
    assert main(["init-model", str(tmp_path / "out"), "--size", "tiny", "--vision-tower", str(baseline)]) == 0
    assert "on the vision tower of" in capsys.readouterr().out
    model, processor = load_model(tmp_path / "out")
    assert model.config.vision_config.model_type == "resnet" and model.config.image_seq_length == 4
    assert main(["init-model", str(tmp_path / "o2"), "--vision-tower", str(baseline), "--base", str(stock_dir)]) == 2
    assert "--vision-tower" in capsys.readouterr().err
    assert main(["init-model", str(tmp_path / "o3"), "--vision-tower", str(stock_dir)]) == 2
    assert "classification baseline" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU for a 7B checkpoint")
@pytest.mark.skipif(not hub_reachable(), reason="needs the Hugging Face Hub (HF_HUB_OFFLINE is set or no network)")
def test_convert_real_llava_checkpoint(tmp_path):
    """The documented real path: a llava-hf checkpoint in bfloat16 with device_map="auto"."""
    model, processor = LlavaPoseForConditionalGeneration.from_llava(
        "llava-hf/llava-1.5-7b-hf", dtype=torch.bfloat16, device_map="auto")
    assert model.pose_head.out.weight.dtype == torch.bfloat16
    text = processor.describe_prompt() + " a bicycle BICYCLE1 with <pose6D>"
    inputs = processor(images=[random_image(0, (336, 336))], text=[text], return_tensors="pt").to(model.device)
    with torch.no_grad():
        out = model(**inputs)
        text_only = model.generate(**processor(images=[random_image(0, (336, 336))], text=[processor.describe_prompt()],
                                               return_tensors="pt").to(model.device), max_new_tokens=8)
    assert out.pose_logits.shape == (1, 3, 40) and torch.isfinite(out.pose_logits).all()
    assert text_only.shape[1] > 0
