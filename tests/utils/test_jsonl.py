"""The JSONL reader parses a whole file at once, yet reports exactly what a line-by-line reader reports."""

import pytest

from modeling.utils.errors import ImageNet3DError
from modeling.utils.jsonl import iter_json_objects


def _read(tmp_path, text):
    path = tmp_path / "f.jsonl"
    path.write_text(text, encoding="utf-8")
    return list(iter_json_objects(path))


def test_objects_come_with_their_line_numbers_blank_lines_skipped(tmp_path):
    assert _read(tmp_path, '{"a": 1}\n\n  {"b": NaN}\n{"c": "x, y"}\n') == [(1, {"a": 1}), (3, {"b": pytest.approx(
        float("nan"), nan_ok=True)}), (4, {"c": "x, y"})]


@pytest.mark.parametrize("text, line, message", [
    ('{"a": 1}\n{"a": [{}\n{}]}\n{"b": 1}, {"c": 2}\n', 2, "malformed JSON"),  # one line splits, two merge
    ('{"a": 1}\n{"b": "x\ny"}\n', 2, "malformed JSON"),  # a string across lines
    ('{"a": 1}\n[1, 2]\n', 2, "JSON object"),
    ('{"a": 1}\n\ufeff{"b": 2}\n', 2, "byte-order mark"),
    ('{"a": 1}\n{"b": 2},\n', 2, "malformed JSON"),
])
def test_a_bad_line_is_named_even_when_the_joined_lines_would_parse(tmp_path, text, line, message):
    with pytest.raises(ImageNet3DError, match=rf":{line}: .*{message}"):
        _read(tmp_path, text)


def test_a_line_that_writes_the_separator_is_read_line_by_line(tmp_path):
    text = '{"a": 1}\n{"s": "\\u001e"}\n{"b": 1}, "\\u001E", {"c": 2}\n'
    with pytest.raises(ImageNet3DError, match=r":3: .*malformed JSON"):
        _read(tmp_path, text)
    assert _read(tmp_path, '{"s": "\\u001e"}\n') == [(1, {"s": "\x1e"})]
