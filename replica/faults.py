"""Fault modes of the replica server, switchable per run and per URL regex."""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

KINDS = ("status", "reset", "slow", "truncate", "not_found", "redirect_offhost", "redirect", "charset_label", "wrong_type",
         "oversize", "charset_lie", "empty", "endless", "maintenance", "correct", "unlink")
# Content changes rather than faults: the page is served, changed (a correction, a removal).
EDITS = ("correct", "unlink")


@dataclass
class Fault:
    """One fault: ``kind`` fires on paths matching ``pattern`` (re.search, path below the
    host) for the first ``times`` matching hits, or on every hit when ``times`` is None.

    Options by kind: ``status`` (status code, default 503), ``seconds`` (slow),
    ``size_mb`` (oversize; endless: the most it sends), ``with_length`` (truncate: declare
    the full Content-Length and close early, else send no Content-Length), ``body``
    (wrong_type: "pdf" or "jpg"). ``endless`` streams a page without Content-Length;
    ``maintenance`` answers 200 with a small "系统维护中" HTML page; ``redirect`` answers 302 to
    ``location`` (a path on this server: two such faults make a loop); ``charset_label`` serves
    the page with ``charset`` in its Content-Type header (any label, e.g. one naming no text
    encoding).

    Two kinds change content instead, on every matching hit (``times`` counts them too):
    ``correct`` replaces the text ``old`` by ``new`` in the page (an article corrected after
    publication: give its title or a sentence of its body), ``unlink`` removes from the page
    every link and image-map area whose href contains ``target`` (an article withdrawn from
    its page). ``since`` (epoch seconds, default: when the fault was made) is the changed
    page's Last-Modified, unless its file is newer.
    """

    kind: str
    pattern: str = ".*"
    times: int | None = None
    status: int = 503
    seconds: float = 5.0
    size_mb: float = 10.0
    with_length: bool = True
    body: str = "pdf"
    old: str = ""
    new: str = ""
    target: str = ""
    location: str = ""
    charset: str = ""
    since: float = field(default_factory=time.time, compare=False)
    hits: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.kind == "correct" and not self.old:
            raise ValueError("a correct fault needs the text to replace (old)")
        if self.kind == "unlink" and not self.target:
            raise ValueError("an unlink fault needs the href part to unlink (target)")
        self._re = re.compile(self.pattern)
        self._lock = threading.Lock()

    def take(self, path: str) -> bool:
        """True when this fault fires for this request (counts the hit)."""
        if not self._re.search(path):
            return False
        with self._lock:
            if self.times is not None and self.hits >= self.times:
                return False
            self.hits += 1
            return True

    def edit(self, body: bytes) -> bytes:
        """The page as changed by a ``correct`` or ``unlink`` fault."""
        if self.kind == "correct":
            for charset in ("utf-8", "gb18030"):
                old = self.old.encode(charset)
                if old in body:
                    return body.replace(old, self.new.encode(charset))
            return body
        href = re.escape(self.target.encode())
        body = re.sub(rb'(?is)<a\b[^>]*href=["\'][^"\']*' + href + rb'[^>]*>.*?</a>', b"", body)
        return re.sub(rb'(?i)<area\b[^>]*href=["\'][^"\']*' + href + rb'[^>]*>', b"", body)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("hits")
        return d


def load_faults(path: Path | str) -> list[Fault]:
    """Faults from a JSON file: a list of objects with the Fault fields."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("faults", [])
    return [Fault(**{k: v for k, v in item.items() if k != "hits"}) for item in data]


def dump_faults(faults: list[Fault], path: Path | str) -> None:
    Path(path).write_text(json.dumps([f.to_dict() for f in faults], indent=1), encoding="utf-8")
