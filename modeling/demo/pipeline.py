"""``imagenet3d demo``: the README's main job, end to end on the built-in synthetic data.

synthesize the default release (fewer images of the novel categories, which are only evaluated) → build the dataset
→ train the classification baseline (a small ResNet) and LLaVA-pose (the small random base whose vision tower is
the trained baseline's backbone, as LLaVA starts from a pretrained CLIP; stage 1 projector + LM + pose head on the
frozen tower, stage 2 LoRA, merged), both on the 63 known categories only
→ evaluate Task 3 (joint, 3D-aware) on the known categories' validation split and Task 2 (open vocabulary:
known and novel) and the describe task of LLaVA-pose (a caption per validation image of the known categories, its
objects matched to the annotated ones: :mod:`modeling.evaluation.describe`) → print the tables and the wall time of
every stage, and write ``results.json``, the plots and the trained models to OUT. Synthesis, build and the three
training stages use ``num_proc`` processes (training: DDP with the plan's batch split between them,
:mod:`modeling.demo.processes`; on CUDA at most one per GPU).

``results.json`` holds the scorer's JSON per model and task at ``<model>.<task>`` (e.g.
``llava_pose.joint.overall.acc_pi6``, ``llava_pose.open_vocab.novel.acc_pi6``, ``baseline.joint...``), the describe
metrics at ``llava_pose.describe`` (``objects.precision``, ``objects.recall``, ``tags.malformed``, ...), and
``stages``: per stage, ``{"seconds", "items", "unit", "items_per_s"}`` (images synthesized or built, training
samples = steps × batch, objects or images evaluated; ``items`` and ``items_per_s`` are None for a stage without a
count). Every number comes from this run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modeling.utils.errors import ImageNet3DError


@dataclasses.dataclass(frozen=True)
class DemoPlan:
    """How big each stage of the demo is (the `full` plan is the README's main job; `small` runs in the tests)."""

    images_per_category: int
    novel_images_per_category: int
    image_scale: float
    crop_size: int
    model_size: str
    baseline_steps: int
    stage1_steps: int
    stage2_steps: int
    caption_ratio: float
    batch_size: int
    learning_rate: float
    max_eval_objects: int | None
    describe_images: int | None = None
    """Validation images of the known categories that the describe task captions (evenly spaced; None: all)."""
    stage1_caption_ratio: float = 0.0
    """Fraction of stage 1's items that are captions (stage 2's is ``caption_ratio``)."""
    lm_loss_reduction: str = "token"
    """How both stages average the LM loss: "token" or "example" (``LlavaPoseConfig.lm_loss_reduction``)."""
    baseline_learning_rate: float | None = None
    """Peak learning rate of the baseline's cosine schedule (None: ``learning_rate``, which stage 1 uses)."""
    baseline_warmup_ratio: float = 0.05
    """Fraction of the baseline's steps that warm the learning rate up."""
    baseline_augment: bool = True
    """Jitter the baseline's crops (zoom, shift, colour; ``augmentation.jitter``); mirroring stays on either way."""
    baseline_weight_decay: float = 0.05
    """AdamW's (decoupled) weight decay of the baseline's training (``train-baseline``'s default: 0.05)."""
    baseline_whole_image_ratio: float = 0.0
    """Fraction of the baseline's training items that are whole images (category only; ``whole_image_ratio``), so
    that LLaVA-pose's tower knows the whole images its describe task shows it."""
    test_time_flip: bool = False
    """Evaluate both models' poses with test-time mirroring (``evaluate``'s ``test_time_flip``; not describe)."""


PLANS = {
    # The baseline's steps train the ResNet that becomes LLaVA-pose's tower; stage 1 trains the projector, LM and
    # pose head on it (frozen), stage 2 LoRA. Novel categories need validation images only (Task 2 never trains on
    # them), so most of the synthesis time goes to the known ones. Every stage is short of steps, not of data:
    # measured on this data (seed 0, joint 3D-aware Acc@π/6 on validation_known, 2026-12-01), the baseline alone
    # with jitter reached 72.9 after 1,800 steps (lr 2e-3, 5 % warmup; 72.0 at lr 3e-3, 10 % warmup) and 78.2
    # after 4,500; without the jitter (mirroring kept) 77.4 after 1,800 steps (lr 3e-3, 10 % warmup), its novel
    # categories 32.2 instead of 34.9 (the jitter helps there). A learning-rate range test (300 steps,
    # 1e-5 -> 3e-2) has the loss flat from ~3e-3 and rising from ~6e-3. LLaVA-pose on the 4,500-step tower:
    # stages of 600 / 150 steps 76.8, of 300 / 100 steps 66.3 (66.6 after stage 1). A whole demo with the tower of
    # 2,200 steps without jitter (lr 3e-3, 10 % warmup; 600 / 150 LLaVA-pose steps): baseline 78.5 joint but 30.3
    # on novel categories, LLaVA-pose 74.5 joint and 33.8 novel: the jitter is what carries pose to the novel
    # categories and what LLaVA-pose's stages need, so the tower keeps it and its 4,500 steps. With the training in
    # two processes and batches of one kind (2026-12-01, same data, one tower): LLaVA-pose stages of 600 / 150
    # steps 78.4 joint, of 1,000 / 250 steps 78.6 (novel 37.8 / 38.6): more LLaVA-pose steps no longer pay; the
    # tower (the baseline, 79.0 there) bounds it. LLaVA-pose starting from its tower's pose and category heads
    # (`pose_head_tower_prior`, 2026-12-01, same data and tower, the machine shared): 300 / 100 steps 78.4 (78.5
    # after stage 1; category 98.1 %), where without the priors 300 / 100 had given 66.3 and 600 / 150 78.4; with
    # the pose prior alone stage 1 of 300 steps reached 71.7 (category 90.0 %). bf16 autocast costs this CPU
    # (avx512_bf16) 1.3-2.8x more per baseline step, and a batch of 128 as much per sample as 64.
    # Smaller crops do not pay: at 48 px (2026-12-02, same seed) the baseline's 4,500 steps took 396.6 s against
    # 453.8 at 64 px in the run before (1.14x; the optimizer, all-reduce and data do not shrink) and reached 73.8
    # joint against 79.8; a CNN tower also needs a side that is a multiple of its stride (32) for LLaVA-pose.
    # torch.compile (inductor) of the ResNet does not pay either: 52 s to compile, then forward + backward of 32
    # crops in 81-138 ms against 72-101 eager (one thread, 5 x 10 steps interleaved, machine busy, 2026-12-02).
    # Captions describe whole 64 px images, whose objects are a few pixels wide: every caption item costs joint
    # accuracy. Captions and describe at 192 px instead (36 tower tokens; 2026-12-02, this data and tower, 300 / 100
    # steps): precision / recall 14.6 / 21.4 % against 31.2 / 22.9 (two objects per caption, nearly always "bed":
    # the captions barely depend on the image). The category prior, though trained on crops, is what names the
    # objects of whole 64 px images: with it zeroed at test time (2026-12-02, the demo's model) describe precision /
    # recall fell from 29.2 / 21.4 % to 9.4 / 6.9 %.
    # The tower is cheaper per step since 2026-12-02 (a 16-channel stem, one block per stage: `modeling/baseline/
    # sizes.py`) at the same accuracy; a last stage of 192 channels instead of 256 saved only 7 % more of the
    # baseline's training (289.9 s against 312.3) for 77.9 joint against 78.5 (novel 40.8 against 39.5).
    # The images are rendered at half their resolution (objects twice as far): the 64 px crops still
    # shrink the object (the official crop rescales by distance / 32 at this side), and synthesis costs ~2.4x less.
    # Test-time mirroring (2026-12-02, the demo's two models, known categories' validation split): joint 77.5 ->
    # 80.8 for the baseline, 77.5 -> 80.0 for LLaVA-pose (its answer's prompt box is not mirrored; its category is
    # generated, with the category prior averaged); at ~1.7x the evaluation time of the baseline, ~1.1x LLaVA-pose's.
    # Progressive resizing does not pay (same day, baseline alone): 26 of ~44 epochs at 32 px, then 64 px, trained
    # in 254.5 s instead of ~330 for 72.8 joint (as 1,800 steps at 64 px alone); nor a tower that downsamples in
    # its first stage (232.4 s, 71.2 joint). A head on the tower's stage 3 and 4 maps as well as its pooled
    # features (frozen, probed on the demo's crops) does no better than on the pooled features alone (pose 76.2-76.6
    # against 77.6): the tower's information, not its pooling, bounds both models. The tower fits its training crops
    # (joint 95.3 %, 98.3 without bottles, against 77.5 / 83.8 on validation), but twice the images (1,080 per known
    # category: synthesis 110.6 s against 60.4) gave 79.2 single-crop / 81.1 mirrored on the same validation objects
    # (77.5 / 80.8 here) after the same 4,500 steps: within about a point of the run-to-run spread once mirrored.
    # What closes part of that gap is weight decay (2026-12-02, the baseline alone on this data, 4,500 steps, joint
    # single-crop / mirrored, novel single-crop / mirrored): AdamW's 0.05 (train-baseline's default) 77.5 / 80.8,
    # 41.1 / 40.0; 0.3: 79.1 / 81.1, 38.9 / 42.7; 1.0: 81.5 / 83.3, 41.9 / 46.2; 3.0: 77.3 / 78.4, 42.2 / 44.3. With
    # BatchNorm the decay mostly sets the convolutions' effective learning rate. At 1.0, 3,000 steps instead of
    # 4,500 (210.7 s of training against ~330): 78.7 / 80.5, novel 43.2 / 44.3, so the steps stay. Stronger jitter
    # instead of decay (zoom 0.15, shift 0.12, colour 0.3): 74.3 / 77.3.
    # The describe task shows LLaVA-pose whole 64 px images, which a tower trained on crops alone names right for
    # 46 % of them: a fifth of the baseline's items are whole images (category only, `whole_image_ratio`; 2026-12-03,
    # this data, AMD EPYC): describe precision / recall 36.5 / 26.7 -> 66.7 / 48.9 %, joint 83.0 / 82.9 -> 82.1 /
    # 82.3 (LLaVA-pose / baseline, mirrored), and 81.2 / 59.5 % once LLaVA-pose read them through the tower's own
    # resize instead of LLaVA-1.5's padding (`init_model.tower_image_geometry`). Recall stays bounded: each caption
    # names one object, and a probe on the tower's 2 x 2 (or, at 128 px, 4 x 4) feature map predicts an image's
    # object count for 70.5 % (70.7) of the validation images where always "one" gets 66.2 %. Stage 1 with 40 %
    # captions instead of 20: describe 65.6 / 48.1 %, joint 82.3: not taken. Nor twice the images with 3,000 baseline
    # steps (same day): 748.4 s of stages against 757.0 (synthesis +98 s, evaluations +35, the baseline -145), joint
    # 81.5 / 81.6 on its twice as many validation objects, describe 79.2 / 63.9 %. A third of the items whole images
    # instead of a fifth (the tower retrained, LLaVA-pose's stages on it, same data): joint 82.6 / 82.7 against
    # 82.3 / 82.3, describe 85.4 / 62.6 % against 81.2 / 59.5: taken. Two fifths (same data and seed): baseline 80.3,
    # LLaVA-pose 80.9 joint, describe 87.5 / 64.1 %: not taken. The count is hard for this tower even when trained
    # for it: fine-tuned with a count head (1 / 2 / 3+ objects) on the whole training images, 800 steps, it names the
    # count of 76.3 % of the validation images at 64 px (66.2 % for always "one"; at 128 px 72.5 % after 200 steps
    # and no better after 400), so recall stays out of reach. Test-time zoom or shift views beside the mirror (the
    # baseline, 2 or 5 views): joint 82.7 -> 83.5 / 83.6 for 2-5x the evaluation: not taken. Nor, for the baseline
    # alone, softer pose targets (pose_bin_sigma 2 bins: 81.7 joint, 88.4 without bottles, against 82.7 / 89.5) or a
    # weight decay of 1.5 (82.3 / 88.3).
    "full": DemoPlan(images_per_category=540, novel_images_per_category=120, image_scale=0.5, crop_size=64,
                     model_size="small",
                     baseline_steps=4500, stage1_steps=300, stage2_steps=100, caption_ratio=0.05, batch_size=64,
                     learning_rate=2e-3, max_eval_objects=None, describe_images=96,
                     # Stage 1 also learns the captions' language (20 % of its items, each example's LM loss
                     # averaged alone, so long captions do not outweigh the short joint answers). Measured on this
                     # data (stage 1 + stage 2, 96 describe images): malformed tags 123 -> 0, object precision /
                     # recall 10.7 / 12.2 -> 36.5 / 26.7 %, joint 76.8 -> 77.2 (78.2 with the pose head reading the
                     # tower, init-model's default for a trained tower).
                     stage1_caption_ratio=0.2, lm_loss_reduction="example", test_time_flip=True,
                     baseline_weight_decay=1.0, baseline_whole_image_ratio=0.3),
    "small": DemoPlan(images_per_category=3, novel_images_per_category=3, image_scale=0.5, crop_size=32,
                      model_size="tiny",
                      baseline_steps=3, stage1_steps=4, stage2_steps=3, caption_ratio=0.25, batch_size=4,
                      learning_rate=1e-3, max_eval_objects=16, describe_images=4, test_time_flip=True,
                      baseline_whole_image_ratio=0.25),
}
MODELS = {"llava_pose": "LLaVA-pose", "baseline": "baseline"}
DEMO_EVALUATIONS = {"joint": "validation_known", "open_vocab": None}
"""Task → split evaluated: joint on the known categories' validation split; open_vocab on known + novel."""
DESCRIBE_SPLIT = "validation_known"
"""The images LLaVA-pose's describe task captions: those of the known categories (the only ones it trained on)."""


def _timed(stages: dict[str, dict], name: str, work: Callable[[], Any],
           items: Callable[[Any], int | None] = lambda _: None, unit: str | None = None) -> Any:
    """Run one stage, print its wall time and record ``{"seconds", "items", "unit", "items_per_s"}`` under its name;
    ``items`` counts what the stage processed from its result."""
    start = time.perf_counter()
    print(f"\n== {name}", flush=True)
    result = work()
    seconds = time.perf_counter() - start
    count = items(result)
    rate = round(count / seconds, 2) if count and seconds > 0 else None
    stages[name] = {"seconds": round(seconds, 2), "items": count, "unit": unit if count else None, "items_per_s": rate}
    print(f"== {name}: {seconds:.1f} s" + (f", {rate:.1f} {unit}/s" if rate else ""), flush=True)
    return result


def stage_seconds(results: dict) -> dict[str, float]:
    """Seconds per stage of a ``results.json``, in either layout: ``{name: seconds}`` (before the throughputs were
    recorded) or ``{name: {"seconds": ..., ...}}``."""
    return {name: float(value["seconds"] if isinstance(value, dict) else value)
            for name, value in results["stages"].items()}


def run_demo(out: str | Path = "demo_output", plan: str | DemoPlan = "full", seed: int = 0, num_proc: int = 2,
             progress: bool = True) -> dict:
    """Run the whole pipeline into ``out`` and return what ``results.json`` holds.

    ``num_proc`` processes synthesize, build and train (when the plan's batch divides among them; else training
    runs in one). Raises ImageNet3DError for an unknown plan, an ``out`` that holds something else, or a stage's
    own error."""
    # OpenMP threads that wait for each other sleep instead of spinning (unless the user chose): on a busy 2-core
    # machine a spinning thread burns the time slice its partner needs; measured there, training steps ran 7x faster
    # (README, "The demo"). Read when torch loads, which is below.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from modeling.baseline.training import train_baseline
    from modeling.data.build import build
    from modeling.demo.processes import run_in_processes, training_processes
    from modeling.evaluation.comparison import compare_files
    from modeling.evaluation.evaluate import evaluate
    from modeling.llava_pose.init_model import build_tiny_model
    from modeling.llava_pose.training import train
    from modeling.synthetic.generator import (
        DEFAULT_CATEGORIES,
        generate_release,
        known_novel_counts,
        summarize_release,
    )

    if isinstance(plan, str):
        if plan not in PLANS:
            raise ImageNet3DError(f"--plan: expected one of {', '.join(PLANS)}, got {plan!r}")
        plan = PLANS[plan]
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "results.json").is_file():
        raise ImageNet3DError(f"{out}: exists and is not an earlier demo output; choose another --out")
    models = out / "models"
    stages: dict[str, dict] = {}

    counts = known_novel_counts(DEFAULT_CATEGORIES, plan.images_per_category, plan.novel_images_per_category)
    images = sum(counts.values())
    release = _timed(stages, "synthesize", lambda: generate_release(
        out / "release", images_per_category=counts, seed=seed, num_proc=num_proc, progress=progress,
        image_scale=plan.image_scale), lambda _: images, "images")
    data = out / "dataset"  # a rerun's build replaces the earlier build whole (written beside it, then swapped in)
    _timed(stages, "build", lambda: build(release, data, configs=["pose", "open_vocab", "image", "captions"],
                                          crop_size=plan.crop_size, num_proc=num_proc, progress=progress),
           lambda _: images, "images")
    # The training stages run in `processes` processes (DDP) with the plan's batch split between them: the same
    # examples per step as one process with the whole batch (README, "More than one GPU / machine").
    processes = training_processes(num_proc)  # on CUDA it can be fewer than num_proc: divide by what runs
    if plan.batch_size % processes:
        processes = 1
    batch_size = plan.batch_size // processes
    _timed(stages, "train_baseline", lambda: run_in_processes(
        train_baseline, processes, data, None, models / "baseline", known_only=True, max_steps=plan.baseline_steps,
        seed=seed, batch_size=batch_size, learning_rate=plan.baseline_learning_rate or plan.learning_rate,
        warmup_ratio=plan.baseline_warmup_ratio, augment=plan.baseline_augment, image_size=plan.crop_size,
        weight_decay=plan.baseline_weight_decay, whole_image_ratio=plan.baseline_whole_image_ratio,
        progress=progress),
        lambda summary: summary["steps"] * plan.batch_size, "samples")
    base = _timed(stages, "init_llava_pose", lambda: build_tiny_model(
        models / "llava_pose_base", size=plan.model_size, seed=seed, vision_tower=models / "baseline"))
    stage1 = _timed(stages, "train_llava_pose_stage1", lambda: run_in_processes(
        train, processes, data, base, models / "llava_pose_stage1", stage=1, known_only=True,
        freeze_vision_tower=True, max_steps=plan.stage1_steps, batch_size=batch_size,
        learning_rate=plan.learning_rate, eval_steps=0,
        caption_ratio=plan.stage1_caption_ratio, lm_loss_reduction=plan.lm_loss_reduction,
        save_steps=0, seed=seed, progress=progress), lambda _: plan.stage1_steps * plan.batch_size, "samples")
    llava = _timed(stages, "train_llava_pose_stage2", lambda: run_in_processes(
        train, processes, data, stage1, models / "llava_pose", stage=2, known_only=True,
        max_steps=plan.stage2_steps, caption_ratio=plan.caption_ratio, lm_loss_reduction=plan.lm_loss_reduction,
        batch_size=batch_size, eval_steps=0, save_steps=0, merge=True, seed=seed, progress=progress),
        lambda _: plan.stage2_steps * plan.batch_size, "samples")

    def evaluation(key: str, model_dir: Path, task: str) -> Callable[[], dict]:
        return lambda: evaluate(model_dir, data, task, out / "eval" / f"{key}_{task}", split=DEMO_EVALUATIONS[task],
                                max_objects=plan.max_eval_objects, progress=progress,
                                test_time_flip=plan.test_time_flip)

    results: dict[str, Any] = {"release": summarize_release(release), "plan": dataclasses.asdict(plan)}
    for key, model_dir in (("llava_pose", llava), ("baseline", models / "baseline")):
        results[key] = {task: _timed(stages, f"evaluate_{key}_{task}", evaluation(key, model_dir, task),
                                     lambda scores: scores["overall"]["count"], "objects")
                        for task in DEMO_EVALUATIONS}
    # Both models scored on the same objects: the gap object by object (is LLaVA-pose ahead, or is it noise?).
    evaluated = out / "eval"
    results["paired"] = {task: compare_files(
        evaluated / f"llava_pose_{task}" / "predictions.jsonl", evaluated / f"baseline_{task}" / "predictions.jsonl",
        evaluated / f"baseline_{task}" / "references.jsonl", task)["paired"] for task in DEMO_EVALUATIONS}
    results["llava_pose"]["describe"] = _timed(stages, "evaluate_llava_pose_describe", lambda: evaluate(
        llava, data, "describe", out / "eval" / "llava_pose_describe", split=DESCRIBE_SPLIT,
        max_objects=plan.describe_images, progress=progress), lambda scores: scores["images"], "images")
    results["stages"] = stages
    results["total_seconds"] = round(sum(stage["seconds"] for stage in stages.values()), 2)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def report(results: dict) -> str:
    """The demo's tables: both models side by side per task, then the stage times."""
    from modeling.evaluation.scoring import format_comparison

    paired = results.get("paired", {})
    flip = " (test-time mirroring)" if results.get("plan", {}).get("test_time_flip") else ""
    lines = ["", "Task 3, joint classification + pose (3D-aware Acc@π/6, %), known categories' validation "
                 f"split{flip}:",
             format_comparison({MODELS[m]: results[m]["joint"] for m in MODELS}), *paired_lines(paired, "joint"),
             "", f"Task 2, open-vocabulary pose (Acc@π/6, %), trained on known categories only{flip}:",
             format_comparison({MODELS[m]: results[m]["open_vocab"] for m in MODELS}),
             *paired_lines(paired, "open_vocab"),
             "", *error_kinds_lines(results),
             "", describe_summary(results["llava_pose"].get("describe")),
             "", "| stage | seconds | throughput |", "|---|---|---|"]
    for name, seconds in stage_seconds(results).items():
        stage = results["stages"][name]
        rate = stage.get("items_per_s") if isinstance(stage, dict) else None
        lines.append(f"| {name} | {seconds:.1f} | " + (f"{rate:.1f} {stage['unit']}/s |" if rate else "|"))
    lines.append(f"| total | {results['total_seconds']:.1f} |")
    return "\n".join(lines)


def paired_lines(paired: dict, task: str) -> list[str]:
    """The report's lines of LLaVA-pose against the baseline on the same objects, per block of `task`."""
    from modeling.evaluation.comparison import format_paired_blocks

    if task not in paired:  # a results.json from before the comparison
        return []
    return ["", *(f"- {line}" for line in format_paired_blocks(paired[task], task, MODELS["llava_pose"],
                                                                MODELS["baseline"]))]


def error_kinds_lines(results: dict, task: str = "joint") -> list[str]:
    """The report's lines on where `task`'s misses go, both models side by side (objects of each kind,
    :mod:`modeling.evaluation.error_kinds`), the synthetic release's rotationally symmetric categories apart (their
    share of the misses and each model's score without them), and each model's score per object status. Empty for
    a results.json from before the kinds."""
    from modeling.evaluation.error_kinds import CHANCE_ACC_PI6, ERROR_KINDS, KIND_TITLES, acc_percent, sum_counts
    from modeling.synthetic.meshes import SYMMETRIC_CATEGORIES

    breakdowns = {label: results[key][task].get("error_kinds") for key, label in MODELS.items()}
    if not all(breakdowns.values()):
        return []
    models = " / ".join(breakdowns)
    kinds = [kind for kind in ERROR_KINDS[1:] if any(b["overall"][kind] for b in breakdowns.values())]
    lines = [f"Where the {task} task's misses go ({models}, objects): " + "; ".join(
        f"{KIND_TITLES[kind]} " + " / ".join(str(b["overall"][kind]) for b in breakdowns.values()) for kind in kinds)]
    for category in SYMMETRIC_CATEGORIES:
        if all(category in b["categories"] for b in breakdowns.values()):
            rest = [acc_percent(sum_counts([c for name, c in b["categories"].items() if name != category]))
                    for b in breakdowns.values()]
            lines.append(
                f"- {category} (rotationally symmetric: {100 * CHANCE_ACC_PI6:.1f} % Acc@π/6 by chance): "
                + " / ".join(str(b["categories"][category]["count"] - b["categories"][category]["correct"])
                             for b in breakdowns.values())
                + " of these misses; the other categories' score: " + " / ".join(f"{r:.1f}" for r in rest))
    first = next(iter(breakdowns.values())).get("object_status", {})
    statuses = [status for status in first if all(status in b.get("object_status", {}) for b in breakdowns.values())]
    if statuses:
        lines.append("- by object status (score): " + "; ".join(
            f"{status.removeprefix('status_')} " + " / ".join(
                f"{acc_percent(b['object_status'][status]):.1f}" for b in breakdowns.values())
            + f" ({first[status]['count']:,} objects)" for status in statuses))
    return lines


def describe_summary(describe: dict | None) -> str:
    """The describe task's line of the report: object precision and recall, tags, pose of the matched objects."""
    if not describe:
        return "Describe (LLaVA-pose captions): not run"
    objects, tags = describe["objects"], describe["tags"]
    matched = (describe.get("pose_matched") or {}).get("overall", {})
    pose = f"{matched['acc_pi6']:.1f} %" if matched.get("acc_pi6") is not None else "n/a"
    return (f"Describe (LLaVA-pose captions of {describe['images']} validation images of the known categories): "
            f"object precision {100 * objects['precision']:.1f} %, recall {100 * objects['recall']:.1f} % "
            f"({objects['matched']} matched of {objects['annotated']} annotated, {objects['predicted']} written); "
            f"tags well-formed {100 * tags['well_formed_fraction']:.1f} % ({tags['malformed']} malformed); "
            f"Acc@π/6 of the matched objects {pose}")
