"""`epaper changes` diffs a corrected body in near-linear time: the common prefix and suffix are
trimmed first, and difflib (quadratic) only ever sees what fits MAX_CELLS. A 60,000-character
article took 44 s before."""
from __future__ import annotations

import difflib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import epaper.changes as changes
from epaper.changes import MAX_CELLS, body_edits, field_diff

random.seed(22)
WORDS = "".join(chr(0x4E00 + i) for i in range(300)) + "，。、"


def article(n: int) -> str:
    paragraphs, size = [], 0
    while size < n:
        p = "".join(random.choice(WORDS) for _ in range(random.randint(80, 400)))
        paragraphs.append(p)
        size += len(p) + 1
    return "\n".join(paragraphs)[:n]


@pytest.fixture
def bounded(monkeypatch):
    """difflib as changes uses it, refusing any input over MAX_CELLS (what made it quadratic)."""
    sizes = []

    class Bounded(difflib.SequenceMatcher):
        def __init__(self, isjunk=None, a="", b="", autojunk=True):
            sizes.append(len(a) * len(b))
            assert len(a) * len(b) <= MAX_CELLS, f"difflib handed {len(a):,} × {len(b):,}"
            super().__init__(isjunk, a, b, autojunk)

    monkeypatch.setattr(changes.difflib, "SequenceMatcher", Bounded)
    return sizes


def valid(old: str, new: str, edits) -> bool:
    """The edits turn old into new: between them, old and new agree."""
    i = j = 0
    for tag, i1, i2, j1, j2 in edits:
        if tag == "equal" or old[i:i1] != new[j:j1] or i1 < i or j1 < j:
            return False
        i, j = i2, j2
    return old[i:] == new[j:]


def test_a_corrected_long_article_is_diffed_on_what_changed(bounded):
    old = article(60_000)
    new = old[:30_000] + "更正" + old[30_002:]
    line = field_diff("body", old, new)
    assert line == f"body: +2 −2 characters, …{old[29_992:30_000]}[{old[30_000:30_002]}→更正]…"
    assert max(bounded) <= 4


@pytest.mark.parametrize("make_new", [
    lambda old: "首" + old[1:-1] + "尾",  # changed at both ends: nothing in common to trim
    lambda old: article(60_000),  # another article altogether
    lambda old: old.replace("\n", ""),  # paragraphs joined
    lambda old: old[::-1],
    lambda old: "",
])
def test_any_two_long_bodies_stay_within_the_bound(bounded, make_new):
    old = article(60_000)
    new = make_new(old)
    edits = body_edits(old, new)
    assert valid(old, new, edits)
    line = field_diff("body", old, new)
    assert line.startswith("body: +")


def test_repetitive_bodies_stay_within_the_bound(bounded):
    old, new = "ab" * 30_000 + "\n" + "x\n" * 5_000, "ba" * 30_000 + "\n" + "y\n" * 5_000
    assert valid(old, new, body_edits(old, new))


@given(st.text("ab\n改", max_size=120), st.text("ab\n改", max_size=120))
def test_the_edits_always_turn_old_into_new(old, new):
    edits = body_edits(old, new)
    assert valid(old, new, edits)
    assert (edits == []) is (old == new)


def test_an_unchanged_body_says_so():
    text = article(200)
    assert field_diff("body", text, text) == "body: unchanged"
