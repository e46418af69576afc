"""Model cards written from measured files: train, train-baseline and evaluate write them, they parse with
huggingface_hub, their model-index equals metrics.json (runs accumulate), and their Python snippets run."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml
from huggingface_hub import ModelCard

from modeling.baseline.training import train_baseline
from modeling.evaluation.evaluate import evaluate
from modeling.hub.model_card import FACTS_FILE, load_facts
from modeling.hub.model_card_text import POSE_TASK, render_model_card
from modeling.llava_pose.training import train
from tests.helpers.llava_pose import tiny_model_dir

FAST = {"batch_size": 4, "logging_steps": 1, "eval_steps": 0, "save_steps": 0, "max_eval_samples": 4, "seed": 0}
REPO_ID = "someone/imagenet3d-model"


@pytest.fixture(scope="module")
def llava(small_dataset, tmp_path_factory):
    """A LLaVA-pose trained one step, evaluated on joint (twice) and open_vocab: (folder, {task: eval dir})."""
    out = tmp_path_factory.mktemp("llava_card") / "stage1"
    folder = train(small_dataset, tiny_model_dir(), out, stage=1, max_steps=1, progress=False, **FAST)
    assert ModelCard.load(folder / "README.md").data.get("model-index") is None  # trained, not evaluated yet
    runs = {}
    for task in ("joint", "open_vocab", "joint"):
        runs[task] = tmp_path_factory.mktemp(f"eval_{task}")
        evaluate(folder, small_dataset, task, runs[task], max_objects=6, progress=False)
    return folder, runs


@pytest.fixture(scope="module")
def baseline(small_dataset, tiny_baseline, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline_card") / "baseline"
    train_baseline(small_dataset, tiny_baseline, out, max_steps=1, batch_size=4, progress=False)
    eval_dir = tmp_path_factory.mktemp("eval_baseline")
    evaluate(out, small_dataset, "joint", eval_dir, max_objects=6, progress=False)
    return out, eval_dir


def model_index(card: ModelCard) -> dict[tuple[str, str, str], float]:
    """(task name, split, metric type) → value of a card's model-index."""
    return {(r["task"]["name"], r["dataset"]["split"], m["type"]): m["value"]
            for r in card.data.to_dict()["model-index"][0]["results"] for m in r["metrics"]}


def test_llava_card_parses_and_its_model_index_is_every_evaluate_run(llava):
    folder, runs = llava
    card = ModelCard.load(folder / "README.md")
    data = card.data
    assert (data.library_name, data.pipeline_tag, data.license) == ("transformers", "image-text-to-text", "apache-2.0")
    assert POSE_TASK in data.tags and "synthetic-data" in data.tags
    found = model_index(card)
    joint = json.loads((runs["joint"] / "metrics.json").read_text())
    open_vocab = json.loads((runs["open_vocab"] / "metrics.json").read_text())
    expected = {}
    for name, metrics, blocks in (("Task 3", joint, {"overall": "validation"}),
                                  ("Task 2", open_vocab, {"overall": "validation_known+validation_novel",
                                                          "known": "validation_known", "novel": "validation_novel"})):
        for block, split in blocks.items():
            for metric in ("acc_pi6", "acc_pi18", "median_error_deg"):
                task = next(t for t, s, _ in found if name in t and s == split)
                kind = ("3d_aware_" if name == "Task 3" else "") + metric
                expected[(task, split, kind)] = round(metrics[block][metric], 2)
    assert found == expected  # the joint task, evaluated twice, is there once (the later run)
    assert "synthetic release" in card.text and "Symmetric objects" in card.text and "2406.09613" in card.text
    facts = json.loads((folder / FACTS_FILE).read_text())
    assert [e["task"] for e in facts["evaluations"]] == ["open_vocab", "joint"]
    assert facts["training"]["steps"] == 1 and facts["training_data"]["kind"] == "synthetic"


def test_retraining_drops_the_evaluations_of_the_old_weights(llava, small_dataset, tmp_path):
    folder = tmp_path / "again"
    shutil.copytree(llava[0], folder)
    train(small_dataset, tiny_model_dir(), folder, stage=1, max_steps=1, progress=False, **FAST)
    assert json.loads((folder / FACTS_FILE).read_text())["evaluations"] == []
    assert ModelCard.load(folder / "README.md").data.get("model-index") is None


def test_baseline_card_has_the_classification_tag_and_its_metrics(baseline):
    folder, eval_dir = baseline
    card = ModelCard.load(folder / "README.md")
    assert card.data.pipeline_tag == "image-classification" and card.data.library_name == "transformers"
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    values = {metric: value for (_, split, metric), value in model_index(card).items()}
    assert values == {f"3d_aware_{m}": round(metrics["overall"][m], 2) for m in ("acc_pi6", "acc_pi18",
                                                                                "median_error_deg")}
    assert "imagenet3d train-baseline" in card.text
    assert "pip install imagenet3d" not in card.text and "not on PyPI" in card.text  # PyPI's imagenet3d is not ours


def test_tasks_on_one_split_keep_their_own_names_and_metric_types(baseline, small_dataset, tmp_path):
    """The demo's case: the joint task on validation_known and open_vocab's known block measure the same split, so
    model-index holds one result for both (huggingface_hub groups by task type, dataset, config and split); its name
    names both tasks, and each number keeps a metric type of its own, equal to its metrics.json."""
    folder = tmp_path / "baseline"
    shutil.copytree(baseline[0], folder)
    runs = {task: tmp_path / f"eval_{task}" for task in ("joint", "open_vocab")}
    evaluate(folder, small_dataset, "joint", runs["joint"], split="validation_known", max_objects=6, progress=False)
    evaluate(folder, small_dataset, "open_vocab", runs["open_vocab"], max_objects=6, progress=False)
    joint, open_vocab = (json.loads((runs[t] / "metrics.json").read_text()) for t in ("joint", "open_vocab"))
    front = yaml.safe_load(ModelCard.load(folder / "README.md").content.split("---")[1])
    found = {}
    for result in front["model-index"][0]["results"]:
        types = [m["type"] for m in result["metrics"]]
        assert len(types) == len(set(types)), f"a metric type listed twice in {result['dataset']['split']}"
        name = result["task"]["name"]
        assert ("Task 3" in name) == any(t.startswith("3d_aware_") for t in types), name
        assert ("Task 2" in name) == any(not t.startswith("3d_aware_") for t in types), name
        found.update({(result["dataset"]["split"], m["type"]): m["value"] for m in result["metrics"]})
    metrics = ("acc_pi6", "acc_pi18", "median_error_deg")
    expected = {("validation_known", f"3d_aware_{m}"): round(joint["overall"][m], 2) for m in metrics}
    earlier = json.loads((baseline[1] / "metrics.json").read_text())  # the fixture's joint run on validation
    expected.update({("validation", f"3d_aware_{m}"): round(earlier["overall"][m], 2) for m in metrics})
    for block, split in (("overall", "validation_known+validation_novel"), ("known", "validation_known"),
                         ("novel", "validation_novel")):
        expected.update({(split, m): round(open_vocab[block][m], 2) for m in metrics})
    assert found == expected


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("which", ["llava", "baseline"])
def test_the_cards_snippets_run_offline_against_the_folder(which, request):
    folder = request.getfixturevalue(which)[0]
    text = render_model_card(load_facts(folder), repo_id=REPO_ID)  # the card as published
    blocks = python_blocks(text)
    assert blocks and all(REPO_ID in block for block in blocks)
    assert (f"pipeline(\"{POSE_TASK}\"" in text) == bool(load_facts(folder)["model"]["custom_pipelines"])  # if shipped
    for block in blocks:
        namespace: dict = {}
        exec(compile(block.replace(REPO_ID, str(folder)), f"{which} card snippet", "exec"), namespace)
        result = namespace.get("objects", namespace.get("category"))
        assert result is not None


def test_a_converted_checkpoint_names_its_base_and_train_carries_it(small_dataset, tmp_path):
    from modeling.hub.model_card import write_model_card

    base = tmp_path / "converted"
    shutil.copytree(tiny_model_dir(), base)
    write_model_card(base, base_model="llava-hf/llava-1.5-7b-hf")  # what init-model --base calls
    assert ModelCard.load(base / "README.md").data.base_model == "llava-hf/llava-1.5-7b-hf"
    out = train(small_dataset, base, tmp_path / "run", stage=2, max_steps=1, merge=True, caption_ratio=0.0,
                progress=False, **FAST)
    for folder in (tmp_path / "run", out):  # the adapter and merged/
        card = ModelCard.load(folder / "README.md")
        assert card.data.base_model == "llava-hf/llava-1.5-7b-hf"
    adapter = ModelCard.load(tmp_path / "run" / "README.md")
    assert "peft" in adapter.data.tags and "needs its base model" in adapter.text
    for block in python_blocks(render_model_card(load_facts(tmp_path / "run"), repo_id=REPO_ID)):
        namespace: dict = {}
        exec(compile(block.replace(REPO_ID, str(tmp_path / "run")), "adapter card snippet", "exec"), namespace)
        assert isinstance(namespace["objects"], list)  # the adapter on its base, as the card says


def test_the_pipeline_snippet_appears_only_when_the_folder_ships_the_pipeline(tmp_path):
    folder = tmp_path / "with_pipeline"
    shutil.copytree(tiny_model_dir(), folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("custom_pipelines", None)
    (folder / "config.json").write_text(json.dumps(config))
    assert 'pipeline("object-pose-estimation"' not in render_model_card(load_facts(folder), repo_id=REPO_ID)
    config["custom_pipelines"] = {POSE_TASK: {"impl": "pipeline_pose.ObjectPosePipeline", "pt": ["AutoModel"]}}
    (folder / "config.json").write_text(json.dumps(config))
    text = render_model_card(load_facts(folder), repo_id=REPO_ID)
    assert f'pipeline("{POSE_TASK}", model="{REPO_ID}", trust_remote_code=True)' in text
