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
    box: list[tuple[str, str]] = field(default_factory=list)  # 今日关注: (href, title html), other pages' too
    query: str = ""  # the display-mode query article links carry (?div=-1)
    twins: list[str] = field(default_factory=list)  # hrefs the image map links again as ?div=0


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


def lead_images(a: Article) -> list[Image]:
    """The images above the first paragraph (a template may print them before the body)."""
    out = []
    for kind, block in a.blocks:
        if kind != "img":
            break
        out.append(block)
    return out


def _centre(rng: random.Random, tag: str = "p") -> str:
    return rng.choice([f'<{tag} style="text-align:center">', f'<{tag} align="center">',
                       f'<{tag} style="text-align: center;">'])


def body_paragraphs(a: Article, img_href, rng: random.Random, *, upper: bool = False,
                    skip_lead: bool = False, plain_captions: bool = False) -> str:
    """Body as <p> paragraphs with the usual noise; img_href maps an Image to its href.

    A caption shown "next" sits beside its image: in the image's table, or after a <br> in the
    image's paragraph. One shown "para" is the paragraph after the image's: centred, or (always
    with `plain_captions`, else half the time) an ordinary paragraph, `<p><img></p><p>图为…</p>`.
    Sub-headings are centred."""
    p = "P" if upper else "p"
    out = []
    if rng.random() < 0.3:
        out.append("<!--<npm:article-content>-->")
    blocks = a.blocks[len(lead_images(a)):] if skip_lead else a.blocks
    for kind, block in blocks:
        if rng.random() < 0.05:
            out.append(rng.choice([f"<{p}>&nbsp;</{p}>", f"<{p}></{p}>", f"<{p}>\u3000\u3000</{p}>"]))
        if kind == "p":
            tail = "&nbsp;" if rng.random() < 0.05 else ""
            out.append(f"<{p}>{_indent(rng)}{esc(str(block))}{tail}</{p}>")
            continue
        if kind == "sub":
            out.append(f"{_centre(rng, p)}<strong>{esc(str(block))}</strong></{p}>")
            continue
        tag = _img_tag(img_href(block), block, rng, upper)
        caption = esc(block.caption) if block.caption_mode == "next" else None
        para = esc(block.caption) if block.caption_mode == "para" else None
        plain = para is not None and (plain_captions or rng.random() < 0.5)
        if block.in_table:
            row = f"<tr><td>{caption}</td></tr>" if caption else ""
            out.append(f'<table class="pci_c" align="center"><tbody><tr><td>{tag}</td></tr>{row}'
                       "</tbody></table>")
        elif caption:
            out.append(f"{_centre(rng, p)}{tag}<br>{caption}</{p}>")
        else:
            out.append(f"<{p}>{tag}</{p}>" if plain else f"{_centre(rng, p)}{tag}</{p}>")
        if para is not None:
            out.append(f"<{p}>{_indent(rng)}{para}</{p}>" if plain else f"{_centre(rng, p)}{para}</{p}>")
    if rng.random() < 0.2:
        out.append("<script type=\"text/javascript\">var _wzt = 1; /* 统计 */</script>")
    return "\n".join(out)


def body_br(a: Article, img_href, rng: random.Random) -> str:
    """Body of the older generation: lines separated by <br>; images and their captions in a
    centred block or table of their own, sub-headings centred."""
    out = ["<!--<npm:article-content>-->"] if rng.random() < 0.3 else []
    for kind, block in a.blocks:
        if kind == "p":
            out.append(f"{_indent(rng) or '&nbsp;&nbsp;&nbsp;&nbsp;'}{esc(str(block))}<br>")
            if rng.random() < 0.05:
                out.append("&nbsp;<BR>")
            continue
        if kind == "sub":
            out.append(f"{_centre(rng, 'DIV')}<B>{esc(str(block))}</B></DIV>")
            continue
        tag = _img_tag(img_href(block), block, rng, True)
        caption = esc(block.caption) if block.caption_mode == "next" else None
        if block.in_table:
            row = f"<TR><TD>{caption}</TD></TR>" if caption else ""
            out.append(f"<TABLE align=center><TR><TD>{tag}</TD></TR>{row}</TABLE>")
        else:
            out.append(f"<DIV align=center>{tag}{'<BR>' + caption if caption else ''}</DIV>")
        if block.caption_mode == "para":  # the line after the image's block
            out.append(f"{_indent(rng) or '&nbsp;&nbsp;&nbsp;&nbsp;'}{esc(block.caption)}<br>")
    if rng.random() < 0.2:
        out.append("<SCRIPT language=javascript>var _wzt = 1;</SCRIPT>")
    return "\n".join(out)


def lead_block(a: Article, img_href, rng: random.Random) -> str:
    """Lead images printed above <founder-content>, each caption in the paragraph after it (湖北日报)."""
    out = []
    for img in lead_images(a):
        out.append(f'<img src="{img_href(img)}"'
                   + (f' {img.caption_mode}="{esc(img.caption)}"' if img.caption_mode in ("data-original-title", "title", "alt") else "")
                   + ' style="border-style: none">')
        if img.caption_mode in ("next", "para"):
            out.append(f"<p>    {esc(img.caption)}</p>")
    return "\n\t\t\t\t".join(out)


def heading_block_date(d: date, page_no: str) -> str:
    return f"（{d.year}年{d:%m}月{d:%d}日  {page_no}版）"
