"""Pure parsing of Founder (方正) e-paper pages, both generations. No Scrapy imports.

Everything here leans on what all Founder sites share (the `enpproperty` comment,
`<founder-content>`, `id="pageLink"` links, content links, the PagePicMap image map,
`period.xml`) and only falls back to generic HTML structure; no template's class names.
Article pages are parsed in `crawler.founder_article`, on the helpers here.
"""
from __future__ import annotations

import codecs
import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

# ---------------------------------------------------------------- text helpers

_WS = re.compile(r"[\s\u3000\u00a0\u2002-\u200a\u202f\u205f]+")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
# Indentation as printed: ASCII and full-width spaces, &nbsp;, the typographic spaces.
_INDENT = " \t\r\n\u3000\u00a0\u2002\u2003\u2009\u200a\u202f\u205f"
_LINE_BREAK = re.compile(r"[ \t]*[\r\n]+[ \t]*")


def normalize_ws(text: str | None) -> str | None:
    """A head field: zero-width characters removed, every whitespace run one ASCII space, ends
    trimmed; '' becomes None."""
    if text is None:
        return None
    text = _WS.sub(" ", _ZERO_WIDTH.sub("", text)).strip()
    return text or None


def clean_paragraph(text: str) -> str:
    """A body paragraph: zero-width characters removed, line breaks inside it joined by a
    space, indentation at both ends removed; inner spaces (even full-width) kept as printed."""
    text = _LINE_BREAK.sub(" ", _ZERO_WIDTH.sub("", text))
    return text.strip(_INDENT)


# ---------------------------------------------------------------- decoding

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.I)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_html(body: bytes, header_encoding: str | None = None) -> tuple[str, str]:
    """Decode page bytes; return (text, encoding used).

    Bytes that are valid UTF-8 are UTF-8, whatever a header or `<meta>` claims: Chinese text
    in GBK is practically never valid UTF-8, while GB18030 decodes almost any bytes, so a
    lying gb2312 declaration can only be caught this way round. Otherwise the header
    charset, the `<meta>` charset, then GB18030, each strictly.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    meta = _META_CHARSET.search(body[:4096])
    declared = meta.group(1).decode("ascii", "ignore") if meta else None
    for enc in dict.fromkeys(["utf-8", _codec(header_encoding), _codec(declared), "gb18030"]):
        if enc is None:
            continue
        try:
            return body.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return body.decode("utf-8", "replace"), "utf-8"


_XML_DECL = re.compile(r"\s*<\?xml[^>]*\?>")


def html_tree(text: str) -> lxml.html.HtmlElement:
    """The document tree of a decoded page; ValueError for an empty one."""
    # lxml refuses str input carrying an XML encoding declaration.
    m = _XML_DECL.match(text)
    if m:
        text = text[m.end():]
    if not text or text.isspace():
        raise ValueError("empty page")
    return lxml.html.document_fromstring(text)


# ---------------------------------------------------------------- period.xml


def parse_period_xml(body: bytes) -> list[tuple[dt.date, str]]:
    """(issue date, front page file name) for every `<period>` of a month calendar."""
    root = lxml.etree.fromstring(body, lxml.etree.XMLParser(recover=True, resolve_entities=False,
                                                            no_network=True))
    if root is None:
        raise ValueError("period.xml is not XML")
    out = []
    for period in root.iter("period"):
        date_text = re.sub(r"\D", "", period.findtext("period_date") or "")[:8]  # 2023-08-03 or 20230803
        front = (period.findtext("front_page") or "").strip()
        try:
            day = dt.date(int(date_text[:4]), int(date_text[4:6]), int(date_text[6:8]))
        except ValueError:
            continue
        out.append((day, front))
    return out


# ---------------------------------------------------------------- URL shapes

_CONTENT = re.compile(r"/(?:content_[\w-]+|c\d+)\.html?$", re.I)
_NODE = re.compile(r"/node_[\w-]+\.html?$", re.I)
# The day folder of a page or article: pc/…/YYYYMM/DD/ or html/YYYY-MM/DD/.
_PC_DATE = re.compile(r"/(\d{4})(\d{2})/(\d{2})/[^/]+$")
_HTML_DATE = re.compile(r"/(\d{4})-(\d{2})/(\d{2})/[^/]+$")


def date_from_url(url: str) -> dt.date | None:
    """Issue date of a page or article URL of either generation."""
    path = urlsplit(url).path
    m = _PC_DATE.search(path) or _HTML_DATE.search(path)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def is_content_url(url: str) -> bool:
    """An article URL: content_ID.htm(l) or cID.html."""
    return bool(_CONTENT.search(urlsplit(url).path))


def is_page_url(url: str) -> bool:
    """A page (版面) URL: node_K.htm(l)."""
    return bool(_NODE.search(urlsplit(url).path))


def calendar_url(root: str, generation: str, month: dt.date) -> str:
    """The month's period.xml under the e-paper root, for generation "pc" or "html"."""
    if generation == "pc":
        return urljoin(root, f"pc/layout/{month:%Y%m}/period.xml")
    return urljoin(root, f"html/{month:%Y-%m}/period.xml")


def day_url(root: str, generation: str, day: dt.date, file_name: str) -> str:
    """A page file of the day's folder (e.g. the front page named in period.xml)."""
    if generation == "pc":
        return urljoin(root, f"pc/layout/{day:%Y%m}/{day:%d}/{file_name}")
    return urljoin(root, f"html/{day:%Y-%m}/{day:%d}/{file_name}")


LATEST_PATHS = {"pc": "pc/layout/index.html", "html": "paperindex.htm"}
FRONT_PAGE_GUESSES = {"pc": ("node_01.html", "node_1.html"), "html": ("node_2.htm", "node_1.htm")}


# ---------------------------------------------------------------- enpproperty

_ENP = re.compile(r"<!--\s*enpproperty(.*?)/enpproperty\s*-->", re.S | re.I)
_ENP_FIELD = re.compile(r"<([a-z_-]+)>(.*?)</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def parse_enpproperty(text: str) -> dict[str, str]:
    """Fields of the first `<!--enpproperty ... /enpproperty-->` comment, names lower-cased,
    inner tags replaced by a space, entities decoded; the first of a repeated field wins."""
    m = _ENP.search(text)
    if m is None:
        return {}
    out: dict[str, str] = {}
    for name, value in _ENP_FIELD.findall(m.group(1)):
        out.setdefault(name.lower(), html.unescape(_TAG.sub(" ", value)))
    return out


# ---------------------------------------------------------------- page labels

_LABEL = re.compile(r"第?\s*([A-Za-z]?\d{1,3})\s*版?\s*[:：]\s*(.*)", re.S)
_LABEL_BARE = re.compile(r"第?\s*([A-Za-z]?\d{1,3})\s*版")


def parse_page_label(text: str | None) -> tuple[str, str | None] | None:
    """`第01版：要闻`, `01版：要闻`, `A01： 头版`, `第A01版：头版` → (page_no, page_name)."""
    text = normalize_ws(text)
    if not text:
        return None
    m = _LABEL.search(text)
    if not m:
        m2 = _LABEL_BARE.fullmatch(text)
        return (m2[1].upper(), None) if m2 else None
    return m[1].upper(), normalize_ws(m[2])


# ---------------------------------------------------------------- page (版面)


@dataclass
class PageLink:
    """One entry of the day's page list."""

    url: str
    page_no: str | None
    page_name: str | None


@dataclass
class Page:
    """A page (版面) as `parse_page` reads it."""

    url: str
    page_no: str | None
    page_name: str | None
    pdf_url: str | None
    image_url: str | None
    pages: list[PageLink]  # the day's pages, this one included
    articles: list[str]  # this page's article URLs, in reading order


def absolute_url(base: str, href: str | None) -> str | None:
    """href resolved against base, fragment dropped; None where there is no link to follow."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("javascript:", "#", "mailto:")):
        return None
    return urljoin(base, href).split("#", 1)[0]


def parse_page(text: str, url: str, root: str | None = None) -> Page:
    """A page (版面). Where each field comes from, in order:

    - page_no, page_name: this page's entry in the day's page list; then, for the number, the
      `enpproperty` comment's `<founder-pagenum>`; then the first label printed outside links;
    - pages: the `id="pageLink"` links; without any, the node links of this page's day folder;
    - articles: content links under `root` (default: the page's folder), the list's in
      document order, then those only the image map has;
    - pdf_url: the first link to a .pdf; image_url: the scan the image map lies on.
    """
    doc = html_tree(text)
    root = root or url.rsplit("/", 1)[0] + "/"
    base_el = doc.find(".//base[@href]")
    base = urljoin(url, base_el.get("href")) if base_el is not None else url
    pages = _page_list(doc, base, url)
    page_no, page_name = _own_label(doc, text, url, pages)
    return Page(url, page_no, page_name, _pdf_url(doc, base), _scan_url(doc, base), pages,
                _article_links(doc, base, root))


# The page list's id repeats on every entry (so select by attribute), spelled in any of these.
_PAGE_LIST = "//a[@id='pageLink' or @id='pagelink' or @id='PageLink']"


def _page_list(doc: lxml.html.HtmlElement, base: str, url: str) -> list[PageLink]:
    """The day's pages, each once, in document order, with the label its link prints."""
    pages = _page_links(doc.xpath(_PAGE_LIST), base, lambda link: True)
    if not pages:
        folder = url.rsplit("/", 1)[0] + "/"
        pages = _page_links(doc.xpath("//a[@href]"), base,
                            lambda link: link.startswith(folder) and is_page_url(link))
    return pages


def _page_links(anchors: list, base: str, wanted: Callable[[str], bool]) -> list[PageLink]:
    out: list[PageLink] = []
    seen: set[str] = set()
    for a in anchors:
        link = absolute_url(base, a.get("href"))
        if link and link not in seen and wanted(link):
            seen.add(link)
            out.append(PageLink(link, *(parse_page_label(a.text_content()) or (None, None))))
    return out


def _own_label(doc: lxml.html.HtmlElement, text: str, url: str,
               pages: list[PageLink]) -> tuple[str | None, str | None]:
    page_no = page_name = None
    own = next((p for p in pages if p.url == url), None)
    if own and own.page_no:
        page_no, page_name = own.page_no, own.page_name
    if not page_no:
        page_no = normalize_ws(parse_enpproperty(text).get("founder-pagenum"))
    if not page_no or not page_name:
        label = _printed_label(doc)
        if label:
            page_no, page_name = page_no or label[0], page_name or label[1]
    return page_no, page_name


_LABEL_HOLDERS = ("p", "span", "td", "div", "strong", "b", "font")


def _printed_label(doc: lxml.html.HtmlElement) -> tuple[str, str | None] | None:
    """The first short text outside links that reads like a page label (links are other pages')."""
    for el in doc.iter(*_LABEL_HOLDERS):
        text = el.text_content()
        if (not text or len(text) > 40 or next(el.iterancestors("a"), None) is not None
                or next(el.iterdescendants("a"), None) is not None):
            continue
        label = parse_page_label(text)
        if label:
            return label
    return None


def _article_links(doc: lxml.html.HtmlElement, base: str, root: str) -> list[str]:
    # Only links under root: a page also links other papers of the same publisher.
    hrefs = ([a.get("href") for a in doc.xpath("//a[@href]")]
             + [area.get("href") for area in doc.xpath("//map//area[@href]")])
    links = (absolute_url(base, href) for href in hrefs)
    return list(dict.fromkeys(link for link in links if link and is_content_url(link) and link.startswith(root)))


def _pdf_url(doc: lxml.html.HtmlElement, base: str) -> str | None:
    for a in doc.xpath("//a[@href]"):
        link = absolute_url(base, a.get("href"))
        if link and urlsplit(link).path.lower().endswith(".pdf"):
            return link
    return None


def _scan_url(doc: lxml.html.HtmlElement, base: str) -> str | None:
    img = doc.xpath("//img[@usemap]") or doc.xpath("//map/following-sibling::img")
    return absolute_url(base, img[0].get("src")) if img else None
