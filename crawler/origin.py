"""The portal's origin: the one rule for which URLs a crawl may request.

An origin is (scheme, host, effective port), as browsers compare them (RFC 6454): the port
a URL leaves out is its scheme's default (http 80, https 443). Two URLs on one host but on
different ports or schemes are different servers: a portal redirecting to
`http://its-host:8080/…` must not make the crawl request (and archive as the portal's) what
another service of that machine answers. Plain functions, no Scrapy: the downloader's
offsite middleware (every request, redirect targets and robots.txt included) and the media
capture both ask `same_origin`.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from w3lib.url import safe_url_string

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def origin(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, host lowercased and IDNA-encoded as Scrapy sends
    it, port the scheme's default when the URL has none; None for anything else (another
    scheme, no host, a port that is not a number)."""
    try:
        parts = urlsplit(safe_url_string(url.strip()))
        port = parts.port
    except (ValueError, UnicodeError):
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def same_origin(url: str, root: str) -> bool:
    """Whether `url` is on the origin of `root` (the portal's e-paper root)."""
    mine = origin(root)
    return mine is not None and origin(url) == mine


def origin_text(url: str) -> str:
    """An origin written out in full (`http://host:80`), so a port difference shows."""
    o = origin(url)
    if o is None:
        return url
    scheme, host, port = o
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def refusal(url: str, root: str, redirected: bool = False) -> str:
    """Why a request for `url` is not made: one phrase naming both origins."""
    where = f"outside the portal's origin ({origin_text(root)})"
    if redirected:
        return f"redirected {where} to {url} (not followed)"
    return f"{where}: {url} (not fetched)"
