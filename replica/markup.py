"""Markup shared by the templates: labels, enpproperty comments, article bodies."""
from __future__ import annotations

import html
import random
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from epaper.replica.content import Article, Image

PORTAL = "http://www.ahjjw.example/"  # the portal lives on another host
CHROME_TOP = "安徽主流经济门户"
CHROME_MAIL = "投稿地址:ahjjb2006@163.com"


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def label(no: str, name: str, form: int) -> str:
    """A page label in one of the printed forms real pages use."""
    forms = [f"第{no}版：{esc(name)}", f"{no}版：{esc(name)}", f"{no}： {esc(name)}",
             f"第{no}版：<strong>{esc(name)}</strong>", f"第{no}版:{esc(name)}",
             f"{no}版: {esc(name)}"]
    return forms[form % len(forms)]


@dataclass
class PageView:
    """Everything a page template needs, hrefs already relative to the page."""

    date: date
    page_no: str
    page_name: str
    paper: str
    nav: list[tuple[str, str]]  # (href, label html) of every page of the day
    items: list[tuple[str, str]]  # list links (href, title html), may repeat
    hotspots: list[tuple[str, str]]  # (href, coords)
    pdf: str
    scan: str
    prev: str | None
    next: str | None
    home: str  # the latest-issue page
    ban_form: int
    pdf_style: int
    enp: str = ""  # older generation page comment
    static: str = ""  # folder of static assets, relative


@dataclass
class ArticleView:
    art: Article
    date: date
    page_no: str
    page_name: str
    paper: str
    page_href: str
    home: str
    pdf: str
    img_href: Callable[[Image], str]
    static: str
    siblings: list[tuple[str, str]] = field(default_factory=list)


def page_enp(d: date, page_no: str, paper: str) -> str:
    return (f"<!--enpproperty <founder-date>{d:%Y-%m-%d}</founder-date>"
            f"<founder-pagenum>{page_no}</founder-pagenum><founder-papername>{paper}"
            "</founder-papername><founder-type>2</founder-type>/enpproperty-->")


def article_enp(a: Article, d: date, page_no: str, paper: str, rng: random.Random,
                newer: bool) -> str:
    """The Founder metadata comment, in the article's meta_mode."""
    if a.meta_mode == "missing":
        return ""
    sub = a.subtitle or ""
    if sub and rng.random() < 0.3:
        sub = a.subtitle_dash + sub
    fields = [("articleid", str(a.aid)), ("date", f"{d:%Y-%m-%d} 00:00:00:0"),
              ("author", esc(a.author or "")), ("title", esc(a.title_printed)),
              ("keyword", ""), ("subtitle", esc(sub)), ("introtitle", esc(a.intro_title or "")),
              ("siteid", "1"), ("nodeid", str(1000 + a.aid % 97)), ("nodename", page_no)]
    if newer:
        fields += [("paperarticleid", str(a.aid)), ("papername", paper), ("liability", "")]
    if sub and rng.random() < 0.2:
        fields[5] = ("subtitle", f"<p>{esc(sub)}</p>")
    if a.meta_mode == "shuffled":
        rng.shuffle(fields)
    elif a.meta_mode == "partial":
        out = []
        for k, v in fields:
            if k in ("author", "title", "subtitle", "introtitle", "keyword") and rng.random() < 0.5:
                if rng.random() < 0.5:
                    continue  # absent
                v = ""  # empty
            out.append((k, v))
        fields = out
    inner = "".join(f"<{k}/>" if (k == "keyword" and not v and rng.random() < 0.5)
                    else f"<{k}>{v}</{k}>" for k, v in fields)
    return f"<!--enpproperty {inner}/enpproperty-->"


def _indent(rng: random.Random) -> str:
    return rng.choice(["\u3000\u3000", "\u3000\u3000", "&nbsp;&nbsp;&nbsp;&nbsp;", ""])


def _img_tag(src: str, img, rng: random.Random, upper: bool) -> str:
    attr = ""
    if img.caption_mode in ("data-original-title", "title", "alt"):
        attr = f' {img.caption_mode}="{esc(img.caption)}"'
    elif rng.random() < 0.5:
        attr = ' alt=""'
    tag = "IMG" if upper else "img"
    return f'<{tag} src="{src}"{attr} style="max-width:600px">'


def body_paragraphs(a: Article, img_href, rng: random.Random, *, upper: bool = False) -> str:
    """Body as <p> paragraphs with the usual noise; img_href maps an Image to its href."""
    p = "P" if upper else "p"
    out = []
    if rng.random() < 0.3:
        out.append("<!--<npm:article-content>-->")
    for kind, block in a.blocks:
        if rng.random() < 0.05:
            out.append(rng.choice([f"<{p}>&nbsp;</{p}>", f"<{p}></{p}>", f"<{p}>\u3000\u3000</{p}>"]))
        if kind == "p":
            tail = "&nbsp;" if rng.random() < 0.05 else ""
            out.append(f"<{p}>{_indent(rng)}{esc(str(block))}{tail}</{p}>")
            continue
        tag = _img_tag(img_href(block), block, rng, upper)
        if block.in_table:
            out.append(f'<table class="pci_c" align="center"><tbody><tr><td>{tag}</td></tr>'
                       "</tbody></table>")
        else:
            out.append(f'<{p} style="text-align:center">{tag}</{p}>')
        if block.caption_mode == "next":
            out.append(f"<{p}>{_indent(rng)}{esc(block.caption)}</{p}>")
    if rng.random() < 0.2:
        out.append("<script type=\"text/javascript\">var _wzt = 1; /* 统计 */</script>")
    return "\n".join(out)


def body_br(a: Article, img_href, rng: random.Random) -> str:
    """Body of the older generation: lines separated by <br>."""
    out = ["<!--<npm:article-content>-->"] if rng.random() < 0.3 else []
    for kind, block in a.blocks:
        if kind == "p":
            out.append(f"{_indent(rng) or '&nbsp;&nbsp;&nbsp;&nbsp;'}{esc(str(block))}<br>")
            if rng.random() < 0.05:
                out.append("&nbsp;<BR>")
            continue
        tag = _img_tag(img_href(block), block, rng, True)
        out.append(f"<TABLE align=center><TR><TD>{tag}</TD></TR></TABLE>" if block.in_table
                   else f"{tag}<br>")
        if block.caption_mode == "next":
            out.append(f"{esc(block.caption)}<br>")
    if rng.random() < 0.2:
        out.append("<SCRIPT language=javascript>var _wzt = 1;</SCRIPT>")
    return "\n".join(out)


def heading_block_date(d: date, page_no: str) -> str:
    return f"（{d.year}年{d:%m}月{d:%d}日  {page_no}版）"
