"""Benchmark of the duplicate index: `python -m bench.dedupe_bench`.

Goals (from the issue): per-article resolve cost at 500,000 archived articles within 1.5x of
the cost at 10,000; index memory at most 200 bytes per archived article; `DuplicateIndex.open`
of a 500,000-article sidecar under 5 seconds.

The 10,000-article archive is made of synthetic Chinese-ish bodies (1,000-2,000 characters,
Zipf-distributed words, stock openings, reprints and near-reprints) signed for real. The
500,000-article archive is the same 10,000 plus 490,000 precomputed signatures (random
MinHash bytes and band keys, i.e. bodies unrelated to everything): signing 490k real bodies
would take minutes. Every date gets a real (small) Parquet snapshot so that `open` runs its
staleness check over the same number of files as a real archive; the sidecar is written
directly and loaded with the real `DuplicateIndex.open`.
"""
from __future__ import annotations

import datetime as dt
import gc
import itertools
import random
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from epaper.storage import dedupe
from epaper.storage.dedupe import DuplicateIndex, content_hash

SMALL, LARGE = 10_000, 500_000
PER_DATE = 200  # articles per issue: 500k articles = 2,500 dates, ~7 years of a daily
QUERY_DATES, QUERY_PER_DATE = 5, 100
START = dt.date(2015, 1, 1)

_STOCK = ["本报讯（记者 {a}）", "新华社北京{m}月{d}日电（记者 {a}）", "本报记者 {a} 通讯员 {b}\n", ""]
_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴昊"]


class Corpus:
    """Synthetic news bodies: Zipf-distributed 1-4 character words, sentences, paragraphs."""

    def __init__(self, seed: int = 7) -> None:
        self.rnd = random.Random(seed)
        chars = [chr(c) for c in range(0x4E00, 0x4E00 + 3500)]
        self.words = ["".join(self.rnd.choice(chars) for _ in range(self.rnd.choice((1, 2, 2, 2, 3, 4))))
                      for _ in range(12_000)]
        self.cum_weights = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(self.words))))

    def sentence(self) -> str:
        n = self.rnd.randint(6, 18)
        words = self.rnd.choices(self.words, cum_weights=self.cum_weights, k=n)
        cut = self.rnd.randint(2, n - 2)
        return "".join(words[:cut]) + "，" + "".join(words[cut:]) + self.rnd.choice("。。。！；")

    def body(self) -> str:
        target = self.rnd.randint(1000, 2000)
        head = self.rnd.choice(_STOCK).format(a=self.rnd.choice(_NAMES), b=self.rnd.choice(_NAMES),
                                              m=self.rnd.randint(1, 12), d=self.rnd.randint(1, 28))
        paras, size = [], len(head)
        while size < target:
            para = "".join(self.sentence() for _ in range(self.rnd.randint(2, 5)))
            paras.append(para)
            size += len(para) + 1
        return head + "\n".join(paras)

    def near(self, body: str) -> str:
        """One sentence (~30 characters) rewritten somewhere in the body."""
        at = self.rnd.randint(len(body) // 4, len(body) // 2)
        return body[:at] + self.sentence() + body[at + 30:]


def article_id(day: dt.date, page: int, pos: int) -> str:
    # Founder-style ids are about this long (source, date, page file name).
    return f"rmrb-{day.isoformat()}-nw.D110000renmrb_{day:%Y%m%d}_{pos + 1}-{page + 1:02d}"


def place(i: int) -> tuple[dt.date, int, int]:
    day = START + dt.timedelta(days=i // PER_DATE)
    k = i % PER_DATE
    return day, k // 20, k % 20


def build_archive(data_dir: Path, n: int, real: list[tuple[np.ndarray, np.ndarray]], real_bodies: list[str],
                  query_keys: np.ndarray, background: float) -> None:
    """Write one small Parquet snapshot per date and the sidecar for n archived articles.

    len(real) articles carry real signatures, spread evenly over the dates; the others random
    ones. Real text is not unrelated to everything: the real part shows `background` band
    collisions per query and per 10,000 unrelated articles, so each query gets that many
    planted collisions per 10,000 random articles too (with signatures that then fail
    verification, as they do for real).
    """
    rng = np.random.default_rng(n)
    sig = rng.integers(0, 256, size=(n, dedupe.SIG_BYTES), dtype=np.uint8)
    keys = dedupe._band_keys(rng.integers(0, 2**32, size=(n, dedupe.BANDS), dtype=np.uint32))
    slots = np.linspace(0, n - 1, len(real)).astype(np.int64)
    free = np.setdiff1d(np.arange(n), slots)
    per_query = rng.poisson(background * len(free) / 10_000, size=len(query_keys))
    for qk, m in zip(query_keys, per_query):
        for row in rng.choice(free, size=min(m, len(free)), replace=False):
            j = rng.integers(dedupe.BANDS)
            keys[row, j] = qk[j]
    bodies = [""] * n
    for slot, (s, k), body in zip(slots, real, real_bodies):
        sig[slot], keys[slot], bodies[slot] = s, k, body
    order = np.empty(n, np.int64)
    ids: list[str] = []
    by_day: dict[dt.date, list[int]] = {}
    for i in range(n):
        day, page, pos = place(i)
        order[i] = dedupe.order_key(day, page, pos)
        ids.append(article_id(day, page, pos))
        by_day.setdefault(day, []).append(i)
    for day, rows in by_day.items():
        folder = data_dir / "articles" / f"issue_date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({
            "article_id": [ids[i] for i in rows],
            "body": [bodies[i] for i in rows],
            "page_index": pa.array([place(i)[1] for i in rows], pa.int16()),
            "position": pa.array([place(i)[2] for i in rows], pa.int16()),
        }), folder / "part-0.parquet")
    encoded = [s.encode() for s in ids]
    idoff = np.zeros(n + 1, np.uint32)
    np.cumsum([len(b) for b in encoded], out=idoff[1:])
    index = DuplicateIndex(data_dir, "ahjjb")
    index._install(order, sig, keys, np.frombuffer(b"".join(encoded), np.uint8).copy(), idoff)
    index._manifest = {day.isoformat(): dedupe._fingerprint(data_dir / "articles" / f"issue_date={day.isoformat()}")
                       for day in by_day}
    index._save()


def make_queries(corpus: Corpus, archived: list[str]) -> tuple[list[list[dict]], list[str]]:
    """QUERY_DATES issues of QUERY_PER_DATE articles: a third reprints, a third near-reprints, a third new."""
    kinds, dates = [], []
    for d in range(QUERY_DATES):
        rows = []
        for k in range(QUERY_PER_DATE):
            kind = ("reprint", "near", "new")[k % 3]
            src = corpus.rnd.choice(archived)
            body = src if kind == "reprint" else corpus.near(src) if kind == "near" else corpus.body()
            rows.append({"article_id": f"query-{d}-{k}", "body": body, "content_hash": content_hash(body),
                         "page_index": k // 20, "position": k % 20})
            kinds.append(kind)
        dates.append(rows)
    return dates, kinds


def time_resolve(index: DuplicateIndex, queries: list[list[dict]], first_day: dt.date, reps: int = 3) -> tuple[float, list[Any]]:
    """Best-of-reps seconds per article of resolve(), and the duplicate_of values."""
    best, out = float("inf"), []
    for rep in range(reps):
        copies = [[dict(r) for r in rows] for rows in queries]
        t = time.perf_counter()
        for d, rows in enumerate(copies):
            index.resolve(first_day + dt.timedelta(days=d), rows)
        best = min(best, (time.perf_counter() - t) / sum(map(len, copies)))
        out = [r["duplicate_of"] for rows in copies for r in rows]
    return best, out


def time_lookup(index: DuplicateIndex, sigs: list[tuple[int, np.ndarray, np.ndarray, bool]], reps: int = 3) -> float:
    """Best-of-reps seconds per article of the candidate lookup and verification alone."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        for order, s, k, short in sigs:
            index._best_match(order, s, k, short, "")
        best = min(best, (time.perf_counter() - t) / len(sigs))
    return best


def run() -> list[dict]:
    t0 = time.perf_counter()
    corpus = Corpus()
    n_real = SMALL
    bodies: list[str] = []
    for i in range(n_real):
        # ~3% of the archive are themselves reprints or near-reprints of earlier articles
        r = corpus.rnd.random()
        bodies.append(bodies[corpus.rnd.randrange(len(bodies))] if r < 0.015 and bodies
                      else corpus.near(bodies[corpus.rnd.randrange(len(bodies))]) if r < 0.03 and bodies
                      else corpus.body())
    real = [dedupe.signature(b) for b in bodies]
    queries, kinds = make_queries(corpus, bodies)
    query_keys = np.stack([dedupe.signature(r["body"])[1] for rows in queries for r in rows])
    # Band collisions of the new (unrelated) queries with the real archive, per 10k articles.
    real_keys = np.stack([k for _, k in real])
    new_keys = query_keys[[k == "new" for k in kinds]]
    background = float(np.mean([np.isin(real_keys, q).any(axis=1).sum() for q in new_keys])) * 10_000 / len(real)
    results: dict[int, dict[str, Any]] = {}
    indexes: dict[int, DuplicateIndex] = {}
    with tempfile.TemporaryDirectory(prefix="dedupe-bench-") as tmp:
        for n in (SMALL, LARGE):
            data_dir = Path(tmp) / f"n{n}"
            build_archive(data_dir, n, real, bodies, query_keys, background)
            gc.collect()
            tracemalloc.start()
            index = DuplicateIndex.open(data_dir, "ahjjb")
            traced, _peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            nbytes = index.nbytes()
            del index
            gc.collect()
            loads = []
            for _ in range(3):
                t = time.perf_counter()
                index = DuplicateIndex.open(data_dir, "ahjjb")
                loads.append(time.perf_counter() - t)
                assert len(index) == n and not index._changed, "bench sidecar was rebuilt instead of loaded"
            indexes[n] = index
            results[n] = {"resolve": float("inf"), "lookup": float("inf"), "load": min(loads),
                          "traced": traced / n, "nbytes": nbytes / n}
        # The machine is shared: alternate the two sizes and keep the best of each.
        for _round in range(4):
            for n, index in indexes.items():
                after = START + dt.timedelta(days=n // PER_DATE + 1)
                per_article, dups = time_resolve(index, queries, after, reps=1)
                sigs = [(dedupe.order_key(after, 0, 0), *dedupe.signature(r["body"]), len(r["body"]) < 50)
                        for rows in queries for r in rows]
                res = results[n]
                res["resolve"] = min(res["resolve"], per_article)
                res["lookup"] = min(res["lookup"], time_lookup(index, sigs, reps=2))
                res["flagged"] = {k: sum(1 for kind, d in zip(kinds, dups) if kind == k and d is not None)
                                  / kinds.count(k) for k in ("reprint", "near", "new")}
        # A commit rewrites the sidecar: measure it once at 500k, after a date and its snapshot.
        index = indexes[LARGE]
        day = START + dt.timedelta(days=LARGE // PER_DATE + 100)
        rows = [dict(r) for r in queries[0]]
        index.resolve(day, rows)
        folder = Path(tmp) / f"n{LARGE}" / "articles" / f"issue_date={day.isoformat()}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({k: [r[k] for r in rows] for k in ("article_id", "body", "page_index", "position")}),
                       folder / "part-0.parquet")
        t = time.perf_counter()
        index.commit()
        results[LARGE]["commit"] = time.perf_counter() - t
        results[LARGE]["sidecar"] = index.sidecar_path.stat().st_size / LARGE
        indexes.clear()
    small, large = results[SMALL], results[LARGE]
    ratio = large["resolve"] / small["resolve"]
    lratio = large["lookup"] / small["lookup"]
    rows = [
        {"name": "dedupe: resolve per article @10k (ms)", "value": round(small["resolve"] * 1e3, 3), "goal": "-", "ok": True},
        {"name": "dedupe: resolve per article @500k (ms)", "value": round(large["resolve"] * 1e3, 3), "goal": "-", "ok": True},
        {"name": "dedupe: resolve cost ratio 500k/10k", "value": round(ratio, 2), "goal": "<= 1.5", "ok": ratio <= 1.5},
        {"name": "dedupe: background band collisions per query per 10k articles", "value": round(background, 2),
         "goal": "-", "ok": True},
        {"name": "dedupe: lookup only per article @10k (us)", "value": round(small["lookup"] * 1e6, 1), "goal": "-", "ok": True},
        {"name": "dedupe: lookup only per article @500k (us)", "value": round(large["lookup"] * 1e6, 1), "goal": "-", "ok": True},
        # Info: the 500k lookup verifies ~18 chance band collisions (vectorized), the 10k one ~0.4.
        {"name": "dedupe: lookup only ratio 500k/10k (info)", "value": round(lratio, 2), "goal": "-", "ok": True},
        {"name": "dedupe: commit of one date @500k (s)", "value": round(large["commit"], 2), "goal": "-", "ok": True},
        {"name": "dedupe: sidecar size per article @500k (B)", "value": round(large["sidecar"], 1), "goal": "-", "ok": True},
        {"name": "dedupe: index memory per article @500k (B, tracemalloc)", "value": round(large["traced"], 1),
         "goal": "<= 200", "ok": large["traced"] <= 200},
        {"name": "dedupe: index arrays per article @500k (B, nbytes)", "value": round(large["nbytes"], 1),
         "goal": "<= 200", "ok": large["nbytes"] <= 200},
        {"name": "dedupe: DuplicateIndex.open @500k (s)", "value": round(large["load"], 2), "goal": "< 5", "ok": large["load"] < 5},
        {"name": "dedupe: reprints flagged", "value": round(large["flagged"]["reprint"], 3), "goal": "1.0",
         "ok": large["flagged"]["reprint"] == 1.0 and small["flagged"]["reprint"] == 1.0},
        {"name": "dedupe: near-reprints flagged", "value": round(large["flagged"]["near"], 3), "goal": ">= 0.98",
         "ok": min(large["flagged"]["near"], small["flagged"]["near"]) >= 0.98},
        {"name": "dedupe: new articles flagged (false positives)", "value": round(large["flagged"]["new"], 3),
         "goal": "0.0", "ok": large["flagged"]["new"] == 0.0 and small["flagged"]["new"] == 0.0},
        {"name": "dedupe: bench wall time (s)", "value": round(time.perf_counter() - t0, 1), "goal": "< 180",
         "ok": time.perf_counter() - t0 < 180},
    ]
    return rows


def main() -> None:
    rows = run()
    width = max(len(r["name"]) for r in rows)
    print(f"{'benchmark':<{width}}  {'value':>10}  {'goal':>8}  ok")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['value']!s:>10}  {r['goal']:>8}  {'yes' if r['ok'] else 'NO'}")


if __name__ == "__main__":
    main()
