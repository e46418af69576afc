import imagenet3d
from dataset_card import META_CLASS_ABBREVIATIONS, META_CLASS_OF, NOVEL_CATEGORIES


def test_189_sorted_unique_categories():
    assert isinstance(imagenet3d.CATEGORIES, tuple)
    assert len(imagenet3d.CATEGORIES) == 189
    assert list(imagenet3d.CATEGORIES) == sorted(set(imagenet3d.CATEGORIES))
    assert {"aeroplane", "trolleybus", "air_hammer", "hovercraft", "yurt"} <= set(imagenet3d.CATEGORIES)


def test_meta_classes_partition_the_categories_with_the_papers_counts():
    counts = {name: len(cats) for name, cats in imagenet3d.META_CLASSES.items()}
    # The figure's approximate counts; our reconstruction matches them exactly.
    assert counts == {"Electronics": 34, "Furniture": 15, "Household": 52, "Music": 6, "Sports": 12,
                      "Transportation": 38, "Work": 32}
    members = [c for cats in imagenet3d.META_CLASSES.values() for c in cats]
    assert sorted(members) == list(imagenet3d.CATEGORIES)
    assert set(META_CLASS_ABBREVIATIONS) == set(imagenet3d.META_CLASSES)
    # Examples shown for each meta-class in the paper's figure.
    for meta, examples in {"Electronics": ["camera", "microwave", "projector", "megaphone", "printer"],
                           "Furniture": ["bed", "bench", "toilet", "highchair", "cabinet"],
                           "Household": ["salt_or_pepper_shaker", "fork", "pot", "shoe", "key"],
                           "Music": ["guitar", "french_horn", "piano", "violin", "sax"],
                           "Sports": ["barbell", "hockey_stick", "bowling_pin", "racket", "skateboard"],
                           "Transportation": ["segway", "forklift", "go_kart", "motorbike", "tricycle"],
                           "Work": ["erlenmeyer_flask", "hacksaw", "hammer", "hand_barrow", "scissors"]}.items():
        assert all(META_CLASS_OF[c] == meta for c in examples), meta


def test_open_vocabulary_split():
    assert len(imagenet3d.KNOWN_CATEGORIES) == 63
    assert set(imagenet3d.KNOWN_CATEGORIES) <= set(imagenet3d.CATEGORIES)
    assert len(NOVEL_CATEGORIES) == 126
    assert "chair" in NOVEL_CATEGORIES and "sofa" in NOVEL_CATEGORIES and "car" in imagenet3d.KNOWN_CATEGORIES
