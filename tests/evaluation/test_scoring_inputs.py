"""`imagenet3d score` on user files in other encodings, categories as ClassLabel ids or outside the vocabulary,
and angles in degrees: read correctly, refused in one line, or warned about with the count; never silently wrong."""

import codecs
import json
import math

import numpy as np
import pytest

from dataset_card import CATEGORIES
from modeling import cli
from modeling.evaluation.scoring import score_files, score_records
from modeling.utils.errors import ImageNet3DError

ANGLES = ("azimuth", "elevation", "theta")
CATS = ["car", "chair", "bottle", "guitar"] * 3  # ClassLabel ids 35, 39, 21, ...


def _lines(records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


@pytest.fixture
def records():
    rng = np.random.default_rng(1)
    refs = [{"id": f"img_{i}_é", "category": c, **dict(zip(ANGLES, rng.uniform(0, 2 * np.pi, 3)))}
            for i, c in enumerate(CATS)]
    preds = [{**r, "azimuth": r["azimuth"] + (0.05 if i % 2 else 1.0)} for i, r in enumerate(refs)]
    return refs, preds


def _write(path, records, encoding="utf-8", bom=b""):
    text = _lines(records)
    path.write_bytes(bom + text.encode(encoding))
    return path


def _run(capsys, pred_path, ref_path, task="joint"):
    code = cli.main(["score", "--predictions", str(pred_path), "--references", str(ref_path), "--task", task,
                     "--json"])
    out = capsys.readouterr()
    return code, out.out, out.err


ENCODINGS = {
    "UTF-16 LE with BOM (PowerShell >)": ("utf-16-le", codecs.BOM_UTF16_LE),
    "UTF-16 BE with BOM": ("utf-16-be", codecs.BOM_UTF16_BE),
    "UTF-8 with BOM": ("utf-8", codecs.BOM_UTF8),
    "UTF-32 LE with BOM": ("utf-32-le", codecs.BOM_UTF32_LE),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bom_encodings_score_like_utf8(tmp_path, capsys, records, encoding):
    refs, preds = records
    plain = score_files(_write(tmp_path / "p.jsonl", preds), _write(tmp_path / "r.jsonl", refs), "joint")
    codec, bom = ENCODINGS[encoding]
    pred_path = _write(tmp_path / "p16.jsonl", preds, codec, bom)
    ref_path = _write(tmp_path / "r16.jsonl", refs, codec, bom)
    code, out, err = _run(capsys, pred_path, ref_path)
    assert code == 0 and err == ""
    assert json.loads(out) == plain and plain["overall"]["count"] == len(refs)


@pytest.mark.parametrize("which", ["predictions", "references"])
def test_a_latin1_byte_on_line_2_is_one_line_naming_file_and_line(tmp_path, capsys, records, which):
    refs, preds = records
    pred_path, ref_path = _write(tmp_path / "p.jsonl", preds), _write(tmp_path / "r.jsonl", refs)
    bad = pred_path if which == "predictions" else ref_path
    lines = bad.read_bytes().split(b"\n")
    lines[1] = lines[1].replace("é".encode(), b"\xe9")  # what a Latin-1 editor writes for é
    bad.write_bytes(b"\n".join(lines))
    code, out, err = _run(capsys, pred_path, ref_path)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and f"{bad}:2: not UTF-8 text: byte 0xe9 at column" in err


def test_utf16_without_bom_is_one_line_with_a_hint(tmp_path, capsys, records):
    refs, preds = records
    pred_path = _write(tmp_path / "p.jsonl", preds, "utf-16-le")
    code, _, err = _run(capsys, pred_path, _write(tmp_path / "r.jsonl", refs))
    assert code == 2 and err.count("\n") == 1 and f"{pred_path}:1: NUL character" in err and "byte-order mark" in err


def test_classlabel_ids_are_mapped_with_a_warning(tmp_path, capsys, records):
    refs, preds = records
    perfect = [{**r, "category": CATEGORIES.index(r["category"])} for r in refs]
    assert [p["category"] for p in perfect[:3]] == [35, 39, 21]
    ref_path, pred_path = _write(tmp_path / "r.jsonl", refs), _write(tmp_path / "p.jsonl", perfect)
    code, out, err = _run(capsys, pred_path, ref_path)
    result = json.loads(out)
    assert code == 0 and result["overall"]["acc_pi18"] == 100.0
    assert f"warning: {pred_path}: 12 of 12 prediction(s) give the category as a ClassLabel id" in err
    assert "21 → 'bottle', 35 → 'car', 39 → 'chair'" in err and result["warnings"] == [err[9:].strip()]
    # References with ids too (a dump of the built dataset's ClassLabel column): the same scores.
    id_refs = _write(tmp_path / "rid.jsonl", [{**r, "category": CATEGORIES.index(r["category"])} for r in refs])
    by_ids = score_files(pred_path, id_refs, "open_vocab")
    by_names = score_files(pred_path, ref_path, "open_vocab")
    assert by_ids["known"] == by_names["known"] and by_ids["novel"] == by_names["novel"]
    assert len(by_ids["warnings"]) == 1 and "reference(s) give the category as a ClassLabel id" in by_ids["warnings"][0]


BAD_CATEGORIES = {
    "id past the end": (189, "category id 189 is not a ClassLabel id: ids are 0..188"),
    "negative id": (-1, "category id -1 is not a ClassLabel id"),
    "float": (35.0, "field 'category' must be a category name or a ClassLabel id (an integer 0..188), got 35.0"),
    "bool": (True, "field 'category' must be a category name or a ClassLabel id (an integer 0..188), got True"),
}


@pytest.mark.parametrize("case", BAD_CATEGORIES)
@pytest.mark.parametrize("which", ["predictions", "references"])
def test_category_values_of_the_wrong_kind_are_errors(tmp_path, capsys, records, case, which):
    refs, preds = records
    value, message = BAD_CATEGORIES[case]
    if which == "predictions":
        preds[2]["category"] = value
    else:
        refs[2]["category"] = value
    pred_path, ref_path = _write(tmp_path / "p.jsonl", preds), _write(tmp_path / "r.jsonl", refs)
    code, _, err = _run(capsys, pred_path, ref_path)
    bad = pred_path if which == "predictions" else ref_path
    assert code == 2 and err.count("\n") == 1 and f"{bad}:3: {message}" in err


def test_names_outside_the_vocabulary(tmp_path, capsys, records):
    refs, preds = records
    preds[1]["category"], preds[4]["category"], preds[5]["category"] = "Car", "n02958343", None
    pred_path, ref_path = _write(tmp_path / "p.jsonl", preds), _write(tmp_path / "r.jsonl", refs)
    code, out, err = _run(capsys, pred_path, ref_path)
    result = json.loads(out)
    # In predictions: wrong classes (null silently so: "no class"), counted in one warning with a hint.
    assert code == 0 and result["warnings"] == [
        f"{pred_path}: 2 of 12 prediction(s) have a category that is not one of the 189 names and count as a wrong "
        "class (line 2: 'Car' (names are the lower-case folder names: 'car'))"]
    assert err.count("warning:") == 1
    perfect_but_three = 100.0 * sum(i % 2 == 1 for i in range(12) if i not in (1, 4, 5)) / 12
    assert result["overall"]["acc_pi6"] == pytest.approx(perfect_but_three)
    # The pose task does not read the predicted class: no warning.
    assert score_files(pred_path, ref_path, "pose")["warnings"] == []
    # In references: an error, with the hint.
    refs[3]["category"] = "n02958343"
    ref_path = _write(tmp_path / "r.jsonl", refs)
    code, _, err = _run(capsys, pred_path, ref_path, "pose")
    assert code == 2 and f"{ref_path}:4: unknown category 'n02958343' (a WordNet id" in err


def test_angles_in_degrees_are_warned_about(tmp_path, capsys, records):
    refs, preds = records
    degrees = [{**p, **{a: math.degrees(p[a]) for a in ANGLES}} for p in preds]
    pred_path, ref_path = _write(tmp_path / "p.jsonl", degrees), _write(tmp_path / "r.jsonl", refs)
    code, out, err = _run(capsys, pred_path, ref_path, "pose")
    (warning,) = json.loads(out)["warnings"]
    assert code == 0 and f"warning: {pred_path}: 12 of 12 prediction(s) have an angle beyond ±4π rad" in err
    assert "on line 1: are they in degrees?" in warning
    # References in degrees: the same warning, naming the references.
    result = score_files(_write(tmp_path / "p.jsonl", preds), _write(tmp_path / "rd.jsonl", degrees), "pose")
    assert len(result["warnings"]) == 1 and result["warnings"][0].startswith(f"{tmp_path / 'rd.jsonl'}: 12 of 12 ref")


def test_radians_unwrapped_by_a_turn_are_not_degrees(tmp_path, records):
    refs, preds = records
    turned = [{**r, "azimuth": r["azimuth"] + 2 * np.pi, "theta": r["theta"] - 2 * np.pi} for r in refs]
    turned[0].update(azimuth=4 * np.pi - 1e-9, elevation=float("nan"), theta=float("-inf"))
    result = score_files(_write(tmp_path / "p.jsonl", turned), _write(tmp_path / "r.jsonl", refs), "pose")
    assert result["warnings"] == []
    assert result["overall"]["acc_pi18"] == pytest.approx(100.0 * 11 / 12)  # the same poses, a turn apart


def test_in_memory_records_get_the_same_checks(records):
    refs, preds = records
    preds = [{**p, "category": CATEGORIES.index(p["category"]), "azimuth": 200.0} for p in preds]
    result = score_records(preds, refs, "joint")
    assert [w.split(":")[0] for w in result["warnings"]] == ["predictions", "predictions"]
    assert "on id 'img_0_é'" in result["warnings"][1]
    with pytest.raises(ImageNet3DError, match=r"^references: unknown category 'Car' \(names are the lower-case"):
        score_records(preds, [{**refs[0], "category": "Car"}] + refs[1:], "pose")
