"""The replica portal on 127.0.0.1: serves a built site under a root path, with faults."""
from __future__ import annotations

import gzip
import hashlib
import re
import socket
import struct
import threading
import time
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from epaper.replica.build import GIF_BYTES, JPG_BYTES, PDF_BYTES
from epaper.replica.faults import EDITS, Fault, load_faults

__all__ = ["Fault", "ReplicaServer", "load_faults", "serve"]

TYPES = {".html": "text/html", ".htm": "text/html", ".xml": "application/xml",
         ".pdf": "application/pdf", ".jpg": "image/jpeg", ".2": "image/jpeg",
         ".gif": "image/gif", ".css": "text/css", ".js": "application/javascript",
         ".txt": "text/plain"}
META_CHARSET = re.compile(rb"charset=[\"']?([A-Za-z0-9_-]+)", re.I)
ROBOTS = b"User-agent: *\nAllow: /\n"
MAINTENANCE = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>系统维护</title></head>"
               "<body><div class=\"notice\"><h1>系统维护中</h1><p>请稍后访问。</p></div></body></html>\n").encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # reset/truncate faults and impatient clients break connections on purpose


class ReplicaServer:
    """A running replica; use as a context manager or call ``stop()``."""

    def __init__(self, site_dir: Path, root_path: str = "/ahjjb/", *, delay: float = 0.0,
                 faults: list[Fault] | None = None, port: int = 0, gzip: bool = False,
                 conditional: str = "answer") -> None:
        if conditional not in ("answer", "ignore"):
            raise ValueError(f"conditional must be answer or ignore, got {conditional!r}")
        self.site_dir = Path(site_dir).resolve()
        # Every page carries ETag and Last-Modified; "answer": a conditional request for an
        # unchanged page gets 304 without a body (as nginx does), "ignore": always the page.
        self.conditional = conditional
        self.sent: list[tuple[str, int, int]] = []  # (path, status, body bytes sent), in order
        self.gzip = gzip  # gzip HTML and XML for clients that accept it, as nginx does
        self.root_path = "/" + root_path.strip("/") + "/" if root_path.strip("/") else "/"
        self.delay = delay
        self.faults = list(faults or [])
        self.requests: list[str] = []  # paths requested, in arrival order
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"replica": self})
        self.httpd = _QuietServer(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}{self.root_path}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        name="replica-server")
        self._thread.start()

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def request_count(self, pattern: str = ".*") -> int:
        with self._lock:
            return sum(1 for p in self.requests if re.search(pattern, p))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReplicaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(site_dir: Path, root_path: str = "/ahjjb/", *, delay: float = 0.0,
          faults: list[Fault] | None = None, port: int = 0, gzip: bool = False,
          conditional: str = "answer") -> ReplicaServer:
    """Start serving ``site_dir`` at ``http://127.0.0.1:PORT{root_path}`` (``gzip``: compress
    HTML and XML for clients sending ``Accept-Encoding: gzip``; ``conditional``: "answer"
    If-None-Match / If-Modified-Since with 304 when the page is unchanged, or "ignore" them)."""
    return ReplicaServer(site_dir, root_path, delay=delay, faults=faults, port=port, gzip=gzip,
                         conditional=conditional)


class _Handler(BaseHTTPRequestHandler):
    replica: ReplicaServer
    protocol_version = "HTTP/1.1"
    # http.server writes headers and body separately; with Nagle's algorithm the body would
    # wait for the client's delayed ACK (~40 ms a response on Linux), unlike real servers.
    disable_nagle_algorithm = True
    server_version = "ReplicaEpaper/1.0"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    def _handle(self, head: bool) -> None:
        rep = self.replica
        path = urlsplit(self.path).path
        rep.record(self.path)
        if rep.delay:
            time.sleep(rep.delay)
        if path == "/robots.txt":
            return self._send(200, "text/plain", ROBOTS, head)
        fault = next((f for f in rep.faults if f.kind not in EDITS and f.take(path)), None)
        if fault is not None and fault.kind != "slow":
            return self._fault(fault, path, head)
        if fault is not None:
            time.sleep(fault.seconds)
        found = self._resolve(path)
        if found is None:
            return self._send(404, "text/html; charset=utf-8", b"<html><body>404 Not Found</body></html>", head)
        body, ctype = found
        modified = self._mtime(path)
        for edit in (f for f in rep.faults if f.kind in EDITS and f.take(path)):
            body, modified = edit.edit(body), max(modified, edit.since)
        self._send(200, ctype, body, head, validators=(hashlib.sha1(body).hexdigest()[:20], modified))

    def _mtime(self, path: str) -> float:
        rel = unquote(path[len(self.replica.root_path):])
        return self.replica.site_dir.joinpath(*PurePosixPath(rel).parts).stat().st_mtime

    def _resolve(self, path: str) -> tuple[bytes, str] | None:
        rep = self.replica
        if not path.startswith(rep.root_path):
            return None
        rel = unquote(path[len(rep.root_path):])
        parts = PurePosixPath(rel).parts
        if any(p in ("..", "") for p in parts) or rel.startswith("/"):
            return None
        file = rep.site_dir.joinpath(*parts) if parts else rep.site_dir
        if not file.is_file():
            return None
        body = file.read_bytes()
        return body, content_type(file.name, body)

    def _send(self, status: int, ctype: str, body: bytes, head: bool,
              extra: dict[str, str] | None = None, validators: tuple[str, float] | None = None) -> None:
        zipped = False
        if (self.replica.gzip and body and ("html" in ctype or "xml" in ctype)
                and "gzip" in self.headers.get("Accept-Encoding", "")):
            body, zipped = gzip.compress(body, mtime=0), True
            extra = {**(extra or {}), "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        if validators is not None:
            etag = f'"{validators[0]}{"-gz" if zipped else ""}"'
            extra = {**(extra or {}), "ETag": etag, "Last-Modified": formatdate(validators[1], usegmt=True)}
            if self.replica.conditional == "answer" and self._not_modified(etag, validators[1]):
                status, body = 304, b""
        self.replica.sent.append((urlsplit(self.path).path, status, 0 if head else len(body)))
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _not_modified(self, etag: str, modified: float) -> bool:
        """RFC 9110: If-None-Match decides when sent; else If-Modified-Since, to the second."""
        match = self.headers.get("If-None-Match")
        if match is not None:
            return match.strip() == "*" or etag in (t.strip() for t in match.split(","))
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return int(modified) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False

    def _fault(self, f: Fault, path: str, head: bool) -> None:
        kind = f.kind
        if kind == "status":
            return self._send(f.status, "text/html; charset=utf-8",
                              f"<html><body>{f.status} error</body></html>".encode(), head)
        if kind == "not_found":
            return self._send(404, "text/html; charset=utf-8", b"<html><body>404</body></html>", head)
        if kind == "empty":
            return self._send(200, "text/html; charset=utf-8", b"", head)
        if kind == "redirect":
            return self._send(302, "text/html", b"", head, {"Location": f.location})
        if kind == "redirect_offhost":
            return self._send(302, "text/html", b"", head,
                              {"Location": f"http://example.invalid{path}"})
        if kind == "reset":  # RST instead of a response
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if kind == "wrong_type":
            body, ctype = (JPG_BYTES, "image/jpeg") if f.body == "jpg" else (PDF_BYTES, "application/pdf")
            return self._send(200, ctype, body, head)
        if kind == "oversize":
            pad = b"<!-- " + b"x" * 1018 + b" -->\n"
            body = b"<html><body>" + pad * int(f.size_mb * 1024) + b"</body></html>"
            return self._send(200, "text/html; charset=utf-8", body, head)
        if kind == "endless":
            return self._endless(f.size_mb, head)
        if kind == "maintenance":
            return self._send(200, "text/html; charset=utf-8", MAINTENANCE, head)
        found = self._resolve(path)
        if found is None:
            return self._send(404, "text/html; charset=utf-8", b"", head)
        body, ctype = found
        if kind == "truncate":
            return self._truncate(ctype, body, f.with_length, head)
        if kind == "charset_label":
            return self._send(200, f"text/html; charset={f.charset}", body, head)
        if kind == "charset_lie":
            return self._send(200, *charset_lie(body), head)
        raise AssertionError(kind)

    def _endless(self, size_mb: float, head: bool) -> None:
        """A page without Content-Length that does not end (until size_mb or the client leaves)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if head:
            return
        chunk = b"<html><body>" + b"<p>" + b"x" * 65520 + b"</p>\n"
        try:
            for _ in range(int(size_mb * 16)):
                self.wfile.write(chunk)
        except OSError:
            pass

    def _truncate(self, ctype: str, body: bytes, with_length: bool, head: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if with_length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
        self.close_connection = True


def content_type(name: str, body: bytes) -> str:
    """text/html without a charset when the page declares a non-UTF-8 one in its <meta>."""
    ctype = TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
    if ctype == "text/html":
        m = META_CHARSET.search(body[:2048])
        if m and m.group(1).lower() not in (b"utf-8", b"utf8"):
            return ctype
        return "text/html; charset=utf-8"
    return ctype


def charset_lie(body: bytes) -> tuple[str, bytes]:
    """A page whose declared charset is wrong: UTF-8 bytes claiming gb2312 in <meta> (no
    header charset), or gb2312 bytes claimed as UTF-8 by the header and the <meta>."""
    m = META_CHARSET.search(body[:2048])
    declared = m.group(1).lower() if m else b"utf-8"
    if declared in (b"utf-8", b"utf8"):
        return "text/html", META_CHARSET.sub(b"charset=gb2312", body, count=1)
    return "text/html; charset=utf-8", META_CHARSET.sub(b"charset=utf-8", body, count=1)
