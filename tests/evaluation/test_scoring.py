"""`imagenet3d score`: tables, JSON, and every kind of bad predictions file."""

import json

import numpy as np
import pytest

from modeling import cli
from modeling.evaluation import scoring
from modeling.evaluation.metrics import pose_error
from modeling.utils.jsonl import write_jsonl


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    cats = ["car", "bus", "chair", "guitar", "laptop", "hammer", "teapot", "skateboard"] * 5
    refs, preds = [], []
    for i, cat in enumerate(cats):
        gt = rng.uniform(0, 2 * np.pi, 3)
        noise = rng.normal(0, 0.4, 3)
        refs.append({"id": f"n0000_{i}_01", "category": cat, **dict(zip(("azimuth", "elevation", "theta"), gt))})
        preds.append({"id": f"n0000_{i}_01", "category": cat if i % 4 else "bus",
                      **dict(zip(("azimuth", "elevation", "theta"), gt + noise))})
    ref_path, pred_path = write_jsonl(tmp_path / "refs.jsonl", refs), write_jsonl(tmp_path / "preds.jsonl", preds)
    return tmp_path, refs, preds, ref_path, pred_path


def _run(capsys, *argv):
    code = cli.main(["score", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _expected_errors(refs, preds):
    angles = ("azimuth", "elevation", "theta")
    return pose_error(np.array([[p[a] for a in angles] for p in preds]),
                      np.array([[r[a] for a in angles] for r in refs]))


@pytest.mark.parametrize("task", ["pose", "open_vocab", "joint"])
def test_json_output_recomputes_from_the_files(files, capsys, task):
    _, refs, preds, ref_path, pred_path = files
    code, out, _ = _run(capsys, "--predictions", pred_path, "--references", ref_path, "--task", task, "--json")
    assert code == 0
    result = json.loads(out)
    errors = _expected_errors(refs, preds)
    if task == "joint":
        errors = errors + np.pi * np.array([p["category"] != r["category"] for p, r in zip(preds, refs)])
    assert result["overall"]["count"] == len(refs)
    assert result["overall"]["acc_pi6"] == pytest.approx(100 * np.mean(errors < np.pi / 6))
    assert result["overall"]["acc_pi18"] == pytest.approx(100 * np.mean(errors < np.pi / 18))
    assert result["overall"]["median_error_deg"] == pytest.approx(np.degrees(np.median(errors)))
    assert set(result["meta_classes"]) == {"Electronics", "Furniture", "Household", "Music", "Sports",
                                           "Transportation", "Work"}
    assert sum(b["count"] for b in result["meta_classes"].values()) == len(refs)
    assert ("known" in result) == ("novel" in result) == (task == "open_vocab")
    if task == "open_vocab":
        assert result["known"]["count"] + result["novel"]["count"] == len(refs)
        assert result["novel"]["meta_classes"]["Furniture"]["count"] == 5  # chair
    assert result["missing_predictions"] == 0


def test_table_has_the_papers_columns(files, capsys):
    _, _, _, ref_path, pred_path = files
    code, out, _ = _run(capsys, "--predictions", pred_path, "--references", ref_path, "--task", "open_vocab")
    assert code == 0
    header = out.splitlines()[0]
    assert header.endswith("| Avg | Elec. | Furn. | Hou. | Mus. | Spo. | Veh. | Work |")
    assert any(line.startswith("| Acc@π/6 |") for line in out.splitlines())
    assert any(line.startswith("| novel Acc@π/6 |") for line in out.splitlines())
    row = next(line for line in out.splitlines() if line.startswith("| Acc@π/6 |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert len(cells) == 8 and all(c == "–" or len(c.split(".")[1]) == 1 for c in cells)


def test_missing_predictions_count_as_pi_and_are_reported(files, capsys):
    tmp_path, refs, preds, ref_path, _ = files
    pred_path = write_jsonl(tmp_path / "partial.jsonl", preds[:-3])
    code, out, err = _run(capsys, "--predictions", pred_path, "--references", ref_path, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["missing_predictions"] == 3 and result["overall"]["count"] == len(refs)
    assert "3 reference id(s) have no prediction" in err and refs[-1]["id"] in err
    errors = np.concatenate([_expected_errors(refs[:-3], preds[:-3]), [np.pi] * 3])
    assert result["overall"]["mean_error_deg"] == pytest.approx(np.degrees(errors.mean()))


BAD_LINES = {
    "duplicate": (lambda lines: lines + [lines[0]], "duplicate id", 41),
    "not json": (lambda lines: lines[:2] + ["{not json"] + lines[2:], "malformed JSON", 3),
    "not an object": (lambda lines: lines[:2] + ['["a list"]'] + lines[2:], "must be a JSON object", 3),
    "string angle": (lambda lines: lines[:2] + [lines[2].replace('"azimuth": ', '"azimuth": "abc", "x": ')]
                     + lines[3:], "field 'azimuth' must be a number", 3),
    "null angle": (lambda lines: lines[:2] + [json.dumps({"id": "n0000_2_01", "azimuth": None, "elevation": 0,
                                                          "theta": 0})] + lines[3:],
                   "field 'azimuth' must be a number", 3),
    "missing angle": (lambda lines: lines[:2] + [json.dumps({"id": "n0000_2_01", "elevation": 0, "theta": 0})]
                      + lines[3:], "missing field", 3),
    "unknown id": (lambda lines: lines + [json.dumps({"id": "nope", "azimuth": 0, "elevation": 0, "theta": 0})],
                   "id 'nope' is not in the references", 41),
}


@pytest.mark.parametrize("case", BAD_LINES)
def test_bad_predictions_name_the_file_and_line(files, capsys, case):
    mutate, message, line = BAD_LINES[case]
    tmp_path, _, _, ref_path, pred_path = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(mutate(pred_path.read_text().splitlines())) + "\n")
    code, out, err = _run(capsys, "--predictions", bad, "--references", ref_path)
    assert code == 2 and out == ""
    assert message in err and f"{bad}:{line}:" in err
    assert "Traceback" not in err


def test_joint_needs_categories_and_references_need_known_categories(files, capsys):
    tmp_path, refs, preds, ref_path, _ = files
    no_cat = write_jsonl(tmp_path / "nocat.jsonl", [{k: v for k, v in p.items() if k != "category"} for p in preds])
    code, _, err = _run(capsys, "--predictions", no_cat, "--references", ref_path, "--task", "joint")
    assert code == 2 and "missing field(s) 'category'" in err and f"{no_cat}:1:" in err
    bad_refs = write_jsonl(tmp_path / "badrefs.jsonl", [{**refs[0], "category": "spaceship"}])
    code, _, err = _run(capsys, "--predictions", no_cat, "--references", bad_refs)
    assert code == 2 and "unknown category 'spaceship'" in err and f"{bad_refs}:1:" in err


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    code, _, err = _run(capsys, "--predictions", tmp_path / "nope.jsonl", "--references", tmp_path / "r.jsonl")
    assert code == 2 and "r.jsonl" in err and "Traceback" not in err


def test_nan_predictions_count_as_pi(files):
    tmp_path, refs, preds, ref_path, _ = files
    path = tmp_path / "nan.jsonl"
    path.write_text("".join(json.dumps({**p, "azimuth": float("nan")}) + "\n" for p in preds))
    result = scoring.score_files(path, ref_path)
    assert result["overall"]["acc_pi6"] == 0.0 and result["overall"]["median_error_deg"] == pytest.approx(180.0)


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["score", "--help"])
    assert exit_info.value.code == 0
    assert "--predictions" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "synthesize" in out and "score" in out


def test_an_empty_references_file_is_an_error_naming_it(files, capsys):
    tmp_path, _, _, _, pred_path = files
    empty = tmp_path / "empty_refs.jsonl"
    empty.write_text("\n", encoding="utf-8")
    code, _, err = _run(capsys, "--predictions", pred_path, "--references", empty)
    assert code == 2 and "empty_refs.jsonl: no references" in err and "Traceback" not in err
    code, _, err = _run(capsys, "--predictions", pred_path, "--compare", pred_path, "--references", empty)
    assert code == 2 and "empty_refs.jsonl: no references" in err
