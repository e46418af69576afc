"""How a category is written in words: "an hourglass", "a TV monitor", "a pair of eyeglasses", "two knives".

The one home of an object's name in text: the template captions (``modeling/data/captions.py``) and the joint
task's answers (``processing_llava_pose.LlavaPoseProcessor.joint_answer``) both write it through this module, so
the model reads and writes one wording per category.

Hub custom code: ``processing_llava_pose.py`` imports this file relatively, so ``save_pretrained`` copies it next to
the weights; it imports only the standard library.
"""

from __future__ import annotations

_DISPLAY = {"tvmonitor": "TV monitor", "diningtable": "dining table", "go_kart": "go-kart",
            "salt_or_pepper_shaker": "salt or pepper shaker", "cellphone": "cell phone"}
_PAIRS = {"eyeglasses", "scissors"}
_PLURAL = {"knife": "knives", "bookshelf": "bookshelves", "mouse": "mice"}
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def category_words(category: str) -> str:
    """The category's name in words: tvmonitor → "TV monitor", hand_barrow → "hand barrow"."""
    return _DISPLAY.get(category, category.replace("_", " "))


def with_article(category: str) -> str:
    """One object of the category, with its article: "an hourglass", "a unicycle", "a pair of scissors"."""
    name = category_words(category)
    if category in _PAIRS:
        return f"a pair of {name}"
    first = name[:1].lower()
    vowel = first in ("a", "e", "i", "o") or (first == "u" and not name.lower().startswith(("uni", "use")))
    return f"{'an' if vowel or name.startswith('hour') else 'a'} {name}"


def counted(category: str, count: int) -> str:
    """``count`` (≥ 2) objects of the category: "two knives", "three pairs of eyeglasses", "four buses"."""
    name = category_words(category)
    number = _NUMBERS[count] if count < len(_NUMBERS) else str(count)
    if category in _PAIRS:
        return f"{number} pairs of {name}"
    if category in _PLURAL:
        return f"{number} {_PLURAL[category]}"
    if name.endswith(("s", "sh", "ch", "x")):
        return f"{number} {name}es"
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return f"{number} {name[:-1]}ies"
    return f"{number} {name}s"


__all__ = ["category_words", "counted", "with_article"]
