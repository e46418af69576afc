"""User text files: UTF-8 with or without a BOM and UTF-16/32 with a BOM are read; anything else is one error
naming the file, the line and the column, never a UnicodeDecodeError."""

import codecs

import pytest

from modeling.utils.errors import ImageNet3DError
from modeling.utils.jsonl import iter_json_objects
from modeling.utils.textfile import decode_text, iter_lines, read_text

TEXT = '{"id": "a", "caption": "café ☕"}\n{"id": "b"}\n'

ENCODED = {
    "utf-8": TEXT.encode("utf-8"),
    "utf-8 BOM": codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    "utf-16 LE BOM (PowerShell >)": codecs.BOM_UTF16_LE + TEXT.replace("\n", "\r\n").encode("utf-16-le"),
    "utf-16 BE BOM": codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    "utf-32 LE BOM": codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
    "utf-32 BE BOM": codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"),
}


@pytest.mark.parametrize("encoding", ENCODED)
def test_accepted_encodings_read_the_same_text(tmp_path, encoding):
    path = tmp_path / "f.jsonl"
    path.write_bytes(ENCODED[encoding])
    assert read_text(path) == TEXT
    assert list(iter_lines(path)) == [(1, '{"id": "a", "caption": "café ☕"}'), (2, '{"id": "b"}')]
    assert list(iter_json_objects(path)) == [(1, {"id": "a", "caption": "café ☕"}), (2, {"id": "b"})]


def test_line_ends_are_universal(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"a\r\nb\rc\n\nd")
    assert list(iter_lines(path)) == [(1, "a"), (2, "b"), (3, "c"), (4, ""), (5, "d")]


def _error(tmp_path, data, name="bad.jsonl"):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImageNet3DError) as info:
        list(iter_json_objects(path))
    message = str(info.value)
    assert message.startswith(f"{path}:") and "\n" not in message
    return message


def test_a_latin1_byte_names_the_file_line_column_and_offset(tmp_path):
    message = _error(tmp_path, b'{"id": "a"}\n{"id": "caf\xe9"}\n')
    assert ":2: not UTF-8 text: byte 0xe9 at column 12 (byte offset 23)" in message
    assert "save the file as UTF-8" in message


def test_utf8_cut_inside_a_character(tmp_path):
    assert ":3: not UTF-8 text: bytes 0xe2 0x98 at column 9 (byte offset 18)" in _error(
        tmp_path, b'{"a": 1}\n\n{"id": "\xe2\x98')


def test_utf16_without_a_bom_is_refused_with_a_hint(tmp_path):
    message = _error(tmp_path, TEXT.encode("utf-16-le"))
    assert ":1: NUL character at column 2: UTF-16 or UTF-32 without a byte-order mark?" in message


def test_invalid_utf16_after_its_bom(tmp_path):
    lone_surrogate = codecs.BOM_UTF16_LE + '{"a": 1}\n'.encode("utf-16-le") + b"\x00\xd8"
    assert ":2: not valid UTF-16 LE (as its byte-order mark declares)" in _error(tmp_path, lone_surrogate)
    odd_length = codecs.BOM_UTF16_BE + '{"a": 1}\n{"b'.encode("utf-16-be") + b"\x00"
    message = _error(tmp_path, odd_length)
    assert ":2: not valid UTF-16 BE" in message and "column 4 (byte offset 26)" in message
    assert "truncated data" in message


def test_a_bom_inside_the_file_is_named(tmp_path):
    joined = codecs.BOM_UTF8 + b'{"a": 1}\n' + codecs.BOM_UTF8 + b'{"b": 2}\n'
    assert ":2: a byte-order mark inside the file" in _error(tmp_path, joined)


def test_files_read_later_as_plain_utf8_refuse_a_bom():
    with pytest.raises(ImageNet3DError, match=r"^config.json:1: starts with a UTF-16 LE byte-order mark"):
        decode_text(codecs.BOM_UTF16_LE + "{}".encode("utf-16-le"), "config.json", byte_order_mark=False)
    assert decode_text(b"{}", "config.json", byte_order_mark=False) == "{}"


def test_model_config_and_dataset_card_errors_name_the_file(tmp_path):
    from modeling.data.loading import built_configs
    from modeling.utils.model_folder import model_type_of

    (tmp_path / "config.json").write_bytes(codecs.BOM_UTF8 + b'{"model_type": "llava_pose"}')
    with pytest.raises(ImageNet3DError, match=r"config.json:1: starts with a UTF-8 byte-order mark"):
        model_type_of(tmp_path, ("llava_pose",), "a LLaVA-pose model")
    (tmp_path / "README.md").write_bytes(b"---\nconfigs: []\npretty_name: Caf\xe9\n---\n")
    with pytest.raises(ImageNet3DError, match=r"README.md:3: not UTF-8 text: byte 0xe9 at column 17"):
        built_configs(tmp_path)
