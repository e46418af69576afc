"""Task 1 results kept and compared: one JSONL line per run, `probe --compare` (the paper's Table 1 layout, a
chart per meta-class, the paper's numbers only as a separate reference), and the feature cache (a second probe of
a backbone does not run it: its forward is spied on)."""

import functools
import json

import numpy as np
import pytest
import transformers

from dataset_card import META_CLASS_ABBREVIATIONS, META_CLASSES
from modeling import cli
from modeling.probing.cache import cache_key, cached_features, dataset_fingerprint
from modeling.probing.compare import PAPER_TABLE1
from modeling.probing.features import LAYER_SETS
from modeling.probing.heads import OFFICIAL_LEARNING_RATES
from modeling.probing.probe import probe
from modeling.probing.results import is_official_protocol, read_results

QUICK = ["--epochs", "1", "--learning-rates", "0.01", "0.1", "--no-progress"]


def test_every_run_appends_a_line_and_compare_prints_table_1(small_dataset, tmp_path, capsys):
    """Two backbones through the command with its defaults (run in tmp_path by the probing conftest)."""
    for backbone in ("tiny-vit", "tiny-resnet"):
        assert cli.main(["probe", "--backbone", backbone, "--data", str(small_dataset), *QUICK]) == 0
    printed = capsys.readouterr().out
    assert "CLS token (position 0)" in printed and "global average pool" in printed      # what is read, printed
    assert "tiny random backbone: this run checks the pipeline" in printed
    results = tmp_path / "probe_output" / "results.jsonl"
    lines = results.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    for field in ("backbone", "revision", "weights_sha256", "layers", "acc_pi6", "acc_pi18", "median_error_deg",
                  "meta_classes", "dataset_fingerprint", "date", "protocol"):
        assert field in first
    assert first["backbone"] == "tiny-vit" and first["dataset_fingerprint"] == dataset_fingerprint(small_dataset)
    assert not first["protocol"]["official"] and set(first["meta_classes"]) == set(META_CLASSES)

    assert cli.main(["probe", "--compare", str(results), "--paper"]) == 0
    text = capsys.readouterr().out
    header = "| Acc@π/6 | Avg | " + " | ".join(META_CLASS_ABBREVIATIONS[m] for m in META_CLASSES) + " | objects |"
    assert header in text
    measured, reference = text.split("Reference, not measured here")
    rows = [line for line in measured.splitlines() if line.startswith("| tiny-")]
    assert len(rows) == 3 * 2   # Acc@π/6, Acc@π/18, MedErr: one row per run
    assert rows[0].startswith(f"| tiny-vit · {first['variant']} † [smoke test] | {first['acc_pi6']:.1f} |")
    assert "tiny-" not in reference and all(name in reference for name in PAPER_TABLE1)
    assert "| DINOv2 B/14 | 56.3 | 64.0 | 75.3 | 47.9 | 32.9 | 23.5 | 74.7 | 38.1 | – |" in reference
    assert not any(name in measured for name in PAPER_TABLE1)                           # never mixed
    charts = sorted(p.name for p in (tmp_path / "probe_output").glob("compare_*.png"))
    assert charts == sorted(f"compare_{c}.png" for c in ("avg", "elec", "furn", "hou", "mus", "spo", "veh", "work"))
    assert (tmp_path / "probe_output" / "compare_veh.png").read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["probe", "--compare", str(results), "--out", str(tmp_path / "charts")]) == 0
    assert len(list((tmp_path / "charts").glob("compare_*.png"))) == 8 and "Reference" not in capsys.readouterr().out


def test_second_probe_reuses_the_cached_features(small_dataset, tmp_path, monkeypatch):
    calls = []
    forward = transformers.ViTModel.forward

    @functools.wraps(forward)
    def spy(self, *args, **kwargs):
        calls.append(1)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(transformers.ViTModel, "forward", spy)
    cache = tmp_path / "cache"
    kwargs = dict(epochs=1, progress=False, cache_dir=cache, results=tmp_path / "r.jsonl", log=None)
    first = probe("tiny-vit", small_dataset, tmp_path / "a", learning_rates=[0.01, 0.1], **kwargs)
    assert calls and not first["probe"]["features_reused"]
    calls.clear()
    # Other layer sets, avgpool and learning rates: the same features, the backbone is not run.
    second = probe("tiny-vit", small_dataset, tmp_path / "b", layer_sets=["uniform4"], avgpool=(True,),
                   learning_rates=[0.05], **kwargs)
    assert calls == [] and second["probe"]["features_reused"]
    assert second["probe"]["best"]["layers"] == [2, 4, 6, 8]
    assert [r["features_reused"] for r in read_results(tmp_path / "r.jsonl")] == [False, True]
    # float16 features are another entry; a damaged entry is extracted again.
    probe("tiny-vit", small_dataset, tmp_path / "c", learning_rates=[0.1], feature_dtype="float16", **kwargs)
    assert calls
    assert {str(np.load(p, mmap_mode="r").dtype) for p in cache.glob("*.npy")} == {"float32", "float16"}
    for meta in cache.glob("*.json"):
        meta.write_text("{")
    calls.clear()
    probe("tiny-vit", small_dataset, tmp_path / "d", learning_rates=[0.1], layer_sets=["last"], **kwargs)
    assert calls


def test_cache_entries_and_keys(tmp_path):
    writes = []

    def extract(path):
        writes.append(path)
        np.save(path, np.arange(6, dtype=np.float32).reshape(1, 2, 3))
        return {"layout": "x"}

    fields = {"backbone": "b", "rows_sha256": "r"}
    features, info, hit, path = cached_features(tmp_path, fields, extract)
    assert not hit and info == {"layout": "x"} and features.shape == (1, 2, 3) and isinstance(features, np.memmap)
    again = cached_features(tmp_path, fields, extract)
    assert again[2] and len(writes) == 1 and np.array_equal(again[0], features)
    assert cache_key(fields) != cache_key({**fields, "rows_sha256": "other"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{cache_key(fields)}.json", f"{cache_key(fields)}.npy"]

    def fails(path):
        np.save(path, np.zeros(1))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_features(tmp_path, {"backbone": "c"}, fails)
    assert len(list(tmp_path.iterdir())) == 2                                        # nothing half-written kept


def test_dataset_fingerprint_follows_the_build(small_dataset, tmp_path):
    import shutil

    copy = shutil.copytree(small_dataset, tmp_path / "copy")
    assert dataset_fingerprint(copy) == dataset_fingerprint(small_dataset)
    (copy / "README.md").write_text((copy / "README.md").read_text() + "\n")
    assert dataset_fingerprint(copy) != dataset_fingerprint(small_dataset)


def test_bad_results_files_and_options(small_dataset, tmp_path, capsys):
    def fails(*args):
        assert cli.main(["probe", *args, "--no-progress"]) == 2
        return capsys.readouterr().err.strip()

    good = {"backbone": "x", "dataset_fingerprint": "f", "acc_pi6": 1.0, "acc_pi18": None, "median_error_deg": 3.0,
            "count": 2, "meta_classes": {m: {"acc_pi6": None, "acc_pi18": None, "median_error_deg": None, "count": 0}
                                         for m in META_CLASSES}}
    path = tmp_path / "r.jsonl"
    for record, message in (({k: v for k, v in good.items() if k != "acc_pi6"}, "r.jsonl:2: missing field(s) acc_pi6"),
                            ({**good, "meta_classes": {}}, "r.jsonl:2: field meta_classes must map the 7"),
                            ({**good, "acc_pi18": "high"}, "r.jsonl:2: field acc_pi18 must be a number or null")):
        path.write_text(json.dumps(good) + "\n" + json.dumps(record) + "\n")
        err = fails("--compare", str(path))
        assert message in err and "Traceback" not in err and len(err.splitlines()) == 1
    path.write_text("\n")
    assert "r.jsonl: no results in the file" in fails("--compare", str(path))
    assert "results file not found" in fails("--compare", str(tmp_path / "none.jsonl"))
    assert "give it without --backbone" in fails("--compare", str(path), "--backbone", "tiny-vit")
    assert "--backbone and --data are required" in fails("--backbone", "tiny-vit")
    err = fails("--backbone", "tiny-vitt", "--data", str(small_dataset))
    assert "tiny-vitt: cannot load a backbone" in err and "tiny-vit, tiny-resnet, tiny-convnext" in err


def test_official_protocol_flag():
    official = {"epochs": 5, "batch_size": 128, "hflip": True, "learning_rates": list(OFFICIAL_LEARNING_RATES),
                "layer_sets": list(LAYER_SETS), "avgpool": [False, True], "avgpool_used": [False], "max_train": None,
                "max_val": None}
    assert is_official_protocol(official, OFFICIAL_LEARNING_RATES, LAYER_SETS)     # a CNN: avgpool moot
    for change in ({"epochs": 10}, {"learning_rates": [0.1]}, {"layer_sets": ["last"]}, {"avgpool": [True]},
                   {"hflip": False}, {"max_val": 10}):
        assert not is_official_protocol({**official, **change}, OFFICIAL_LEARNING_RATES, LAYER_SETS)
