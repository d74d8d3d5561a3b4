"""The archive-wide near-duplicate index that sets `duplicate_of`, and content hashes. No
Scrapy imports: `storage.archive` resolves each date it writes through it, and
`pipelines.dedupe` hashes bodies with `content_hash`.

Settings (defaults):
    DEDUPE_SHINGLE_SIZE = 5    character n-gram size of the shingles
    DEDUPE_THRESHOLD = 0.8     Jaccard similarity from which a body is "nearly the same"
    DEDUPE_MIN_CHARS = 50      bodies shorter than this are duplicates only when equal

Index design: each body gets a 64-permutation MinHash over its hashed character shingles.
In memory each archived article costs one int64 order key (date, page_index, position),
the 64 MinHash values cut to 4 bits ("b-bit MinHash", 32 bytes) to estimate Jaccard, 8 LSH
band keys of 3 full MinHash values each (band number in the top 3 bits, so all bands share
one sorted uint32 array, plus a uint32 row number per entry) and its article_id in one UTF-8 blob with uint32 offsets: ~109 bytes plus the
id. A lookup binary searches the 8 bands, so it never scans the archive; candidates are
kept when their estimated Jaccard reaches the threshold. Bodies under DEDUPE_MIN_CHARS use their
SHA-256 as signature and band keys, so they only ever match an equal body.

The sidecar is `<data>/index/dedupe.npz` (never `.parquet`, outside `articles/`): the
per-article arrays plus a manifest of the snapshot files (name, size, mtime_ns, inode) each
date was indexed from. `open` re-indexes from the snapshot bodies only the dates whose
files changed, appeared or vanished, so a crash between a snapshot write and `commit` or a
snapshot replaced behind the index's back is repaired on the next open.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from epaper.storage.parquet import UnsafePath, atomic_write, dataset_dir, list_files, open_regular, partition_dir

log = logging.getLogger(__name__)

NUM_PERM = 64  # MinHash values per body; the 4-bit estimate has a std error of ~0.05 at J=0.8
BANDS = 8  # at most 8: the band number takes the top 3 bits of a band key
ROWS = 3  # P(candidate) = 1-(1-J^3)^8: 0.997 at J=0.8, 0.2 at J=0.3, 8e-6 at J=0.01
SIG_BITS = 4  # b-bit MinHash: the low 4 bits of each value, two per byte
SIG_BYTES = NUM_PERM * SIG_BITS // 8
FORMAT_VERSION = 2
SIDECAR = "dedupe.npz"
SEED = 0x5EED_DED0

_DATE_DIR = re.compile(r"^issue_date=(\d{4}-\d{2}-\d{2})$")
_NEEDED_COLUMNS = ["article_id", "body", "page_index", "position"]
_U64 = np.uint64


def content_hash(body: str) -> str:
    """SHA-256 hex digest of the UTF-8 body: equal bodies give equal hashes."""
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def _splitmix(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return state, z ^ (z >> 31)


def _constants(n: int, seed: int) -> np.ndarray:
    # Pure-Python generator: signatures must not change with the numpy version.
    out, state = [], seed
    for _ in range(n):
        state, z = _splitmix(state)
        out.append(z)
    return np.array(out, dtype=_U64)


_PERM_A = _constants(NUM_PERM, SEED) | _U64(1)
_PERM_B = _constants(NUM_PERM, SEED + 1)
_SHINGLE_MUL = _U64(0x100000001B3)
_BAND_SALT = _constants(BANDS, SEED + 2)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, elementwise, wrapping uint64 arithmetic."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def shingle_hashes(body: str, size: int = 5) -> np.ndarray:
    """Sorted unique 64-bit hashes of the character `size`-grams of body (whole body if shorter)."""
    cps = np.frombuffer(body.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(_U64)
    n = len(cps)
    width = max(1, n - size + 1)
    h = np.zeros(width, dtype=_U64)
    for j in range(min(size, n)):
        h = h * _SHINGLE_MUL + (cps[j : j + width] + _U64(1))
    return np.unique(_mix64(h))


def jaccard(a: str, b: str, size: int = 5) -> float:
    """Exact Jaccard similarity of the character shingle sets (for tests and checks)."""
    sa = {a[i : i + size] for i in range(max(1, len(a) - size + 1))}
    sb = {b[i : i + size] for i in range(max(1, len(b) - size + 1))}
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def minhash(body: str, size: int = 5) -> np.ndarray:
    """NUM_PERM 32-bit MinHash values (as uint64) of the body's shingles."""
    hashes = shingle_hashes(body, size)
    mins = np.full(NUM_PERM, _U64(0xFFFFFFFF), dtype=_U64)
    for start in range(0, len(hashes), 4096):  # bounds the temporary for huge bodies
        chunk = hashes[start : start + 4096]
        vals = (_PERM_A[:, None] * chunk[None, :] + _PERM_B[:, None]) >> _U64(32)
        np.minimum(mins, vals.min(axis=1), out=mins)
    return mins


def signature(body: str, *, shingle_size: int = 5, min_chars: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(32 signature bytes = 64 4-bit MinHash values, 8 uint32 band keys) of a body.

    Short bodies take their SHA-256 as signature and its 8 words as band keys, so they meet
    only equal bodies, and only all 64 values equal counts for them.
    """
    if len(body) < min_chars:
        digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).digest()
        return np.frombuffer(digest, dtype=np.uint8).copy(), _band_keys(np.frombuffer(digest, dtype="<u4").astype(np.uint32))
    mins = minhash(body, shingle_size)
    nib = (mins & _U64(0xF)).astype(np.uint8)
    sig = nib[0::2] | (nib[1::2] << np.uint8(4))
    m = mins[: BANDS * ROWS].reshape(BANDS, ROWS)
    k = _BAND_SALT.copy()
    for r in range(ROWS):
        k = _mix64(k ^ m[:, r])
    return sig, _band_keys((k >> _U64(32)).astype(np.uint32))


_BAND_SHIFT = 29  # a band key is the band number in the top 3 bits and 29 hash bits
_BAND_PREFIX = np.arange(BANDS, dtype=np.uint32) << np.uint32(_BAND_SHIFT)


def _band_keys(words: np.ndarray) -> np.ndarray:
    """Band-prefixed keys, so all bands share one sorted array and one lookup call."""
    return _BAND_PREFIX | (words >> np.uint32(32 - _BAND_SHIFT))


def required_matches(threshold: float) -> int:
    """Equal 4-bit values (of NUM_PERM) needed for an estimated Jaccard >= threshold.

    Two 4-bit MinHash values of different minima still agree 1 time in 16, so
    P(equal value) = J + (1 - J) / 16.
    """
    p = threshold + (1.0 - threshold) / 2**SIG_BITS
    return max(1, min(NUM_PERM, math.ceil(NUM_PERM * p - 1e-9)))


# Number of zero nibbles of each byte value: matches(a, b) = _ZERO_NIBBLES[a ^ b].sum().
_ZERO_NIBBLES = np.array([((x & 15) == 0) + ((x >> 4) == 0) for x in range(256)], dtype=np.uint8)


def matches(sigs: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Equal 4-bit values between each row of sigs and sig."""
    return _ZERO_NIBBLES[sigs ^ sig].sum(axis=-1, dtype=np.int64)


def order_key(day: dt.date, page_index: int, position: int) -> int:
    """(issue date, page_index, position) packed into one int64 that sorts the same way."""
    return (day.toordinal() << 32) | ((int(page_index) & 0xFFFF) << 16) | (int(position) & 0xFFFF)


def _fingerprint(folder: Path) -> list[list[Any]]:
    """What identifies the snapshot files of a date: replaced files get a new inode/mtime."""
    out = []
    for p in sorted(folder.glob("*.parquet")):
        try:
            st = p.lstat()  # a link's own identity: what it points to is never read
        except OSError:
            continue
        out.append([p.name, st.st_size, st.st_mtime_ns, st.st_ino])
    return out


def _read_snapshot_rows(folder: Path, root: Path) -> tuple[list[dict[str, Any]], bool]:
    """Rows (article_id, body, page_index, position) of a date's snapshot files; ok=False if a file is unreadable."""
    rows: list[dict[str, Any]] = []
    ok = True
    try:
        files = list_files(folder, "*.parquet", root)
    except UnsafePath as exc:
        log.warning("dedupe index: ignoring the snapshots of %s: %s", folder, exc)
        return rows, False
    for p in files:
        try:
            with os.fdopen(open_regular(p, root=root), "rb") as fh:  # never a symlink or a FIFO
                table = pq.ParquetFile(fh).read(columns=_NEEDED_COLUMNS)
            missing = set(_NEEDED_COLUMNS) - set(table.column_names)
            if missing:  # pyarrow silently skips absent columns
                raise ValueError(f"missing columns {sorted(missing)}")
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, KeyError... for bad files
            log.warning("dedupe index: ignoring unreadable snapshot %s: %s", p, exc)
            ok = False
            continue
        rows.extend(table.to_pylist())
    return rows, ok


class DuplicateIndex:
    """Archive-wide near-duplicate index; see the module docstring for the design."""

    @staticmethod
    def check_options(*, shingle_size: int, threshold: float, min_chars: int) -> None:
        if shingle_size < 1 or not 0.0 < threshold <= 1.0 or min_chars < 0:
            raise ValueError(f"bad dedupe settings: shingle_size={shingle_size} threshold={threshold} min_chars={min_chars}")

    def __init__(self, data_dir: Path, source: str, *, shingle_size: int = 5, threshold: float = 0.8, min_chars: int = 50) -> None:
        self.check_options(shingle_size=shingle_size, threshold=threshold, min_chars=min_chars)
        self.data_dir = Path(data_dir)
        self.source = source
        self.shingle_size = shingle_size
        self.threshold = threshold
        self.min_chars = min_chars
        self._need_long = required_matches(threshold)
        self._manifest: dict[str, list[list[Any]]] = {}
        self._dirty: set[dt.date] = set()
        self._changed = False
        self._install(
            np.zeros(0, np.int64), np.zeros((0, SIG_BYTES), np.uint8), np.zeros((0, BANDS), np.uint32),
            np.zeros(0, np.uint8), np.zeros(1, np.uint32),
        )

    # -- paths and parameters --------------------------------------------------------------

    @property
    def sidecar_path(self) -> Path:
        return self.data_dir / "index" / f"source={self.source}" / SIDECAR

    def _params(self) -> dict[str, Any]:
        # threshold is not here: it only changes the verification, not what is stored.
        return {"version": FORMAT_VERSION, "shingle_size": self.shingle_size, "min_chars": self.min_chars,
                "num_perm": NUM_PERM, "sig_bits": SIG_BITS, "bands": BANDS, "rows": ROWS, "seed": SEED}

    # -- in-memory layout --------------------------------------------------------------------

    def _install(self, order: np.ndarray, sig: np.ndarray, keys: np.ndarray, idblob: np.ndarray, idoff: np.ndarray) -> None:
        """Adopt compacted per-article arrays as the base and build the sorted band arrays.

        Rows are kept in order-key order, so a date's rows are one slice (found by bisection).
        """
        if len(order) > 1 and bool((order[1:] < order[:-1]).any()):
            perm = np.argsort(order, kind="stable")
            order, sig, keys = order[perm], sig[perm], keys[perm]
            raw, off = idblob.tobytes(), idoff.tolist()
            parts = [raw[off[i] : off[i + 1]] for i in perm.tolist()]
            idblob = np.frombuffer(b"".join(parts), np.uint8).copy()
            idoff = np.zeros(len(order) + 1, np.uint32)
            np.cumsum([len(b) for b in parts], out=idoff[1:])
        self._order = order
        self._sig = sig
        self._idblob = idblob
        self._idoff = idoff
        self._alive = np.ones(len(order), dtype=bool)
        flat = np.ascontiguousarray(keys, dtype=np.uint32).ravel()  # entry e is row e // BANDS
        perm = np.argsort(flat)
        self._skeys = flat[perm]
        self._srows = (perm // BANDS).astype(np.uint32)
        del flat, perm
        # Rows added since the last compaction: plain lists, few (one crawl's worth).
        self._d_order: list[int] = []
        self._d_sig: list[np.ndarray] = []
        self._d_keys: list[np.ndarray] = []
        self._d_ids: list[str] = []
        self._d_alive: list[bool] = []
        self._d_buckets: dict[int, list[int]] = {}

    def _base_keys(self) -> np.ndarray:
        n = len(self._order)
        keys = np.empty((n, BANDS), np.uint32)
        keys[self._srows, self._skeys >> np.uint32(_BAND_SHIFT)] = self._skeys
        return keys

    def _base_id(self, i: int) -> str:
        return self._idblob[self._idoff[i] : self._idoff[i + 1]].tobytes().decode("utf-8", "surrogatepass")

    def __len__(self) -> int:
        return int(self._alive.sum()) + sum(self._d_alive)

    def nbytes(self) -> int:
        """Bytes held by the base arrays (the delta of one crawl is not counted)."""
        return sum(a.nbytes for a in (self._order, self._sig, self._skeys, self._srows, self._idblob, self._idoff, self._alive))

    def _compact(self) -> np.ndarray:
        """Fold the delta into the base, drop forgotten rows; returns the per-row band keys."""
        alive = self._alive
        keys = self._base_keys()[alive]
        order = self._order[alive]
        sig = self._sig[alive]
        lengths = np.diff(self._idoff.astype(np.int64))
        # Keep the surviving id bytes with one byte mask, no Python loop over 500k ids.
        blob = self._idblob if alive.all() else self._idblob[np.repeat(alive, lengths)]
        lengths = lengths[alive]
        d_live = [i for i, a in enumerate(self._d_alive) if a]
        if d_live:
            d_bytes = [self._d_ids[i].encode("utf-8", "surrogatepass") for i in d_live]
            order = np.concatenate([order, np.array([self._d_order[i] for i in d_live], np.int64)])
            sig = np.concatenate([sig, np.stack([self._d_sig[i] for i in d_live])])
            keys = np.concatenate([keys, np.stack([self._d_keys[i] for i in d_live])])
            blob = np.concatenate([blob, np.frombuffer(b"".join(d_bytes), np.uint8)])
            lengths = np.concatenate([lengths, np.array([len(b) for b in d_bytes], np.int64)])
        idoff = np.zeros(len(order) + 1, np.uint32)
        np.cumsum(lengths, out=idoff[1:])
        self._install(order, sig, keys, blob, idoff)
        return keys

    # -- adding and forgetting ---------------------------------------------------------------

    def _date_slice(self, day: dt.date) -> slice:
        lo, hi = day.toordinal() << 32, (day.toordinal() + 1) << 32
        return slice(int(np.searchsorted(self._order, lo, "left")), int(np.searchsorted(self._order, hi, "left")))

    def _forget(self, day: dt.date) -> None:
        lo, hi = day.toordinal() << 32, (day.toordinal() + 1) << 32
        part = self._date_slice(day)
        if self._alive[part].any():
            self._alive[part] = False
            self._changed = True
        for i, o in enumerate(self._d_order):
            if lo <= o < hi and self._d_alive[i]:
                self._d_alive[i] = False
                self._changed = True

    def _add(self, order: int, sig: np.ndarray, keys: np.ndarray, article_id: str) -> None:
        i = len(self._d_order)
        self._d_order.append(order)
        self._d_sig.append(sig)
        self._d_keys.append(keys)
        self._d_ids.append(article_id)
        self._d_alive.append(True)
        for k in keys.tolist():
            self._d_buckets.setdefault(k, []).append(i)
        self._changed = True

    def _index_date_from_disk(self, day: dt.date, folder: Path) -> None:
        """Replace a date's entries with those of its snapshot on disk (none if missing or bad)."""
        self._forget(day)
        fp = _fingerprint(folder) if folder.is_dir() else []
        rows, ok = _read_snapshot_rows(folder, self.data_dir) if fp else ([], True)
        for row in rows:
            body = row.get("body") or ""
            sig, keys = signature(body, shingle_size=self.shingle_size, min_chars=self.min_chars)
            self._add(order_key(day, row.get("page_index") or 0, row.get("position") or 0), sig, keys, str(row["article_id"]))
        iso = day.isoformat()
        if fp and ok:
            self._manifest[iso] = fp
        else:
            # Not recorded: a bad file is retried (and warned about) on every open.
            self._manifest.pop(iso, None)
        self._changed = True

    # -- lookup ------------------------------------------------------------------------------

    def _best_match(self, order: int, sig: np.ndarray, keys: np.ndarray, short: bool, article_id: str) -> str | None:
        need = NUM_PERM if short else self._need_long
        found: list[tuple[int, str]] = []
        lo = np.searchsorted(self._skeys, keys, "left").tolist()
        hi = np.searchsorted(self._skeys, keys, "right").tolist()
        parts = [self._srows[a:b] for a, b in zip(lo, hi) if b > a]
        if parts:
            cand = np.concatenate(parts) if len(parts) > 1 else parts[0]
            # Most candidates are chance band collisions: verify first, few numpy calls.
            ok = cand[matches(self._sig[cand], sig) >= need]
            for i in set(ok.tolist()):
                if self._alive[i] and self._order[i] < order:
                    found.append((int(self._order[i]), self._base_id(i)))
        d_cand: set[int] = set()
        for k in keys.tolist():
            d_cand.update(self._d_buckets.get(k, ()))
        for i in d_cand:
            if self._d_alive[i] and self._d_order[i] < order and int(matches(self._d_sig[i], sig)) >= need:
                found.append((self._d_order[i], self._d_ids[i]))
        found = [f for f in found if f[1] != article_id]
        return min(found)[1] if found else None

    # -- public API --------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path, source: str, *, shingle_size: int = 5, threshold: float = 0.8,
             min_chars: int = 50) -> "DuplicateIndex":
        """Load the paper's sidecar under data_dir/index/source=ID/ (create or repair it from its
        snapshots, articles/source=ID/issue_date=YYYY-MM-DD/part-0.parquet, when missing or stale).
        Duplicates are found within one paper only."""
        index = cls(data_dir, source, shingle_size=shingle_size, threshold=threshold, min_chars=min_chars)
        index._load()
        index._repair()
        if index._changed:
            try:
                index._save()
            except OSError as exc:  # e.g. a read-only archive: the in-memory index still works
                log.warning("dedupe index: could not save %s: %s", index.sidecar_path, exc)
        return index

    def resolve(self, issue_date: dt.date, rows: list[dict]) -> None:
        """rows: dicts with at least article_id, body, content_hash, page_index, position (any order). Sets row['duplicate_of'] on each (None or an article_id). Forgets this date's previous entries first (re-crawl), resolves in (page_index, position) order against strictly-earlier entries, then adds the rows to the in-memory index."""
        self._forget(issue_date)
        self._dirty.add(issue_date)
        ordered = sorted(rows, key=lambda r: (int(r["page_index"]), int(r["position"]), str(r["article_id"])))
        for row in ordered:
            body = row.get("body") or ""
            order = order_key(issue_date, row["page_index"], row["position"])
            sig, keys = signature(body, shingle_size=self.shingle_size, min_chars=self.min_chars)
            row["duplicate_of"] = self._best_match(order, sig, keys, len(body) < self.min_chars, str(row["article_id"]))
            self._add(order, sig, keys, str(row["article_id"]))

    def commit(self) -> None:
        """Persist the in-memory changes to the sidecar atomically (temp file + os.replace). Called right after the snapshot of the date was written."""
        for day in sorted(self._dirty):
            self._reconcile(day)
        self._dirty.clear()
        if self._changed:
            self._save()

    # -- persistence -------------------------------------------------------------------------

    def _date_folder(self, day: dt.date) -> Path:
        return partition_dir(self.data_dir, self.source, "articles", day)

    def _ids_of_date(self, day: dt.date) -> list[str]:
        lo, hi = day.toordinal() << 32, (day.toordinal() + 1) << 32
        part = self._date_slice(day)
        ids = [self._base_id(i) for i in range(part.start, part.stop) if self._alive[i]]
        ids += [a for a, o, live in zip(self._d_ids, self._d_order, self._d_alive) if live and lo <= o < hi]
        return sorted(ids)

    def _reconcile(self, day: dt.date) -> None:
        """After a resolve: record the snapshot the rows went into, or trust the disk if it differs."""
        folder = self._date_folder(day)
        fp = _fingerprint(folder) if folder.is_dir() else []
        if fp:
            try:
                disk_ids = []
                for p in list_files(folder, "*.parquet", self.data_dir):
                    with os.fdopen(open_regular(p, root=self.data_dir), "rb") as fh:
                        disk_ids += [str(a) for a in pq.ParquetFile(fh).read(columns=["article_id"])
                                     .column("article_id").to_pylist()]
                disk_ids.sort()
            except Exception:
                disk_ids = None
            if disk_ids is not None and disk_ids == self._ids_of_date(day) and fp == _fingerprint(folder):
                self._manifest[day.isoformat()] = fp
                self._changed = True
                return
        # The snapshot was not written, or holds other rows: the archive is the truth.
        self._index_date_from_disk(day, folder)

    def _repair(self) -> None:
        root = dataset_dir(self.data_dir, self.source, "articles")
        on_disk: dict[str, Path] = {}
        if root.is_dir():
            for folder in root.iterdir():
                m = _DATE_DIR.match(folder.name)
                if m and folder.is_dir():
                    on_disk[m.group(1)] = folder
        for iso in sorted(set(self._manifest) - set(on_disk)):
            self._forget(dt.date.fromisoformat(iso))
            del self._manifest[iso]
            self._changed = True
        for iso, folder in sorted(on_disk.items()):
            try:
                day = dt.date.fromisoformat(iso)
            except ValueError:
                continue
            if self._manifest.get(iso) != _fingerprint(folder):
                self._index_date_from_disk(day, folder)

    def _load(self) -> None:
        path = self.sidecar_path
        if not os.path.lexists(path):
            return
        try:
            # Never through a symbolic link (a planted index would decide duplicate_of), never a
            # FIFO (np.load would block): refused like a damaged one, rebuilt from the snapshots.
            with os.fdopen(open_regular(path, root=self.data_dir), "rb") as fh, np.load(fh, allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes().decode("utf-8"))
                if meta.get("params") != self._params():
                    log.info("dedupe index: settings changed, rebuilding %s", path)
                    self._changed = True
                    return
                order, sig, keys = z["order"], z["sig"], z["keys"]
                idblob, idoff = z["idblob"], z["idoff"]
            n = len(order)
            if sig.shape != (n, SIG_BYTES) or keys.shape != (n, BANDS) or idoff.shape != (n + 1,) or int(idoff[-1]) != len(idblob):
                raise ValueError("inconsistent array shapes")
        except Exception as exc:
            log.warning("dedupe index: unreadable sidecar %s (%s), rebuilding from the snapshots", path, exc)
            self._changed = True
            return
        self._install(order.astype(np.int64), sig.astype(np.uint8), keys.astype(np.uint32), idblob.astype(np.uint8), idoff.astype(np.uint32))
        self._manifest = {str(k): v for k, v in meta["manifest"].items()}

    def _save(self) -> None:
        keys = self._compact()
        meta = json.dumps({"params": self._params(), "manifest": self._manifest}, sort_keys=True).encode("utf-8")

        def write(tmp: Path) -> None:
            with os.fdopen(open_regular(tmp, os.O_WRONLY | os.O_TRUNC, root=self.data_dir), "wb") as f:
                np.savez(f, meta=np.frombuffer(meta, np.uint8), order=self._order, sig=self._sig, keys=keys,
                         idblob=self._idblob, idoff=self._idoff)

        atomic_write(self.sidecar_path, write, root=self.data_dir)
        self._changed = False
