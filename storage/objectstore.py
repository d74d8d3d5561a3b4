"""The archive on an S3-compatible object store (`--data s3://bucket/prefix`). No Scrapy imports.

A command works on a local working copy of the root (`storage.cache_dir`), in the very layout
of a local archive, so that every rule of the archive (atomic snapshots, never less,
revisions, the dedupe index) stays the one tested code; this module moves whole files between
that copy and the store:

- `WorkingCopy.pull` brings the objects under some prefixes into the copy (only those whose
  ETag differs from the copy's: a cache kept between runs costs one LIST per 1,000 objects);
- `WorkingCopy.publish` puts each changed file under its final key in one PUT (a single
  `put_object`, never a multipart upload nor a copy-then-rename: the store shows the object
  whole or not at all); a date's snapshot keeps its fixed key and is replaced by that one PUT;
  a WARC object is only ever added (`If-None-Match: *`: an existing one is never overwritten);
- the files a date's write touches are published in the order the local write makes them
  (its WARC files, pages, revisions, articles), so a reader never finds rows naming a WARC
  object that is not there.

What belongs to one machine stays in the copy only: logs, temp files, the local lock, the
metrics file and the local run log (each run's line is published as `runs/parts/<run_id>.json`:
an object cannot be appended to).

The client is boto3: it reads the standard AWS variables itself (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`) and has the conditional writes
the lease (`storage.lease`) needs.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEME = "s3://"
# bucket names: 3-63 of [a-z0-9.-] (S3's rule, which also rules out anything a path could misread)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MANIFEST = ".objectstore"  # in the working copy: what it holds of the store (key -> etag, size, mtime)
RUN_PARTS = "runs/parts"  # one object per run's line (`storage.runs.read_runs` reads them)
# The order a date's files are written locally, and so published (WARC before the rows naming it).
ORDER = ("warc", "pages", "revisions", "articles", "index", "compact")


class StoreError(OSError):
    """The store could not be reached or refused a request; `str()` is one readable line."""


class ObjectExists(StoreError):
    """A conditional write found the object there (If-None-Match) or changed (If-Match)."""


def is_s3(text: object) -> bool:
    return isinstance(text, str) and text.startswith(SCHEME)


@dataclass(frozen=True)
class S3Url:
    bucket: str
    prefix: str  # "" or "a/b" (no slash at either end)

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def rel(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"


def parse_s3(text: str) -> S3Url:
    """`s3://bucket[/prefix]`; ValueError (one line) for anything else."""
    if not is_s3(text):
        raise ValueError(f"not an s3:// URL: {text!r}")
    bucket, _, prefix = text[len(SCHEME):].partition("/")
    prefix = prefix.strip("/")
    if not _BUCKET.match(bucket):
        raise ValueError(f"not a bucket name in {text!r}: {bucket!r} (3-63 of a-z, 0-9, '.', '-')")
    parts = prefix.split("/") if prefix else []
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise ValueError(f"not a usable prefix in {text!r}: no empty, '.', '..' or hidden part")
    return S3Url(bucket, prefix)


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "epaper"


def local_dir(url: S3Url, cache_dir: str | Path | None = None, role: str = "work") -> Path:
    """The working copy of `url`: `<cache_dir>/s3-<role>/<endpoint host>/<bucket>/<prefix>`
    (role "work" for the writers, under their local lock; "read" for the readers)."""
    from urllib.parse import urlsplit

    host = urlsplit(os.environ.get("AWS_ENDPOINT_URL") or "").netloc or "aws"
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return base / f"s3-{role}" / re.sub(r"[^A-Za-z0-9.-]", "_", host) / url.bucket / url.prefix


@dataclass
class Counters:
    """What was asked of the store (every HTTP request, retries included) and the bytes moved."""

    requests: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    by_operation: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "bytes_up": self.bytes_up, "bytes_down": self.bytes_down,
                "by_operation": dict(self.by_operation or {})}


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class Store:
    """One S3 root through boto3; keys are given relative to the root's prefix."""

    def __init__(self, url: S3Url | str, client: Any = None):
        self.url = parse_s3(url) if isinstance(url, str) else url
        self.counters = Counters(by_operation={})
        self._lock = threading.Lock()
        if client is None:
            try:
                import boto3
                from botocore.config import Config as BotoConfig
            except ImportError:
                raise StoreError("an s3:// archive needs boto3: pip install 'epaper[s3]'") from None
            # path style: every S3-compatible store answers it (MinIO, Ceph, moto, R2, ...)
            client = boto3.client("s3", config=BotoConfig(s3={"addressing_style": "path"},
                                                          retries={"max_attempts": 5, "mode": "standard"}))
        self.client = client
        client.meta.events.register("before-send.s3", self._sent)

    def _sent(self, request: Any = None, **kwargs: Any) -> None:
        operation = kwargs.get("event_name", "").rpartition(".")[2] or "?"
        with self._lock:
            self.counters.requests += 1
            ops = self.counters.by_operation
            assert ops is not None
            ops[operation] = ops.get(operation, 0) + 1

    def _call(self, what: str, rel: str, fn, **kwargs) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.url.bucket, **kwargs)
        except ClientError as exc:
            code = _code(exc)
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise ObjectExists(f"{self.url.key(rel)}: {code}") from None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(f"{self.url}/{rel}") from None
            raise StoreError(f"{self.url}: {what} {rel or '/'} failed: {code or exc}") from None
        except BotoCoreError as exc:  # no endpoint, no credentials, connection refused
            raise StoreError(f"{self.url}: {what} failed: {exc}") from None

    def list(self, rel_prefix: str = "") -> dict[str, tuple[str, int]]:
        """{rel: (etag, size)} of every object under `rel_prefix`."""
        out: dict[str, tuple[str, int]] = {}
        token = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": self.url.key(rel_prefix) if rel_prefix else
                                      (self.url.prefix + "/" if self.url.prefix else "")}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list", rel_prefix, self.client.list_objects_v2, **kwargs)
            for obj in page.get("Contents", []):
                out[self.url.rel(obj["Key"])] = (obj["ETag"], obj["Size"])
            if not page.get("IsTruncated"):
                return out
            token = page["NextContinuationToken"]

    def get_bytes(self, rel: str) -> tuple[bytes, str]:
        """(body, etag); FileNotFoundError when absent."""
        answer = self._call("get", rel, self.client.get_object, Key=self.url.key(rel))
        body = answer["Body"].read()
        with self._lock:
            self.counters.bytes_down += len(body)
        return body, answer["ETag"]

    def put_bytes(self, rel: str, body: bytes, *, create_only: bool = False, if_match: str | None = None) -> str:
        """One PUT of the whole object; `create_only`: If-None-Match "*", `if_match`: If-Match
        (ObjectExists when the condition fails). Returns the new ETag."""
        kwargs: dict[str, Any] = {"Key": self.url.key(rel), "Body": body}
        if create_only:
            kwargs["IfNoneMatch"] = "*"
        if if_match:
            kwargs["IfMatch"] = if_match
        with self._lock:
            self.counters.bytes_up += len(body)
        return self._call("put", rel, self.client.put_object, **kwargs)["ETag"]

    def delete(self, rel: str) -> None:
        self._call("delete", rel, self.client.delete_object, Key=self.url.key(rel))

    def check(self) -> None:
        """StoreError (one line) when the bucket cannot be reached."""
        self._call("reach", "", self.client.head_bucket)


# ------------------------------------------------------------------ the working copy


def _order(rel: str) -> tuple[int, str]:
    top = rel.split("/", 1)[0]
    return (ORDER.index(top) if top in ORDER else len(ORDER)), rel


def _scope(rel: str) -> str:
    """The paper a key belongs to (its `source=ID` folder), else "_shared"."""
    for part in rel.split("/"):
        if part.startswith("source="):
            return part.partition("=")[2].removesuffix(".json")
    return "_shared"


def _hidden(rel: str) -> bool:
    """Temp files and scratch (a leading dot in any part) never leave the machine."""
    return any(part.startswith(".") for part in rel.split("/"))


class WorkingCopy:
    """The local copy (`local`) of an S3 root, with what it holds of the store in a manifest
    (rel -> [etag, size, mtime_ns]): a file whose size or mtime differs was written here since.
    `publishing` is called before each PUT and DELETE (the lease's check that it is still held)."""

    def __init__(self, store: Store, local: Path, publishing=None):
        self.store = store
        self.local = Path(local)
        self.local.mkdir(parents=True, exist_ok=True)
        self.publishing = publishing or (lambda: None)
        self.dirty: dict[str, list | None] = {}  # changed since the last save (None: removed)
        self.manifest: dict[str, list] = self._read_manifest()
        self.pulled: set[str] = set()  # prefixes pulled in this process (deletions are judged under them)

    @classmethod
    def open(cls, url: str, cache_dir: str | Path | None = None, role: str = "work") -> WorkingCopy:
        parsed = parse_s3(url)
        return cls(Store(parsed), local_dir(parsed, cache_dir, role))

    # The manifest is a file per paper (`.objectstore/<id>.json`, the rest in `_shared.json`):
    # the child crawls of `epaper update` run the papers side by side on one copy, each writing
    # only its paper's file; a save re-reads the file and lays this process's changes over it.

    def _scope_file(self, scope: str) -> Path:
        return self.local / MANIFEST / f"{scope}.json"

    def _read_manifest(self) -> dict[str, list]:
        out: dict[str, list] = {}
        folder = self.local / MANIFEST
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            out.update(self._read_scope(path))
        return out

    @staticmethod
    def _read_scope(path: Path) -> dict[str, list]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _set(self, rel: str, entry: list | None) -> None:
        if entry is None:
            self.manifest.pop(rel, None)
        else:
            self.manifest[rel] = entry
        self.dirty[rel] = entry

    def _save_manifest(self) -> None:
        scopes: dict[str, dict[str, list | None]] = {}
        for rel, entry in self.dirty.items():
            scopes.setdefault(_scope(rel), {})[rel] = entry
        for scope, changes in scopes.items():
            path = self._scope_file(scope)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = self._read_scope(path)
            for rel, entry in changes.items():
                if entry is None:
                    data.pop(rel, None)
                else:
                    data[rel] = entry
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
            tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
        self.dirty.clear()

    def _stat(self, rel: str) -> list | None:
        try:
            info = (self.local / rel).stat()
        except OSError:
            return None
        return [info.st_size, info.st_mtime_ns]

    def changed(self, rel: str) -> bool:
        """Whether the local file differs from what the store holds (as far as this copy knows)."""
        now = self._stat(rel)
        known = self.manifest.get(rel)
        return now is not None and (known is None or known[1:] != now)

    # -------------------------------------------------------------- pull

    def pull(self, prefixes: Iterable[str], only=None, prune: bool = True) -> int:
        """Bring the objects under each prefix into the copy (those whose ETag the copy lacks);
        a file of the copy under the prefix that the store does not hold is removed (the store
        is the archive; not with `prune` false, for a folder other writers of this copy add to).
        `only(rel)` narrows the objects. Returns the objects fetched."""
        fetched = 0
        for prefix in prefixes:
            remote = {rel: v for rel, v in self.store.list(prefix).items()
                      if not _hidden(rel) and (only is None or only(rel))}
            for rel, (etag, size) in sorted(remote.items()):
                known = self.manifest.get(rel)
                if known and known[0] == etag and self._stat(rel) == known[1:]:
                    continue
                body, etag = self.store.get_bytes(rel)
                self._write_local(rel, body)
                self._set(rel, [etag, *self._stat(rel)])  # type: ignore[misc]
                fetched += 1
            folder = self.local / prefix
            if prune and folder.is_dir():
                for path in folder.rglob("*"):
                    rel = path.relative_to(self.local).as_posix()
                    if path.is_file() and not _hidden(rel) and rel not in remote and (only is None or only(rel)):
                        path.unlink()
                        self._set(rel, None)
            self.pulled.add(prefix)
        self._save_manifest()
        return fetched

    def _write_local(self, rel: str, body: bytes) -> None:
        path = self.local / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.pull-{os.getpid()}")
        tmp.write_bytes(body)
        os.replace(tmp, path)

    # -------------------------------------------------------------- publish

    def publish(self, rels: Iterable[str]) -> int:
        """PUT each changed file, in the given order, whole under its final key; a WARC file
        only if the store does not hold it (never overwritten). Returns the objects put."""
        put = 0
        for rel in rels:
            if _hidden(rel) or not self.changed(rel):
                continue
            self.publishing()
            body = (self.local / rel).read_bytes()
            stat = self._stat(rel)
            try:
                etag = self.store.put_bytes(rel, body, create_only=rel.startswith("warc/"))
            except ObjectExists:
                etag = self.store.list(rel).get(rel, ("", 0))[0]
                if etag.strip('"') != hashlib.md5(body).hexdigest():  # noqa: S324 - S3's ETag of one PUT
                    raise StoreError(f"{self.store.url}/{rel} exists already with other bytes: "
                                     "a WARC object is never replaced") from None
                # the same bytes: published by a run that stopped before it noted so
            self._set(rel, [etag, *(stat or [len(body), 0])])
            put += 1
        if put:
            self._save_manifest()
        return put

    def files(self, prefix: str) -> list[str]:
        folder = self.local / prefix
        if not folder.is_dir():
            return []
        return [p.relative_to(self.local).as_posix() for p in folder.rglob("*")
                if p.is_file() and not _hidden(p.relative_to(self.local).as_posix())]

    def publish_date(self, source: str, day: dt.date) -> int:
        """A date's files, in the order the archive writes them: WARC, pages, revisions, articles."""
        part = f"source={source}/issue_date={day.isoformat()}"
        rels: list[str] = []
        for dataset in ("warc", "pages", "revisions", "articles"):
            rels += sorted(self.files(f"{dataset}/{part}"))
        return self.publish(rels)

    def sync(self, prefixes: Iterable[str]) -> tuple[int, int]:
        """Publish every changed file under the prefixes (in the archive's order), then delete
        the objects this copy held there that the run removed by design (`_removable`). Returns
        (put, deleted)."""
        prefixes = list(prefixes)
        rels = sorted({rel for prefix in prefixes for rel in self.files(prefix)}, key=_order)
        put = self.publish(rels)
        deleted = 0
        for rel in sorted(self.manifest):
            if not any(rel.startswith(p) for p in prefixes if p in self.pulled) or self._stat(rel) is not None:
                continue
            if not self._removable(rel):
                log.warning("%s is missing from the working copy %s: the store keeps it", rel, self.local)
                continue
            self.publishing()
            self.store.delete(rel)
            self._set(rel, None)
            deleted += 1
        if deleted:
            self._save_manifest()
        return put, deleted

    def _removable(self, rel: str) -> bool:
        """Whether a run removes this file by design, so that the store may drop it too: a year
        of the derived compact/ copy, or a revisions file of a date whose versions a rebuild
        wrote into a new file. A snapshot, a WARC file, the dedupe index or a revisions file
        of a date that has none left is never removed by a run: gone from the working copy, it
        was lost there, and the store keeps it."""
        if rel.startswith("compact/"):
            return True
        return rel.startswith("revisions/") and bool(self.files(rel.rsplit("/", 1)[0]))


def paper_prefixes(source: str) -> list[str]:
    """What a paper's crawl writes (and reads back), but its WARC files."""
    return [f"{d}/source={source}/" for d in ("pages", "revisions", "articles", "index",
                                                "compact/articles", "compact/pages")]


def publish_runs(copy: WorkingCopy, records: Iterable[dict]) -> int:
    """Each finished run's line as its own object `runs/parts/<run_id>.json` (one PUT each)."""
    put = 0
    for record in records:
        run_id = record.get("run_id")
        if not isinstance(run_id, str) or not re.fullmatch(r"[A-Za-z0-9_.+-]+", run_id):
            continue
        rel = f"{RUN_PARTS}/{run_id}.json"
        body = json.dumps(record, ensure_ascii=False).encode()
        copy.publishing()
        etag = copy.store.put_bytes(rel, body)
        copy._write_local(rel, body)
        copy._set(rel, [etag, *copy._stat(rel)])  # type: ignore[misc]
        put += 1
    if put:
        copy._save_manifest()
    return put
