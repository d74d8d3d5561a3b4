"""Extraction health of an issue date, and whether it departs from the archive's history.

Plain functions over plain data (no Scrapy): the snapshot pipeline summarises each date it
writes (`summarize`) into the snapshot's footer, and judges it (`judge`) against the
summaries of the archive's recent complete issues. A template change on the portal that
makes extraction quietly worse (authors all null, images gone, half the articles unfound,
bodies only from the largest-block fallback) then marks the date *suspect* instead of
passing as archived.

A summary (JSON, in the footer under "health")::

    {"articles": 50, "pages": 7, "articles_per_page": 7.143,
     "fields": {"intro_title": 0.3, "subtitle": 0.22, "author": 0.6, "images": 0.42, "captions": 0.3},
     "body_chars": {"p10": 310, "p50": 820, "p90": 1450},
     "sources": {"title": {"heading": 50}, "author": {"comment": 21, "fallback": 9, "none": 20}, ...}}

`fields` are shares of the date's articles having the field (captions: an image with a
caption); `sources` count the articles of this crawl by where the parser found each field
(`crawler.founder_article.field_sources`; "none": empty).
"""
from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

OPTIONAL_FIELDS = ("intro_title", "subtitle", "author", "images", "captions")
SOURCE_FIELDS = ("title", "intro_title", "subtitle", "author", "body", "images")


@dataclass(frozen=True)
class Thresholds:
    """When a date is suspect (settings HEALTH_*, config [health]; defaults in crawler/settings.py)."""

    history: int = 30  # recent complete issues a date is compared with
    min_history: int = 5  # fewer than this: no verdict
    field_drop: float = 0.25  # an optional field's share at most this times its usual share
    articles_per_page_drop: float = 0.5  # articles per page at most this times the usual
    body_chars_drop: float = 0.5  # median body length at most this times the usual
    fallback_rise: float = 0.5  # share of bodies from the largest-block fallback up by this much
    max_chance: float = 0.001  # a field's drop must be this unlikely by chance alone

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        values = {}
        for f in fields(cls):
            name = f"HEALTH_{f.name.upper()}"
            values[f.name] = settings.getint(name) if f.type == "int" else settings.getfloat(name)
        return cls(**values).checked()

    def checked(self) -> Thresholds:
        if self.history < 1 or self.min_history < 1:
            raise ValueError("HEALTH_HISTORY and HEALTH_MIN_HISTORY must be 1 or more")
        for name in ("field_drop", "articles_per_page_drop", "body_chars_drop", "fallback_rise", "max_chance"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"HEALTH_{name.upper()} must be between 0 and 1")
        return self


def _has(row: Mapping[str, Any], name: str) -> bool:
    if name == "images":
        return bool(row.get("images"))
    if name == "captions":
        return any(image.get("caption") for image in row.get("images") or [])
    return row.get(name) is not None


def _quantile(values: Sequence[int], q: float) -> int:
    """Nearest-rank quantile of sorted values (0 for none)."""
    if not values:
        return 0
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def summarize(articles: Sequence[Mapping[str, Any]], sources: Iterable[Mapping[str, Any]], pages: int) -> dict:
    """The extraction health of one date: its article rows (as archived), the field sources of
    the articles this crawl parsed, and its page count."""
    n = len(articles)
    lengths = sorted(len(row.get("body") or "") for row in articles)
    counts: dict[str, Counter] = {name: Counter() for name in SOURCE_FIELDS}
    for found in sources:
        for name in SOURCE_FIELDS:
            counts[name][found.get(name) or "none"] += 1
    return {
        "articles": n,
        "pages": pages,
        "articles_per_page": round(n / pages, 3) if pages else 0.0,
        "fields": {name: round(sum(_has(row, name) for row in articles) / n, 4) if n else 0.0
                   for name in OPTIONAL_FIELDS},
        "body_chars": {f"p{int(q * 100)}": _quantile(lengths, q) for q in (0.1, 0.5, 0.9)},
        "sources": {name: dict(sorted(c.items())) for name, c in counts.items() if c},
    }


def fallback_share(summary: Mapping[str, Any]) -> float | None:
    """Share of the parsed articles whose body came from the largest-block fallback."""
    body = (summary.get("sources") or {}).get("body") or {}
    total = sum(body.values())
    return body.get("fallback", 0) / total if total else None


def chance_at_most(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p): how likely k or fewer of n articles have a field filled
    in a share p of articles, by chance alone."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if k >= n else 0.0
    return min(1.0, sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(0, k + 1)))


def _pct(x: float) -> str:
    return f"{x:.0%}"


def judge(current: Mapping[str, Any], history: Sequence[Mapping[str, Any]],
          thresholds: Thresholds = Thresholds()) -> list[str]:
    """The sharp changes of `current` against `history` (the summaries of recent complete
    issues, newest first), one phrase each naming the field; [] when none or too little history.

    Each is measured against the median over the history, so one odd issue in it moves nothing.
    """
    history = [h for h in history[: thresholds.history] if h and h.get("articles")]
    if len(history) < thresholds.min_history:
        return []
    t, span = thresholds, f"median of the last {len(history)} issues"
    changes = []
    n = int(current.get("articles") or 0)
    now_fields = current.get("fields") or {}
    for name in OPTIONAL_FIELDS if n else ():
        usual = statistics.median(float((h.get("fields") or {}).get(name, 0.0)) for h in history)
        now = float(now_fields.get(name, 0.0))
        if usual > 0 and now <= usual * t.field_drop and chance_at_most(round(now * n), n, usual) < t.max_chance:
            changes.append(f"{name} in {_pct(now)} of articles ({span}: {_pct(usual)})")
    usual = statistics.median(float(h.get("articles_per_page") or 0.0) for h in history)
    now = float(current.get("articles_per_page") or 0.0)
    if usual > 0 and current.get("pages") and now <= usual * t.articles_per_page_drop:
        changes.append(f"articles per page {now:.1f} ({span}: {usual:.1f})")
    if n:
        usual = statistics.median(float((h.get("body_chars") or {}).get("p50", 0)) for h in history)
        now = float((current.get("body_chars") or {}).get("p50", 0))
        if usual > 0 and now <= usual * t.body_chars_drop:
            changes.append(f"body length: median {now:.0f} characters ({span}: {usual:.0f})")
    shares = [s for s in (fallback_share(h) for h in history) if s is not None]
    now_share = fallback_share(current)
    if shares and now_share is not None:
        usual = statistics.median(shares)
        if now_share - usual >= t.fallback_rise:
            changes.append(f"body from the largest-block fallback in {_pct(now_share)} of articles "
                           f"({span}: {_pct(usual)})")
    return changes
