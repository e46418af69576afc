"""Writing the build's Parquet shards, and the worker that builds one (category, split) unit.

This module is what a build's worker processes import: pyarrow and :mod:`modeling.data.rows`, not ``datasets``
(importing it takes seconds and ~130 MB per process). The parent (:mod:`modeling.data.build`) turns each shard
kind's ``datasets`` features into a :class:`ShardSpec`, the Arrow schema and the class-label indices, which is
all that encoding a row needs: every other value of a row is already what Arrow stores.

A unit's rows stream to disk in row groups of :data:`ROW_GROUP_SIZE` rows, so a worker's memory does not grow with
the release. A shard that reaches :data:`MAX_SHARD_BYTES` is closed and the unit goes on in a new file: a large
category becomes ``<category>-00000-<group>.parquet``, ``<category>-00001-<group>.parquet``, ... (the one-file name
``<category>-<group>.parquet`` otherwise), which sort in row order and keep the ``-known``/``-novel`` suffix the
configs select by.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dataset_card import KNOWN_CATEGORIES
from modeling.data.release import Release
from modeling.data.rows import SPLIT_NAMES, BuildOptions, BuildReport, iter_unit

ROW_GROUP_SIZE = 100
"""Rows per Parquet row group: ~100 images, what ``datasets`` uses for image columns (streaming-friendly)."""
MAX_SHARD_BYTES = 500 * 2**20
"""A shard is closed past this many bytes (about: checked after each row group): ``datasets``' ``MAX_SHARD_SIZE``
("500MB"), the size the Hub recommends for Parquet files of a dataset repository."""
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "version": "2.6", "use_dictionary": True,
                   "write_statistics": True}
_WORKER_RELEASES: dict[str, Release] = {}


@dataclass(frozen=True)
class ShardSpec:
    """What writing a shard kind needs: its Arrow ``schema`` and, per class-label column, name → index."""

    schema: pa.Schema
    class_labels: dict[str, dict[str, int]]

    def encode(self, row: dict) -> dict:
        """A row as Arrow takes it: class-label names become their indices (as ``Features.encode_example``)."""
        for column, index in self.class_labels.items():
            value = row.get(column)
            if isinstance(value, str):
                row[column] = index[value]
        return row


def group_of(category: str) -> str:
    """``known`` for the 63 known categories (Task 2), else ``novel``: the suffix of a category's shard names."""
    return "known" if category in KNOWN_CATEGORIES else "novel"


def shard_path(kind: str, split: str, category: str, part: int | None = None) -> str:
    """Release-independent path of a category's shard, relative to OUT (``part``: its number when split)."""
    number = "" if part is None else f"-{part:05d}"
    return f"data/{kind}/{split}/{category}{number}-{group_of(category)}.parquet"


def _release(source: str) -> Release:
    # One open release per process: a zip's index is built once, not per unit.
    if source not in _WORKER_RELEASES:
        _WORKER_RELEASES[source] = Release(source)
    return _WORKER_RELEASES[source]


class ShardWriter:
    """Rows → Parquet files of one shard kind, in row groups; a file is created on its first row.

    ``name(part)`` gives a file's path relative to ``root``: ``part`` is None while there is one file, then 0, 1,
    ... (the first file is renamed to part 0 when a second one starts).
    """

    def __init__(self, root: Path, name, spec: ShardSpec, max_bytes: int | None = None) -> None:
        self.root, self.name, self.spec = root, name, spec
        self.max_bytes = MAX_SHARD_BYTES if max_bytes is None else max_bytes
        self.rows: list[dict] = []
        self.files: dict[str, dict] = {}
        self._part: int | None = None
        self._writer: pq.ParquetWriter | None = None
        self._stats: dict = {}

    def add(self, row: dict) -> None:
        """Queue one row (encoded for the shard's schema); a full row group is written out."""
        self.rows.append(self.spec.encode(row))
        if len(self.rows) >= ROW_GROUP_SIZE:
            self._flush()

    def _path(self) -> Path:
        return self.root / self.name(self._part)

    def _flush(self) -> None:
        if not self.rows:
            return
        table = pa.Table.from_pylist(self.rows, schema=self.spec.schema)
        self.rows = []
        if self._writer is None:
            self._path().parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._path(), self.spec.schema, **PARQUET_OPTIONS)
            self._stats = {"rows": 0, "captioned": 0, "column_bytes": Counter()}
        self._writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
        self._stats["rows"] += table.num_rows
        if "has_caption" in table.column_names:
            self._stats["captioned"] += sum(table.column("has_caption").to_pylist())
        for name in table.column_names:
            self._stats["column_bytes"][name] += table.column(name).nbytes
        if self._path().stat().st_size >= self.max_bytes:
            self._close_file()
            if self._part is None:  # a second file starts: the first one becomes part 0
                first = self.name(None)
                self._part = 0
                (self.root / first).rename(self._path())
                self.files[self.name(0)] = self.files.pop(first)
            self._part += 1

    def _close_file(self) -> None:
        self._writer.close()
        self._writer = None
        self.files[self.name(self._part)] = {**self._stats, "column_bytes": dict(self._stats["column_bytes"]),
                                             "size": self._path().stat().st_size}

    def close(self) -> dict[str, dict]:
        """Finish; path (relative to the root) → stats of each file written (none when it got no row)."""
        self._flush()
        if self._writer is not None:
            self._close_file()
        return self.files


def build_unit(task: tuple) -> dict:
    """Worker: one category's official split → its pose and image shards. Returns stats and report.

    ``task`` is (source, category, split, options, captions, out, specs, max_bytes); ``specs`` maps a shard kind
    to its :class:`ShardSpec`.
    """
    source, category, split, options, captions, out, specs, max_bytes = task
    options: BuildOptions
    release = _release(source)
    report = BuildReport(strict=options.strict, where=release.where)
    hf_split = SPLIT_NAMES[split]
    writers = {kind: ShardWriter(Path(out), lambda part, kind=kind: shard_path(kind, hf_split, category, part),
                                 specs[kind], max_bytes)
               for kind, wanted in (("pose", options.pose), ("image", options.image)) if wanted}
    images = 0
    for result in iter_unit(release, category, split, options, report, captions):
        images += 1
        if "pose" in writers:
            for row in result.pose_rows:
                writers["pose"].add(row)
        if "image" in writers:
            writers["image"].add(result.image_row)
    files = {}
    for writer in writers.values():
        files.update(writer.close())
    return {"files": files, "report": report, "images": images}


def indexed_unit(item: tuple[int, tuple]) -> tuple[int, dict]:
    """:func:`build_unit` of ``item`` = (index, task), returned with its index (for a pool's unordered results)."""
    index, task = item
    return index, build_unit(task)
