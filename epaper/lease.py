"""One writer per paper across machines: the paper's lock in an s3:// archive itself.

The lock is the object ``locks/source=ID.json`` (``{holder: {host, pid, command}, since,
expires}``, times in UTC):

- taken by creating it with a conditional write (``If-None-Match: *``): of two takers, the
  store lets one create it;
- renewed by its holder (a thread, every third of the lease) with ``If-Match`` on the ETag it
  last wrote: a holder whose lease was taken over learns it at its next renewal, and every
  publication checks the lease first (:meth:`ArchiveLease.check`), so it writes nothing more;
- taken over once ``expires`` is past (its holder is gone: killed, its machine down): a
  write with ``If-Match`` on the expired object's ETag, so two takers cannot both win;
- released at the end (deleted, if still ours).

A run that finds the lease held by a live holder raises :class:`LeaseHeld` (an
`epaper.lock.LockHeld`: the command prints the holder and exits 75). Expiry is judged on the
taker's clock against the holder's: clocks kept by NTP are well within a lease (default 120 s,
``storage.lease_seconds``).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from typing import Any

from epaper.lock import LockHeld
from epaper.storage.objectstore import ObjectExists, Store, StoreError
from epaper.timefmt import iso_text

log = logging.getLogger(__name__)

LOCKS = "locks"
DEFAULT_SECONDS = 120


def lease_key(source: str) -> str:
    return f"{LOCKS}/source={source}.json"


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def _epoch(text: Any) -> float | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class LeaseHeld(LockHeld):
    """Another live process holds the paper's lease."""

    def __init__(self, url: str, source: str, lease: dict[str, Any]) -> None:
        self.lease = lease
        holder = lease.get("holder") if isinstance(lease.get("holder"), dict) else {}
        super().__init__(url, {**holder, "since": lease.get("since")}, source)  # type: ignore[arg-type]

    def _message(self) -> str:
        h, lease = self.holder, self.lease
        since = f" since {iso_text(h['since'])}" if h.get("since") else ""
        command = f" ({h['command']})" if h.get("command") else ""
        until = f"; its lease runs until {iso_text(lease['expires'])}" if lease.get("expires") else ""
        return (f"paper {self.source} of archive {self.data_dir} is locked by pid {h.get('pid', '?')} "
                f"on {h.get('host', '?')}{since}{command}{until}")


class LeaseLost(StoreError):
    """The lease was taken over (or could not be renewed): this run publishes nothing more."""


class ArchiveLease:
    """Context manager holding the paper's lease in the store (see the module)."""

    def __init__(self, store: Store, source: str, command: str, seconds: int = DEFAULT_SECONDS):
        self.store, self.source, self.command = store, source, command
        self.seconds = max(int(seconds), 3)
        self.key = lease_key(source)
        self.etag: str | None = None
        self.since = time.time()
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        now = time.time()
        return json.dumps({"holder": {"host": socket.gethostname(), "pid": os.getpid(), "command": self.command},
                           "since": _utc(self.since), "expires": _utc(now + self.seconds)}).encode()

    def acquire(self) -> ArchiveLease:
        for _attempt in range(5):
            try:
                self.etag = self.store.put_bytes(self.key, self._body(), create_only=True)
                break
            except ObjectExists:
                pass
            try:
                raw, etag = self.store.get_bytes(self.key)
            except FileNotFoundError:  # released meanwhile: try to create it again
                continue
            try:
                lease = json.loads(raw)
                lease = lease if isinstance(lease, dict) else {}
            except ValueError:
                lease = {}  # torn or foreign: judged expired (an object is whole, so someone wrote junk)
            expires = _epoch(lease.get("expires"))
            if expires is not None and expires > time.time():
                raise LeaseHeld(str(self.store.url), self.source, lease)
            try:
                self.etag = self.store.put_bytes(self.key, self._body(), if_match=etag)
            except (ObjectExists, FileNotFoundError):
                continue  # another taker won, or it was released: look again
            log.warning("took over the expired lease of %s (%s)", self.source, lease.get("holder"))
            break
        else:
            raise StoreError(f"{self.store.url}/{self.key}: the lease could not be taken (contended)")
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.source}", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.etag = self.store.put_bytes(self.key, self._body(), if_match=self.etag)
            except ObjectExists:
                self.lost = "taken over by another run"
            except (StoreError, FileNotFoundError) as exc:
                self.lost = f"not renewed: {exc}"
            if self.lost:
                log.error("the lease of paper %s was lost (%s): nothing more is published", self.source, self.lost)
                return

    def check(self) -> None:
        """LeaseLost when this run no longer holds the lease (called before each publication)."""
        if self.lost:
            raise LeaseLost(f"the lease of paper {self.source} in {self.store.url} was lost ({self.lost}): "
                            "nothing more is published")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.etag is None or self.lost:
            return
        try:
            self.store._call("delete", self.key, self.store.client.delete_object,
                             Key=self.store.url.key(self.key), IfMatch=self.etag)
        except (StoreError, FileNotFoundError) as exc:
            log.warning("the lease of paper %s was not released (it expires by itself): %s", self.source, exc)
        self.etag = None

    def __enter__(self) -> ArchiveLease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
