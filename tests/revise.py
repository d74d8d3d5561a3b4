"""Corrections and removals on the replica portal, between two crawls (its `correct` and
`unlink` modes), chosen from what an archive holds."""
from __future__ import annotations

import re

from epaper.replica.server import Fault


def path_of(server, url: str) -> str:
    """The path of a portal URL below the host, as the replica's fault patterns see it."""
    return "/" + url.split("/", 3)[3]


def correction(server, row: dict, field: str = "body", mark: str = "更正后") -> tuple[Fault, str, str]:
    """A `correct` fault changing one article's body (`mark` put into the first 12 characters of
    a line found verbatim in the page file) or title; with the old and the new text."""
    raw = (server.site_dir / path_of(server, row["url"])[len(server.root_path):]).read_bytes().decode("utf-8")
    if field == "title":
        old = re.search(r"<title>(.*?)</title>", raw.split("enpproperty", 1)[1]).group(1)
        new = old + "（更正）"
    else:
        old = next(line[:12] for line in row["body"].split("\n") if len(line) >= 12 and line[:12] in raw)
        new = old[:6] + mark + old[6:]
    pattern = re.escape(path_of(server, row["url"])) + "$"
    return Fault("correct", pattern, old=old, new=new), old, new


def removal(server, row: dict) -> Fault:
    """An `unlink` fault removing every link to one article from the pages of its date."""
    name = row["url"].rsplit("/", 1)[1]
    return Fault("unlink", r"/(node_|nbs\.)[^/]*$", target=name)
