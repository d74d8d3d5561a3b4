"""`epaper extract FILE --url URL`: what the parser reads from one saved page, as JSON.

A layout page (版面): its number, name, PDF, scan, the day's pages, and its articles by
canonical URL (own, then those a box links: `own: false`), with why a page without readable
article links should have had some. An article page: every field as the archive would keep it
(cleaned), and for each field the source it came from. The URL decides the kind (an article
URL: content_…, c…, nw.…), `--as` overrides it.
"""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from epaper.crawler import founder, founder_article as fa
from epaper.pipelines.clean import clean_article


def extract_page(text: str, url: str, root: str | None = None) -> dict:
    page = founder.parse_page(text, url, root)
    own = set(page.articles)
    return {
        "kind": "page", "url": url, "page_no": page.page_no, "page_name": page.page_name,
        "pdf_url": page.pdf_url, "image_url": page.image_url,
        "pages": [{"url": p.url, "page_no": p.page_no, "page_name": p.page_name} for p in page.pages],
        "articles": [{"url": link.url, "title": link.title, "own": link.url in own,
                      "in_list": link.in_list, "in_map": link.in_map} for link in page.links],
        "promise": page.promise,
    }


def extract_article(text: str, url: str) -> dict:
    doc = founder.html_tree(text)
    enp = founder.parse_enpproperty(text)
    body, body_from = fa.body_source(doc, text)
    lines = fa.head_lines(doc, body)
    at = fa.title_line(lines, enp)
    art = fa.parse_article(text, url)
    fields = {"title": art.title, "intro_title": art.intro_title, "subtitle": art.subtitle,
              "author": art.author, "body": "\n".join(art.paragraphs), "images": art.images}
    clean_article(fields)
    sources = {
        "title": _head_source(art.title, enp, "title", lines, at, visible_first=True),
        "intro_title": _head_source(art.intro_title, enp, "introtitle", lines, at),
        "subtitle": _head_source(art.subtitle, enp, "subtitle", lines, at),
        "author": _head_source(art.author, enp, "author", lines, at),
        "paragraphs": body_from if art.paragraphs else None,
        "images": _images_source(len(art.images), len(fa.body_parts(body, url)[1]) if body is not None else 0,
                                 body_from),
        "issue_date": ("url" if founder.date_from_url(url) else "comment <date>") if art.issue_date else None,
    }
    paragraphs = fields["body"].split("\n") if fields["body"] else []
    return {"kind": "article", "url": url, "issue_date": art.issue_date.isoformat() if art.issue_date else None,
            "column": fields.get("column"), "intro_title": fields["intro_title"], "title": fields["title"],
            "subtitle": fields["subtitle"], "author": fields["author"], "paragraphs": paragraphs,
            "images": fields["images"], "sources": sources}


def _images_source(total: int, in_body: int, body_from: str | None) -> str | None:
    if not total:
        return None
    before = "between the title and the body" if total > in_body else None
    return " and ".join(x for x in (before, body_from if in_body else None) if x)


def _head_source(value, enp: dict, name: str, lines: list, at: int | None, visible_first: bool = False) -> str | None:
    if value is None:
        return None
    comment = founder.normalize_ws(enp.get(name))
    if visible_first and at is not None and lines[at].text == value:
        return f"heading: <{lines[at].el.tag}>" + (f"#{lines[at].el.get('id')}" if lines[at].el.get("id") else "")
    if comment == value:
        return f"comment <{name}>"
    line = next((ln for ln in lines if ln.text == value or value in ln.text), None)
    if line is not None and line.role:
        return f"marked line: <{line.el.tag}>" + (f"#{line.el.get('id')}" if line.el.get("id") else "")
    return "fallback: the line next to the title" if line is not None else "fallback"


# A saved page is read whole, so only this much of it: the crawl's DOWNLOAD_MAXSIZE default,
# beyond which a response is not a page either.
MAX_BYTES = 8 * 1024 * 1024


class NotAPageFile(ValueError):
    """The path is not a regular file of a page's size; `str()` is one line."""


def read_page_file(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a saved page: a regular file (a FIFO, a device or a folder is refused, and
    opening never waits on one) of at most `limit` bytes, read in one bounded read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotAPageFile("no such file") from None
    except IsADirectoryError:
        raise NotAPageFile("is a folder, not a file") from None
    except OSError as exc:
        raise NotAPageFile(f"cannot open: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise NotAPageFile("is a folder, not a file")
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) \
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
            raise NotAPageFile(f"is {kind}, not a saved page (regular files only)")
        chunks, size = [], 0
        while size <= limit:  # st_size may lie (/proc files say 0): read until EOF or past the limit
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise NotAPageFile(f"larger than {limit:,} bytes: not a page")
        return b"".join(chunks)
    except OSError as exc:
        raise NotAPageFile(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def extract(path: Path, url: str, root: str | None = None, kind: str | None = None) -> dict:
    try:
        text = founder.decode_html(read_page_file(Path(path)))[0]
    except (LookupError, UnicodeError) as exc:  # a charset label naming a codec that is not text (base64, rot13)
        raise ValueError(f"cannot decode: {exc}") from None
    kind = kind or ("article" if founder.is_content_url(url) else "page")
    return extract_article(text, url) if kind == "article" else extract_page(text, url, root)


def run_extract(args) -> int:
    from epaper.config import UsageError

    path = Path(args.file)
    try:
        out = extract(path, args.url, args.root, args.kind)
    except NotAPageFile as exc:
        raise UsageError(f"extract: {path}: {exc}") from None
    except ValueError as exc:
        print(f"epaper: extract: {path}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0
