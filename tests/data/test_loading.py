"""Reading a built dataset: "known categories only" is one selection of `pose` rows, the `open_vocab` config's."""

from __future__ import annotations

import pytest

from dataset_card import CATEGORIES, KNOWN_CATEGORIES
from modeling.data.loading import load_pose_split, load_split
from modeling.utils.errors import ImageNet3DError


@pytest.mark.parametrize("split, group, open_vocab_split", [
    ("train", "known", "train"),
    ("validation", "known", "validation_known"),
    ("validation", "novel", "validation_novel"),
])
def test_category_groups_are_the_open_vocab_splits(small_dataset, split, group, open_vocab_split):
    rows = load_pose_split(small_dataset, split, group)
    assert len(rows) and list(rows["object_id"]) == list(load_split(small_dataset, "open_vocab",
                                                                       open_vocab_split)["object_id"])
    assert "bbox" in rows.column_names  # what open_vocab lacks and the joint prompt needs
    known = {CATEGORIES.index(name) for name in KNOWN_CATEGORIES}
    assert {c in known for c in rows["category"]} == {group == "known"}


def test_all_is_the_whole_pose_split_and_bad_groups_are_errors(small_dataset):
    everything = load_split(small_dataset, "pose", "train")
    assert list(load_pose_split(small_dataset, "train")["object_id"]) == list(everything["object_id"])
    with pytest.raises(ImageNet3DError, match="categories: expected one of all, known, novel"):
        load_pose_split(small_dataset, "train", "seen")
