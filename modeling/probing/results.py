"""Task 1 results kept across runs: one JSON line per ``imagenet3d probe`` run, appended to a results file.

Each line (:func:`result_record`) holds:

* ``date`` (UTC, ISO 8601), ``backbone`` (as given), ``backbone_kind`` (tiny, baseline, folder, hub),
  ``smoke_test`` (a built-in tiny random backbone: not a result), ``revision`` (the Hub commit) and
  ``weights_sha256`` (of a folder's weight files or a tiny backbone's tensors), ``readout`` (what was read);
* the selected head: ``variant``, ``layer_set``, ``layers`` (hidden-state indices), ``avgpool``, ``learning_rate``;
* its validation scores: ``acc_pi6``, ``acc_pi18`` (percent), ``median_error_deg``, ``mean_error_deg``,
  ``count``, and ``meta_classes`` (full name → the same statistics);
* ``dataset`` (the path), ``dataset_config`` (``probe``, or ``pose`` when the build has no ``probe`` config),
  ``dataset_fingerprint`` (:func:`modeling.probing.cache.dataset_fingerprint`);
* ``protocol`` (epochs, batch size, learning rates, layer sets, avgpool choices asked for and used, hflip,
  subsets, seed, objects, and ``official``: whether it is the official grid on the whole splits),
  ``features_reused`` (read from the cache) and ``out`` (the run's output folder).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from dataset_card import META_CLASSES
from modeling.utils.errors import located
from modeling.utils.jsonl import iter_json_objects, write_jsonl

METRICS = ("acc_pi6", "acc_pi18", "median_error_deg")
"""The statistics every line holds, overall and per meta-class."""
REQUIRED = ("backbone", "dataset_fingerprint", *METRICS, "count", "meta_classes")


def is_official_protocol(protocol: dict, official_rates: Sequence[float], layer_sets: Sequence[str]) -> bool:
    """Whether a run's ``protocol`` is the official one: 5 epochs, batch 128, the 13 learning rates, every layer
    set, avgpool off and on asked for (a backbone without a patch mean uses "off" only), hflip, the whole splits."""
    return (protocol["epochs"] == 5 and protocol["batch_size"] == 128 and protocol["hflip"]
            and sorted(protocol["learning_rates"]) == sorted(official_rates)
            and sorted(protocol["layer_sets"]) == sorted(layer_sets) and sorted(protocol["avgpool"]) == [False, True]
            and protocol["max_train"] is None and protocol["max_val"] is None)


def result_record(source_identity: dict, smoke_test: bool, readout: str, best: dict, result: dict, data: str | Path,
                  dataset_config: str, fingerprint: str, protocol: dict, features_reused: bool,
                  out: str | Path) -> dict:
    """One results line (module docstring) from the backbone's identity (``BackboneSource.identity``), the
    selected head ``best`` (variant, layer_set, layers, avgpool, learning_rate) and the scorer's ``result``."""
    overall = result["overall"]
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "backbone": source_identity["backbone"], "backbone_kind": source_identity["kind"], "smoke_test": smoke_test,
        "revision": source_identity["revision"], "weights_sha256": source_identity["weights_sha256"],
        "readout": readout,
        **{k: best[k] for k in ("variant", "layer_set", "layers", "avgpool", "learning_rate")},
        **{k: overall[k] for k in (*METRICS, "mean_error_deg", "count")},
        "meta_classes": result["meta_classes"],
        "dataset": str(data), "dataset_config": dataset_config, "dataset_fingerprint": fingerprint,
        "protocol": protocol, "features_reused": features_reused, "out": str(out),
    }


def append_result(path: str | Path, record: dict) -> Path:
    """Append one line to the results file ``path`` (created with its folder when missing); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as handle:
            handle.seek(-1, 2)
            unterminated = handle.read(1) != b"\n"
        if unterminated:  # a last line without its newline (edited by hand): end it, don't join the two
            with path.open("ab") as handle:
                handle.write(b"\n")
    return write_jsonl(path, [record], append=True)


def _number_or_null(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def read_results(path: str | Path) -> list[dict]:
    """The lines of a results file, checked: each needs ``backbone``, ``dataset_fingerprint``, the statistics
    (numbers or null) and ``meta_classes`` with the 7 meta-classes.

    Raises ImageNet3DError naming the file, the line and the field; or the file when it has no line.
    """
    path = Path(path)
    if not path.is_file():
        raise located(path, "results file not found (`imagenet3d probe ... --results FILE` writes one)")
    records = []
    for line, record in iter_json_objects(path):
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            raise located(path, f"missing field(s) {', '.join(missing)}", line)
        if not isinstance(record["backbone"], str) or not isinstance(record["dataset_fingerprint"], str):
            raise located(path, "fields backbone and dataset_fingerprint must be strings", line)
        metas = record["meta_classes"]
        if not isinstance(metas, dict) or set(metas) != set(META_CLASSES):
            raise located(path, f"field meta_classes must map the 7 meta-classes ({', '.join(META_CLASSES)}) to "
                                "their statistics", line)
        for where, block in (("", record), *((f"meta_classes.{m}.", metas[m]) for m in META_CLASSES)):
            if not isinstance(block, dict):
                raise located(path, f"field {where.rstrip('.')} must be an object", line)
            for key in (*METRICS, "count"):
                if not _number_or_null(block.get(key, "absent")):
                    raise located(path, f"field {where}{key} must be a number or null, got {block.get(key)!r}",
                                  line)
        records.append(record)
    if not records:
        raise located(path, "no results in the file")
    return records
