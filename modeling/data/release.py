"""Reading the official ImageNet3D release (a folder or the official zip) without trusting it.

The release is a tree (spec §1)::

    [imagenet3d_v1/]images/<category>/<image_id>.JPEG
                    annotations/<category>/<image_id>.npz    # key 'annotations': pickled object array of dicts
                    lists/<category>_imagenet_{train,val}.txt
                    CAD/<category>/<NN>.off

Two guards against a hostile or broken file live here, two more in the modules beside it:

* :func:`load_annotations` unpickles the npz with an unpickler that resolves only the exact numpy
  globals an object array of dicts needs; any other global (``os.system``, ``builtins.exec``...) is
  refused with an error naming the file, before anything runs. Non-object arrays are read with
  ``allow_pickle=False``.
* :class:`Release` refuses a zip with a member whose name is absolute, has a drive letter, a ``..``
  component or is a symbolic link (zip slip), and it never extracts anything to disk. Member names
  written with backslashes (some Windows tools) are read as ``/``-separated, after the same check.
  A file it cannot read (a corrupt or encrypted member, an I/O error, more than :data:`MAX_FILE_BYTES`)
  raises :class:`UnreadableFileError` naming it, which the build counts as a skip; a truncated zip is
  refused as a whole. :func:`image_too_large` reads an image's size from its header, so that a
  decompression bomb is refused before its pixels are allocated.
* :func:`~modeling.data.objects.check_object` validates every object and applies the official
  filter; :func:`~modeling.data.off.parse_off` checks CAD meshes (see those modules).
"""

from __future__ import annotations

import io
import pickle
import re
import stat
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.textfile import decode_text

SPLITS = ("train", "val")
"""The official splits, as the list files name them (``<category>_imagenet_<split>.txt``)."""
MAX_FILE_BYTES = 256 * 2**20
"""Bytes a file of the release may have (images and annotations are kilobytes to a few megabytes): a larger
one, or a zip member that claims to be larger, is refused before it is read into memory."""
MAX_IMAGE_PIXELS = 89_478_485
"""Pixels an image may have: Pillow's default bomb threshold (a quarter GiB as RGB), held here so that a
process that relaxed ``PIL.Image.MAX_IMAGE_PIXELS`` still refuses a bomb. ImageNet images are far smaller."""

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


# ---- the restricted unpickler --------------------------------------------------------------------------------


class UnsafePickleError(ImageNet3DError):
    """An annotation pickle names something other than the numpy globals of an array of dicts."""


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The only globals an annotation pickle may name: how numpy reduces arrays, dtypes and scalars.

    Files written by numpy 1.x name ``numpy.core.multiarray``, numpy 2.x ``numpy._core.multiarray``;
    both are mapped to this numpy's functions without importing the deprecated alias.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    return allowed


_ALLOWED_GLOBALS = _numpy_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only :data:`_ALLOWED_GLOBALS`; dicts, lists, tuples, str, bytes and numbers need no global."""

    def __init__(self, stream: io.BufferedIOBase, name: str) -> None:
        super().__init__(stream)
        self._name = name

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"{self._name}: refusing to unpickle {module}.{name}: annotation files may "
                                    "hold only dicts, lists, strings, numbers and numpy arrays") from None

    def persistent_load(self, pid: object) -> object:
        raise UnsafePickleError(f"{self._name}: refusing to unpickle a persistent id")


def _read_npy(raw: bytes, name: str) -> np.ndarray:
    """One .npy member: plain arrays through numpy with pickles disabled, object arrays through
    the restricted unpickler (the .npy body of an object array is a pickle of the whole array)."""
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        _, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        _, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise located(name, f"unsupported .npy format version {version}")
    if not dtype.hasobject:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    array = _RestrictedUnpickler(stream, name).load()
    if not isinstance(array, np.ndarray):
        raise located(name, f"expected a pickled numpy array, got {type(array).__name__}")
    return array


def load_npz(data: bytes, name: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` (bytes), unpickling object arrays with the restricted unpickler.

    ``name`` is used in errors. Raises :class:`ImageNet3DError` for a refused global and
    ``ValueError``/``zipfile.BadZipFile`` subclasses (wrapped as ImageNet3DError) for a corrupt file.
    """
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                arrays[info.filename[:-4]] = _read_npy(archive.read(info), name)
    except ImageNet3DError:
        raise
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, OSError) as err:
        raise located(name, f"corrupt npz ({type(err).__name__}: {err})") from None
    return arrays


def load_annotations(data: bytes, name: str) -> list:
    """The list of per-object entries under key ``annotations`` of an annotation npz (bytes).

    Entries are returned as found (normally dicts); :func:`check_object` validates each one.
    """
    arrays = load_npz(data, name)
    if "annotations" not in arrays:
        raise located(name, f"no 'annotations' array (keys: {sorted(arrays)})")
    return list(np.asarray(arrays["annotations"], dtype=object).reshape(-1))


# ---- the release tree ---------------------------------------------------------------------------------------


def check_member_name(name: str, archive: object) -> None:
    """Refuse zip members that would escape an extraction folder (zip slip)."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) or ".." in PurePosixPath(posix).parts:
        raise located(archive, f"refusing zip member {name!r}: absolute path or '..' (zip slip)")


class UnreadableFileError(ImageNet3DError):
    """A file of the release that cannot be read; ``reason`` is what the build report counts it under."""

    def __init__(self, where: str, reason: str, detail: str) -> None:
        super().__init__(f"{where}: {reason} ({detail})")
        self.reason, self.detail = reason, detail


def image_too_large(data: bytes) -> str | None:
    """Why an image must not be decoded, from its header alone, or None.

    Pillow reads only the header on open; an image whose header claims more than :data:`MAX_IMAGE_PIXELS`
    (or that Pillow itself refuses as a decompression bomb) is refused here, before any pixel is
    allocated. A header that cannot be read is left to the decoder, which reports it.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # handled here, below
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
    except Image.DecompressionBombError as err:
        return str(err)
    except Exception:  # noqa: BLE001 -- not an image at all: the decoder says so, with the same file
        return None
    if width * height > MAX_IMAGE_PIXELS:
        return (f"header says {width} x {height} = {width * height:,} pixels, more than {MAX_IMAGE_PIXELS:,} "
                "(decompression bomb guard)")
    return None


def is_safe_id(name: str) -> bool:
    """An image id or category name from a list file that cannot name a path outside its folder."""
    return bool(_SAFE_ID.match(name)) and ".." not in name


class Release:
    """Read-only access to a release in a folder or a zip (the official ``imagenet3d_v1.zip``).

    Paths are relative to the release root (the folder holding ``annotations/``), POSIX style, the
    same for a folder and a zip, so that build reports and outputs do not depend on the container.
    Picklable: a worker process reopens the zip itself.
    """

    def __init__(self, source: str | Path) -> None:
        self.source = Path(source)
        self._zip: zipfile.ZipFile | None = None
        if self.source.is_dir():
            self._root = self._find_folder_root(self.source)
            self._names: dict[str, str] | None = None
        elif zipfile.is_zipfile(self.source):
            self._names = self._index_zip()
        elif self._looks_like_a_zip():
            raise located(self.source, "truncated or corrupt zip file (its central directory, at the end, is "
                                       "missing or damaged): download or copy it again")
        elif self.source.exists():
            raise located(self.source, "not a folder and not a zip file")
        else:
            raise located(self.source, "no such file or folder")

    # -- opening --

    @staticmethod
    def _find_folder_root(folder: Path) -> Path:
        if (folder / "annotations").is_dir():
            return folder
        nested = [p for p in sorted(folder.iterdir()) if p.is_dir() and (p / "annotations").is_dir()]
        if len(nested) == 1:  # the extracted zip: <folder>/imagenet3d_v1/annotations
            return nested[0]
        raise located(folder, "no annotations/ folder: not a release in the official layout")

    def _looks_like_a_zip(self) -> bool:
        try:
            with self.source.open("rb") as handle:
                return handle.read(4) == b"PK\x03\x04" or self.source.suffix.lower() == ".zip"
        except OSError:
            return False

    def _open_zip(self) -> zipfile.ZipFile:
        if self._zip is None:
            try:
                self._zip = zipfile.ZipFile(self.source)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
                raise located(self.source, f"cannot open the zip file ({type(err).__name__}: {err})") from None
        return self._zip

    def _index_zip(self) -> dict[str, str]:
        """Relative path → member name, after checking every member name.

        Backslashes in member names are read as '/' (zip files made by some Windows tools), after
        :func:`check_member_name` refused any name that would escape the archive, so written either way.
        """
        archive = self._open_zip()
        members: dict[str, str] = {}
        self._sizes: dict[str, int] = {}
        for info in archive.infolist():
            check_member_name(info.filename, self.source)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise located(self.source, f"refusing zip member {info.filename!r}: symbolic link")
            name = info.filename.replace("\\", "/")
            if name.endswith("/"):
                continue  # a folder entry
            if name in members:
                raise located(self.source, f"zip members {members[name]!r} and {info.filename!r} name the same "
                                           "file (one written with backslashes)")
            members[name] = info.filename
            self._sizes[info.filename] = info.file_size
        prefixes = sorted({n[: n.index("annotations/")] for n in members
                           if n.startswith("annotations/") or "/annotations/" in n})
        prefixes = [p for p in prefixes if p == "" or p.count("/") == 1]
        if not prefixes:
            first = ", ".join(repr(n) for n in sorted(members)[:3]) or "none"
            raise located(self.source, "no annotations/ folder at the top of the zip or one folder down: not an "
                                       f"official release ({len(members)} file(s); first: {first})")
        if len(prefixes) > 1:
            raise located(self.source, "more than one annotations/ folder in the zip ("
                          + ", ".join(f"{p}annotations/" for p in prefixes) + "): cannot tell which is the release")
        prefix = prefixes[0]
        names = {n[len(prefix):]: member for n, member in members.items() if n.startswith(prefix)}
        self._folders = {path.rsplit("/", k)[0] for path in names for k in range(1, path.count("/") + 1)}
        return names

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_zip"] = None
        return state

    def where(self, path: str) -> str:
        """A release-relative path as the user can find it: under the folder, or ``<zip>/<member>``."""
        if self._names is not None:
            return f"{self.source}/{self._names.get(path, path)}"
        return str(self._root / path)

    def close(self) -> None:
        """Close the zip archive, if the release is one (a folder needs nothing)."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> Release:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --

    def files(self, folder: str) -> list[str]:
        """Relative paths of all files under ``folder`` (recursively), sorted."""
        prefix = folder.rstrip("/") + "/"
        if self._names is not None:
            return sorted(n for n in self._names if n.startswith(prefix))
        base = self._root / folder
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self._root).as_posix() for p in base.rglob("*") if p.is_file())

    def subfolders(self, folder: str) -> list[str]:
        """Names of the folders directly under ``folder``, sorted."""
        if self._names is not None:
            prefix = folder.rstrip("/") + "/"
            return sorted({n[len(prefix):].split("/", 1)[0] for n in self._names
                           if n.startswith(prefix) and "/" in n[len(prefix):]})
        base = self._root / folder
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def has_folder(self, folder: str) -> bool:
        """Whether the release has the folder ``folder`` (relative to the release root, '/'-separated)."""
        if self._names is not None:
            return folder.rstrip("/") in self._folders
        return (self._root / folder).is_dir()

    def exists(self, path: str) -> bool:
        """Whether the release holds the file ``path`` (relative to the release root, '/'-separated)."""
        if self._names is not None:
            return path in self._names
        return (self._root / path).is_file()

    def read(self, path: str) -> bytes | None:
        """The bytes of a file, or None when the release has no such file.

        Raises :class:`UnreadableFileError` (naming the file) for a file larger than :data:`MAX_FILE_BYTES`
        (checked before reading: a zip member's declared size bounds what zipfile returns) and for one that
        cannot be read: a corrupt, encrypted or unsupported zip member, an I/O error.
        """
        member = self._names.get(path) if self._names is not None else None
        full = self._root / path if self._names is None else None
        if member is None and (full is None or not full.is_file()):
            return None
        try:
            size = self._sizes[member] if member is not None else full.stat().st_size
            if size > MAX_FILE_BYTES:
                raise UnreadableFileError(self.where(path), "file too large",
                                          f"{size:,} bytes, more than {MAX_FILE_BYTES:,}")
            return self._open_zip().read(member) if member is not None else full.read_bytes()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as err:
            raise UnreadableFileError(self.where(path), "unreadable file",
                                      f"{type(err).__name__}: {err}") from None

    def categories(self) -> list[str]:
        """Every category name the release mentions: folders of images/, annotations/, CAD/ and list files."""
        names = set(self.subfolders("images")) | set(self.subfolders("annotations")) | set(self.subfolders("CAD"))
        for path in self.files("lists"):
            match = re.fullmatch(r"lists/(.+)_imagenet_(?:train|val)\.txt", path)
            if match:
                names.add(match.group(1))
        return sorted(names)

    def list_path(self, category: str, split: str) -> str:
        """The path of the list file of ``category`` and ``split`` ('train' or 'val'), relative to the root."""
        return f"lists/{category}_imagenet_{split}.txt"

    def list_entries(self, category: str, split: str) -> list[tuple[int, str]] | None:
        """(line number, image id) of a list file in file order, blank lines dropped; None when it is missing.

        Read as UTF-8 with or without a byte-order mark (or UTF-16/32 with one, as Windows editors save "Unicode"),
        with LF, CRLF or CR line ends; undecodable bytes become U+FFFD, so such an id is reported, not guessed.
        """
        data = self.read(self.list_path(category, split))
        if data is None:
            return None
        text = decode_text(data, self.list_path(category, split), errors="replace")
        return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]

    def list_ids(self, category: str, split: str) -> list[str] | None:
        """The image ids of a list file in file order (blank lines dropped), or None when it is missing."""
        entries = self.list_entries(category, split)
        return None if entries is None else [image_id for _, image_id in entries]

    def cad_paths(self, category: str) -> Iterator[tuple[int, str]]:
        """(cad_index, path) of the category's ``CAD/<category>/<NN>.off`` files, by index."""
        found = []
        for path in self.files(f"CAD/{category}"):
            match = re.fullmatch(rf"CAD/{re.escape(category)}/(\d+)\.off", path)
            if match:
                found.append((int(match.group(1)), path))
        yield from sorted(found)
