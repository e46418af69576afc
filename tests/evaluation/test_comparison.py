"""Two models on the same objects: the paired difference, its bootstrap interval, McNemar's test, `score --compare`."""

import json
import math

import numpy as np
import pytest

from modeling import cli
from modeling.evaluation.comparison import paired_comparison
from modeling.utils.jsonl import write_jsonl

RIGHT, WRONG = 0.1, 1.0  # errors (radians) below and above π/6


def _errors(a_only: int, b_only: int, both: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = [RIGHT] * a_only + [WRONG] * b_only + [RIGHT] * both + [WRONG] * neither
    b = [WRONG] * a_only + [RIGHT] * b_only + [RIGHT] * both + [WRONG] * neither
    return np.array(a), np.array(b)


def test_the_difference_counts_the_objects_on_which_the_models_disagree():
    a, b = _errors(a_only=15, b_only=5, both=45, neither=35)
    result = paired_comparison(a, b)
    assert result["count"] == 100 and result["a_only"] == 15 and result["b_only"] == 5
    assert result["accuracy_a"] == pytest.approx(60.0) and result["accuracy_b"] == pytest.approx(50.0)
    assert result["difference"] == pytest.approx(10.0)
    # McNemar's exact test: 5 of 20 discordant objects under a fair coin, two-sided.
    assert result["mcnemar_p"] == pytest.approx(2 * sum(math.comb(20, k) for k in range(6)) / 2 ** 20)
    # Swapping the models negates the difference and mirrors the interval; the p-value stays.
    swapped = paired_comparison(b, a)
    assert swapped["difference"] == pytest.approx(-10.0) and swapped["mcnemar_p"] == result["mcnemar_p"]
    assert swapped["ci95"] == pytest.approx([-result["ci95"][1], -result["ci95"][0]], abs=1.01)


def test_the_interval_is_the_bootstrap_of_the_objects():
    """The multinomial shortcut equals resampling the objects themselves (within the bootstraps' own noise)."""
    a, b = _errors(a_only=40, b_only=25, both=250, neither=85)
    result = paired_comparison(a, b, resamples=20_000)
    rng = np.random.default_rng(1)
    picks = rng.integers(0, a.size, size=(4_000, a.size))
    naive = ((a[picks] < np.pi / 6).mean(1) - (b[picks] < np.pi / 6).mean(1)) * 100
    assert result["ci95"] == pytest.approx(np.percentile(naive, [2.5, 97.5]), abs=0.5)
    # The normal approximation of a paired difference: sd = sqrt(p_a + p_b - d²) / sqrt(n).
    shares = np.array([40, 25]) / 400
    sd = 100 * math.sqrt(shares.sum() - (shares[0] - shares[1]) ** 2) / math.sqrt(400)
    low, high = result["ci95"]
    assert high - low == pytest.approx(2 * 1.96 * sd, rel=0.1)
    assert low < result["difference"] < high
    assert paired_comparison(a, b, resamples=20_000) == result  # same seed, same interval


def test_models_that_never_disagree_and_no_objects():
    a, _ = _errors(a_only=0, b_only=0, both=30, neither=10)
    result = paired_comparison(a, a.copy())
    assert result["difference"] == 0 and result["ci95"] == [0.0, 0.0] and result["mcnemar_p"] == 1.0
    assert paired_comparison(np.zeros(0), np.zeros(0))["difference"] is None
    with pytest.raises(ValueError, match="3 errors against 2"):
        paired_comparison(np.zeros(3), np.zeros(2))


@pytest.fixture
def two_models(tmp_path):
    """References of known and novel categories; model A right on every object, B wrong on the known ones'
    category (joint) and on every novel pose."""
    rng = np.random.default_rng(0)
    cats = ["car", "bus", "chair", "sofa"] * 10  # car, bus known; chair, sofa novel
    refs, preds_a, preds_b = [], [], []
    for i, cat in enumerate(cats):
        gt = dict(zip(("azimuth", "elevation", "theta"), rng.uniform(-1, 1, 3)))
        refs.append({"id": str(i), "category": cat, **gt})
        preds_a.append({"id": str(i), "category": cat, **gt})
        novel = cat in ("chair", "sofa")
        preds_b.append({"id": str(i), "category": "bus" if cat == "car" else cat,
                        **{k: v + (2.0 if novel and k == "azimuth" else 0.0) for k, v in gt.items()}})
    return (write_jsonl(tmp_path / "refs.jsonl", refs), write_jsonl(tmp_path / "a.jsonl", preds_a),
            write_jsonl(tmp_path / "b.jsonl", preds_b))


def test_score_compare_reports_both_models_and_the_paired_gap(two_models, capsys):
    refs, a, b = two_models
    assert cli.main(["score", "--predictions", str(a), "--compare", str(b), "--references", str(refs),
                     "--task", "joint", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["a"]["overall"]["acc_pi6"] == 100.0
    assert result["b"]["overall"]["acc_pi6"] == pytest.approx(25.0)  # cars called buses, novel poses off by 2 rad
    paired = result["paired"]["overall"]
    assert paired["difference"] == pytest.approx(75.0) and paired["a_only"] == 30 and paired["b_only"] == 0

    assert cli.main(["score", "--predictions", str(a), "--compare", str(b), "--references", str(refs),
                     "--task", "open_vocab", "--json"]) == 0
    paired = json.loads(capsys.readouterr().out)["paired"]
    assert paired["known"]["difference"] == 0.0 and paired["known"]["count"] == 20  # open vocab ignores categories
    assert paired["novel"]["difference"] == pytest.approx(100.0) and paired["novel"]["a_only"] == 20

    assert cli.main(["score", "--predictions", str(a), "--compare", str(b), "--references", str(refs),
                     "--task", "joint"]) == 0
    out = capsys.readouterr().out
    assert out.count("| Acc@π/6 |") == 2
    assert f"A = {a} — joint" in out and f"B = {b} — joint" in out
    assert "overall: A − B: +75.00 points of 3D-aware Acc@π/6 (100.00 against 25.00" in out
    assert "right for A only: 30, for B only: 0; McNemar's exact p = 1.9e-09" in out  # 2 / 2**30

    assert cli.main(["score", "--predictions", str(a), "--compare", str(a), "--references", str(refs),
                     "--task", "open_vocab"]) == 0
    out = capsys.readouterr().out
    assert "known + novel (pooled): A − B: ±0.00 points of Acc@π/6 (100.00 for both): right and wrong on the" in out


def test_a_p_value_below_floating_point_is_not_printed_as_zero():
    from modeling.evaluation.comparison import format_paired

    a, b = _errors(a_only=1100, b_only=0, both=0, neither=0)
    line = format_paired(paired_comparison(a, b, resamples=100))
    assert line.endswith("McNemar's exact p < 1e-300")


def test_score_compare_names_a_file_whose_ids_are_not_the_references(two_models, tmp_path, capsys):
    refs, a, _ = two_models
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "x", "azimuth": 0, "elevation": 0, "theta": 0}])
    assert cli.main(["score", "--predictions", str(a), "--compare", str(other), "--references", str(refs)]) != 0
    assert "other.jsonl" in capsys.readouterr().err
