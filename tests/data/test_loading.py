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


def test_a_missing_config_names_the_card_what_needs_it_and_a_build_that_keeps_the_rest(small_dataset):
    """A build replaces the whole folder: the suggested command lists the configs the folder has, plus the one
    missing (advice of `--configs image` alone would have dropped pose and open_vocab)."""
    from modeling.data.loading import missing_config_error

    card = str(small_dataset / "README.md")
    with pytest.raises(ImageNet3DError) as error:
        load_split(small_dataset, "cad", "train", needed_by="drawing the CAD model")
    assert str(error.value).startswith(f"{card}: the dataset has no 'cad' config, which drawing the CAD model needs "
                                       "(it has pose, open_vocab)")
    assert f"`imagenet3d build RELEASE {small_dataset} --configs pose open_vocab cad`" in str(error.value)
    both = str(missing_config_error(small_dataset, "probe", "linear probing", alternatives=("pose",)))
    assert "has neither a 'probe' nor a 'pose' config, which linear probing needs" in both
    assert "--configs pose open_vocab probe`" in both
