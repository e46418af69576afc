"""Reading text files given by users (predictions, references, captions): the one place that decodes them.

Accepted encodings, as JSON allows them (RFC 8259 §8.1; Python's ``json.detect_encoding``):

* UTF-8, with or without a byte-order mark (Notepad and some exporters write one);
* UTF-16 and UTF-32, little- or big-endian, **with** a byte-order mark (Windows PowerShell's ``>`` writes
  UTF-16 LE with a BOM).

Anything else is refused, never guessed: a byte that is not valid UTF-8 (a Latin-1 ``é`` on line 2) is an error
naming the file, the line, the column and the byte offset; a NUL character (UTF-16 or UTF-32 saved without a
byte-order mark reads as UTF-8 with NULs between the letters) is an error with that hint. Line ends are
universal, as in Python's text mode: ``\\n``, ``\\r\\n`` and ``\\r``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from modeling.utils.errors import ImageNet3DError, located

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one (a UTF-16 file cannot start with NUL anyway).
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)
_LINE_END = re.compile(r"\r\n|\r|\n")


def _encoding_of(data: bytes) -> tuple[int, str, str]:
    """(length of the byte-order mark, codec, name in words) of ``data``; UTF-8 without a mark."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return len(bom), codec, name
    return 0, "utf-8", "UTF-8"


def _position(text_before: str) -> tuple[int, int]:
    """(line, column), both 1-based, of the character that follows ``text_before``."""
    ends = list(_LINE_END.finditer(text_before))
    start = ends[-1].end() if ends else 0
    return len(ends) + 1, len(text_before) - start + 1


def decode_text(data: bytes, name: object, *, byte_order_mark: bool = True, errors: str = "strict") -> str:
    """The text of a user file's bytes, its byte-order mark removed and line ends as they are.

    ``name`` (the file) starts every error. Raises :class:`ImageNet3DError` naming ``name:line``, the column and
    the byte offset for bytes invalid in the file's encoding, and for a NUL character. ``byte_order_mark=False``
    is for files that another library reads after us as plain UTF-8 (a dataset card, a model's config.json):
    there a byte-order mark is an error rather than accepted here and refused later with a traceback.
    ``errors="replace"`` turns invalid bytes into U+FFFD instead (the release's list files, whose bad lines are
    counted skips naming the line rather than one error for the whole file).
    """
    bom, codec, label = _encoding_of(data)
    if bom and not byte_order_mark:
        raise located(name, f"starts with a {label} byte-order mark: save it as UTF-8 without one (the libraries "
                            "that read this file do not accept it)", 1)
    body = data[bom:]
    if errors != "strict":
        return body.decode(codec, errors=errors)
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as err:
        before = body[:err.start].decode(codec)  # valid up to the error
        if "\0" in before:  # UTF-16 without a mark fails as UTF-8 only at its first non-ASCII letter
            raise _nul_error(name, before, bom) from None
        line, column = _position(before)
        bad = body[err.start:err.end][:4]
        what = f"byte{'s' if len(bad) > 1 else ''} {' '.join(f'0x{b:02x}' for b in bad)}"
        where = f"at column {column} (byte offset {bom + err.start})"
        if bom:
            message = f"not valid {label} (as its byte-order mark declares): {what} {where}: {err.reason}"
        else:
            message = (f"not UTF-8 text: {what} {where}; save the file as UTF-8 (Latin-1 and other encodings are "
                       "not guessed; UTF-16 and UTF-32 need a byte-order mark)")
        raise located(name, message, line) from None
    if "\0" in text:
        raise _nul_error(name, text, bom)
    return text


def _nul_error(name: object, text: str, bom: int) -> ImageNet3DError:
    """The error for the first NUL character of ``text`` (JSON and our text files never hold one raw)."""
    line, column = _position(text[:text.index("\0")])
    hint = ": UTF-16 or UTF-32 without a byte-order mark? Save it as UTF-8" if not bom else ""
    return located(name, f"NUL character at column {column}{hint}", line)


def read_text(path: str | Path, *, byte_order_mark: bool = True) -> str:
    """The text of a user file (see the module docstring for the encodings), line ends turned into ``\\n``.

    A missing file raises ``FileNotFoundError`` (the CLI prints it as one line); an encoding error raises
    :class:`ImageNet3DError` naming the file and the line. ``byte_order_mark=False``: UTF-8 only, as
    :func:`decode_text` says.
    """
    text = decode_text(Path(path).read_bytes(), path, byte_order_mark=byte_order_mark)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a user text file, 1-based, without line ends (a last empty line is dropped)."""
    lines = read_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    yield from enumerate(lines, start=1)

