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
    evidence: float = 8.0  # evidence summed over a run of issues that makes a date suspect
    issue_evidence: float = 4.0  # the most one issue adds (before the slack of 1): one issue never suffices

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        values = {}
        for f in fields(cls):
            name = f"HEALTH_{f.name.upper()}"
            values[f.name] = settings.getint(name) if f.type == "int" else settings.getfloat(name)
        return cls(**values).checked()

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong with its value) for each value out of its range."""
        out = [(name, "must be 1 or more") for name in ("history", "min_history") if getattr(self, name) < 1]
        if self.evidence <= 0:
            out.append(("evidence", "must be more than 0"))
        if self.issue_evidence <= SLACK:
            out.append(("issue_evidence", f"must be more than {SLACK:g}"))
        out += [(name, "must be between 0 and 1")
                for name in ("field_drop", "articles_per_page_drop", "body_chars_drop", "fallback_rise", "max_chance")
                if not 0 <= getattr(self, name) <= 1]
        return out

    def checked(self) -> Thresholds:
        for name, problem in self.problems():
            raise ValueError(f"HEALTH_{name.upper()} {problem}")
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


SLACK = 1.0  # evidence an issue must bring (in spreads of the usual) before it adds any


@dataclass(frozen=True)
class _Point:
    day: str | None  # ISO date, when known
    value: float
    n: int  # articles (or parsed bodies) the value is a share of; 0: not a share


def recent_history(pairs: Iterable[tuple[Any, Mapping[str, Any] | None]]) -> list[dict]:
    """`judge`'s history from (date, summary) pairs, newest first: each summary with its date, so
    that a drift is named by its first date. Pairs without a summary (an incomplete date, a
    footer from before health was kept) are left out."""
    out = []
    for day, summary in pairs:
        if summary:
            out.append({**summary, "date": day.isoformat() if hasattr(day, "isoformat") else str(day)})
    return out


def _series(entries: Sequence[Mapping[str, Any]], metric: str) -> list[_Point]:
    """One metric of each summary that has it, oldest first."""
    out = []
    for s in entries:
        n = int(s.get("articles") or 0)
        day = s.get("date")
        if metric in OPTIONAL_FIELDS:
            if n:
                out.append(_Point(day, float((s.get("fields") or {}).get(metric, 0.0)), n))
        elif metric == "articles_per_page":
            if s.get("pages"):
                out.append(_Point(day, float(s.get("articles_per_page") or 0.0), 0))
        elif metric == "body_chars":
            if n:
                out.append(_Point(day, float((s.get("body_chars") or {}).get("p50", 0)), 0))
        else:  # fallback
            share = fallback_share(s)
            if share is not None:
                out.append(_Point(day, share, sum(((s.get("sources") or {}).get("body") or {}).values())))
    return out


def _spread(values: Sequence[float], center: float) -> float:
    """The usual issue-to-issue variation: the median absolute deviation, scaled to a standard
    deviation (one odd issue in the history moves it little)."""
    return 1.4826 * statistics.median(abs(v - center) for v in values)


def _scores(base: Sequence[_Point], run: Sequence[_Point], metric: str, t: Thresholds) -> tuple[float, list[float]]:
    """The usual value (median of `base`) and the evidence of each run issue: HEALTH_ISSUE_EVIDENCE
    when the issue departs sharply by itself (`_departs`), else its departure from the usual in
    spreads of the usual, positive in the bad direction (fields, articles per page and body
    length down, the fallback up) and capped there, so that no single issue decides. The spread
    is at least what sampling alone gives (a share of n articles) or 5% of the usual."""
    center = statistics.median(p.value for p in base)
    spread = _spread([p.value for p in base], center)
    up = metric == "fallback"
    cap = t.issue_evidence
    scores = []
    for p in run:
        if _departs(metric, center, p, t):
            scores.append(cap)
            continue
        if p.n:
            q = min(max(center, 0.05), 0.95)
            floor = math.sqrt(q * (1 - q) / p.n)
        else:
            floor = 0.05 * abs(center)
        scale = max(spread, floor, 1e-9)
        z = (p.value - center if up else center - p.value) / scale
        scores.append(max(-cap, min(cap, z)))
    return center, scores


def _departs(metric: str, base_center: float, p: _Point, t: Thresholds) -> bool:
    """One issue beyond the HEALTH_*_DROP / _RISE ratio: where a run may start."""
    if metric in OPTIONAL_FIELDS:
        return p.value <= base_center * t.field_drop
    if metric == "articles_per_page":
        return p.value <= base_center * t.articles_per_page_drop
    if metric == "body_chars":
        return p.value <= base_center * t.body_chars_drop
    return p.value - base_center >= t.fallback_rise


def _sharp(metric: str, base_center: float, run: Sequence[_Point], t: Thresholds) -> bool:
    """The run as a whole departs sharply from the usual (the HEALTH_*_DROP / _RISE ratios), and
    for a field, more than chance alone explains over all the run's articles."""
    if metric in OPTIONAL_FIELDS:
        total = sum(p.n for p in run)
        have = round(sum(p.value * p.n for p in run))
        return (base_center > 0 and have <= base_center * t.field_drop * total
                and chance_at_most(have, total, base_center) < t.max_chance)
    level = statistics.median(p.value for p in run)
    if metric == "articles_per_page":
        return base_center > 0 and level <= base_center * t.articles_per_page_drop
    if metric == "body_chars":
        return base_center > 0 and level <= base_center * t.body_chars_drop
    return level - base_center >= t.fallback_rise


METRICS = OPTIONAL_FIELDS + ("articles_per_page", "body_chars", "fallback")


def _describe(metric: str, base_center: float, run: Sequence[_Point], base_len: int) -> str:
    first = run[0].day
    since = f"for {len(run)} issues since {first}" if first else f"for the last {len(run)} issues"
    usual = f"median of the {base_len} issues before"
    if metric in OPTIONAL_FIELDS:
        total = sum(p.n for p in run)
        share = sum(p.value * p.n for p in run) / total if total else 0.0
        return f"{metric} in {_pct(share)} of articles {since} ({usual}: {_pct(base_center)})"
    level = statistics.median(p.value for p in run)
    if metric == "articles_per_page":
        return f"articles per page {level:.1f} {since} ({usual}: {base_center:.1f})"
    if metric == "body_chars":
        return f"body length: median {level:.0f} characters {since} ({usual}: {base_center:.0f})"
    return (f"body from the largest-block fallback in {_pct(level)} of articles {since} "
            f"({usual}: {_pct(base_center)})")


def judge(current: Mapping[str, Any], history: Sequence[Mapping[str, Any]],
          thresholds: Thresholds = Thresholds(), *, day: Any = None) -> list[str]:
    """The changes that make `current` suspect against `history` (the summaries of the recent
    complete issues, newest first; `recent_history` adds their dates), one line each naming the
    measure, how long and since which date; [] when none or too little history. `day` is the
    current issue's date.

    A sequential test, so that evidence must survive natural variation: for each measure (each
    optional field's share, articles per page, median body length, the fallback's share) and
    each possible start of a run ending with this issue, the run's issues are compared with the
    issues before it: each issue's evidence (HEALTH_ISSUE_EVIDENCE when it departs sharply by the
    ratios below, else its departure from their median in their usual spread, capped there),
    less a slack of 1, summed over the run (a one-sided CUSUM). The
    date is suspect on a measure when that sum reaches HEALTH_EVIDENCE, the run as a whole
    departs sharply (the HEALTH_*_DROP / _RISE ratios; a field's share also beyond chance,
    HEALTH_MAX_CHANCE), its first issue departs sharply by that ratio itself, and this issue
    departs. Of such runs the one with the most evidence names the change. One odd issue never
    suffices; a drift that persists is named on its first date.
    """
    t = thresholds
    entries = [dict(h) for h in history[: t.history] if h][::-1]
    if len(entries) < t.min_history:
        return []
    now = dict(current)
    if day is not None and not now.get("date"):
        now["date"] = day.isoformat() if hasattr(day, "isoformat") else str(day)
    changes = []
    for metric in METRICS:
        series = _series(entries + [now], metric)
        if not _series([now], metric) or len(series) < t.min_history + 1:
            continue
        best: tuple[float, int, float] | None = None  # (evidence, run length, usual)
        for r in range(1, len(series) - t.min_history + 1):
            base, run = series[:-r], series[-r:]
            center, scores = _scores(base, run, metric, t)
            if scores[-1] <= SLACK:
                continue  # this issue itself is as usual against that history
            evidence = sum(z - SLACK for z in scores)
            if (evidence >= t.evidence and _departs(metric, center, run[0], t) and _sharp(metric, center, run, t)
                    and (best is None or evidence > best[0])):
                best = (evidence, r, center)
        if best is not None:
            _, r, center = best
            changes.append(_describe(metric, center, series[-r:], len(series) - r))
    return changes
