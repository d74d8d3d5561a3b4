"""Reference duplicate detection for the ground truth: exact Jaccard over character 5-grams.

Prefix filtering (rare shingles first) finds every pair with Jaccard >= 0.8 without comparing
all pairs; each candidate is then verified exactly, so the result equals the brute force.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from itertools import chain

SHINGLE = 5
NUM, DEN = 4, 5  # threshold 0.8 as an exact fraction
MIN_FUZZY_CHARS = 50  # shorter bodies count only when equal


def shingles(body: str) -> frozenset[str]:
    if len(body) < SHINGLE:
        return frozenset([body])
    return frozenset(body[i:i + SHINGLE] for i in range(len(body) - SHINGLE + 1))


def is_near(a: frozenset[str], b: frozenset[str]) -> bool:
    inter = len(a & b)
    return DEN * inter >= NUM * (len(a) + len(b) - inter)


def duplicate_of(bodies: list[str]) -> list[int | None]:
    """For bodies in archive order, the index of the earliest equal or near-equal body."""
    raw = [shingles(b) for b in bodies]
    seen: set[str] = set()
    shared: set[str] = set()  # shingles of two or more bodies
    for st in raw:
        shared |= st & seen
        seen |= st
    # A body's overlap with any other is at most its shared shingles: skip hopeless bodies.
    eligible = [len(b) >= MIN_FUZZY_CHARS and DEN * len(st & shared) >= NUM * len(st)
                for b, st in zip(bodies, raw)]
    freq = Counter(chain.from_iterable(st for st, ok in zip(raw, eligible) if ok))
    first_equal: dict[str, int] = {}
    index: dict[str, list[tuple[int, int]]] = defaultdict(list)
    sets: dict[int, list[str]] = {}
    out: list[int | None] = []
    for i, body in enumerate(bodies):
        best = first_equal.get(body)
        n = len(raw[i])
        if eligible[i]:
            x = sets[i] = sorted(raw[i], key=lambda s: (freq[s], s))  # rare first
            probe = n - (NUM * n + DEN - 1) // DEN + 1
            for j in sorted(_candidates(x[:probe], n, sets, index)):
                if best is not None and j >= best:
                    break
                if _near(x, raw[j]):
                    best = j
                    break
            # PPJoin indexes a shorter prefix: |x| - ceil(2t/(1+t)|x|) + 1
            mid = n - (2 * NUM * n + NUM + DEN - 1) // (NUM + DEN) + 1
            for pos in range(mid):
                index[x[pos]].append((i, pos))
        first_equal.setdefault(body, i)
        out.append(best)
    return out


def _near(x: list[str], y: frozenset[str]) -> bool:
    """Exact Jaccard >= t, giving up as soon as too many tokens of x are missing from y."""
    n, m = len(x), len(y)
    allowed = n - -(-NUM * (n + m) // (NUM + DEN))  # misses allowed at the minimum overlap
    misses = 0
    for tok in x:
        if tok not in y:
            misses += 1
            if misses > allowed:
                return False
    inter = n - misses
    return DEN * inter >= NUM * (n + m - inter)


def _candidates(prefix: list[str], n: int, sets: dict[int, list[str]],
                index: dict[str, list[tuple[int, int]]]) -> list[int]:
    """PPJoin: prefix plus size and positional filters; a superset of the true matches."""
    overlap: dict[int, int] = {}
    for pos, s in enumerate(prefix):
        for j, jpos in index.get(s, ()):
            have = overlap.get(j, 0)
            if have < 0:
                continue
            m = len(sets[j])
            if DEN * min(n, m) < NUM * max(n, m):
                overlap[j] = -1
                continue
            need = -(-NUM * (n + m) // (NUM + DEN))  # ceil(t / (1 + t) * (n + m))
            if have + 1 + min(n - pos - 1, m - jpos - 1) >= need:
                overlap[j] = have + 1
            else:
                overlap[j] = -1
    return [j for j, o in overlap.items() if o > 0]
