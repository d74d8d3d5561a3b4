"""Pure parsing of Founder (方正) e-paper pages, both generations. No Scrapy imports.

Everything here leans on what all Founder sites share (the `enpproperty` comment,
`<founder-content>`, `id="pageLink"` links, content links, the PagePicMap image map,
`period.xml`) and only falls back to generic HTML structure; no template's class names.
Article pages are parsed in `crawler.founder_article`, on the helpers here.
"""
from __future__ import annotations

import bisect
import codecs
import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
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
        info = codecs.lookup(name)
    except LookupError:
        return None
    # base64, rot13, zlib, hex…: codecs, but not text encodings (bytes.decode refuses them).
    return info.name if getattr(info, "_is_text_encoding", True) else None


_REFRESH = re.compile(r"""http-equiv=["']?refresh["']?[^>]*content=["'][^"']*url=([^"'>\s]+)""", re.I)


def latest_target(text: str, url: str, root: str) -> str | None:
    """The newest issue's first page, from the latest-issue page at `url`: its meta refresh
    target, else the first page of its page list; None when it names neither."""
    m = _REFRESH.search(text)
    if m:
        return absolute_url(url, m.group(1))
    page = parse_page(text, url, root)
    return page.pages[0].url if page.pages else None


def page_text(body: bytes, content_type: str = "") -> str:
    """The text of a response that should be a page or a calendar; ValueError when its
    Content-Type says it is something else. The header's charset is decode_html's hint."""
    ctype = content_type.lower()
    if ctype and not any(t in ctype for t in ("html", "xml", "text/plain")):
        raise ValueError(f"not HTML ({ctype.split(';')[0]})")
    header = re.search(r"charset=([\w-]+)", ctype)
    return decode_html(body, header.group(1) if header else None)[0]


def decode_html(body: bytes, header_encoding: str | None = None) -> tuple[str, str]:
    """Decode page bytes; return (text, encoding used).

    Bytes that are valid UTF-8 (or nearly all: see below) are UTF-8, whatever a header or `<meta>` claims: Chinese text
    in GBK is practically never valid UTF-8, while GB18030 decodes almost any bytes, so a
    lying gb2312 declaration can only be caught this way round. Otherwise the header
    charset, the `<meta>` charset, then GB18030, each strictly.
    """
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # A UTF-8 page with a few bytes of another encoding (a title pasted in GBK): UTF-8, the
    # foreign bytes as U+FFFD, so that the rest stays readable (head fields then prefer the
    # comment's copy). A GBK page read as UTF-8 has far more bad sequences than good ones.
    mixed = body.decode("utf-8", "replace")
    bad = mixed.count("\ufffd")
    if sum(1 for c in mixed if c > "\x7f") - bad >= 2 * bad:
        return mixed, "utf-8"
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
    """The document tree of a decoded page; ValueError for an empty one, and for one nested
    deeper than libxml2 reads (256 elements: it stops there silently, and the rest of the
    page, an article's body included, would be lost without a word)."""
    # lxml refuses str input carrying an XML encoding declaration.
    m = _XML_DECL.match(text)
    if m:
        text = text[m.end():]
    if not text or text.isspace():
        raise ValueError("empty page")
    parser = lxml.html.HTMLParser()
    doc = lxml.html.document_fromstring(text, parser=parser)
    if any("Excessive depth" in e.message for e in parser.error_log):
        raise ValueError("page nested deeper than 256 elements: the HTML parser stops reading there")
    return doc


# ---------------------------------------------------------------- period.xml


_PERIOD_DATE = re.compile(r"(\d{4})\D{1,3}(\d{1,2})\D{1,3}(\d{1,2})|(\d{4})(\d{2})(\d{2})")


def parse_period_date(text: str | None) -> dt.date | None:
    """`2023-08-03`, `2023-8-3`, `2023/8/3`, `20230803` → a date; None for anything else."""
    m = _PERIOD_DATE.search(text or "")
    if not m:
        return None
    y, mo, d = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
    try:
        return dt.date(int(y), int(mo), int(d))
    except ValueError:
        return None


_DOCTYPE = re.compile(rb"<!DOCTYPE\b", re.I)
_SUBSET_END = re.compile(rb"\]\s*>")
_UNDECLARED = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)[A-Za-z_][\w.-]*;")


def _without_doctype(body: bytes) -> bytes:
    """The calendar without its document type declaration and the references to entities it
    declared: a calendar needs neither, and such entities (a billion-laughs file) make libxml2
    stop at their first use, which would read as a calendar without the periods after it
    ("no issue")."""
    m = _DOCTYPE.search(body, 0, 4096)
    if m is None:
        return body
    gt, bracket = body.find(b">", m.end()), body.find(b"[", m.end())
    if bracket != -1 and (gt == -1 or bracket < gt):  # an internal subset: up to its "]>"
        end = _SUBSET_END.search(body, bracket)
        rest = body[end.end():] if end else b""
    else:
        rest = body[gt + 1:] if gt != -1 else b""
    return body[:m.start()] + _UNDECLARED.sub(b"", rest)


def parse_period_xml(body: bytes) -> list[tuple[dt.date, str]]:
    """(issue date, front page file name) for every `<period>` of a month calendar.

    ValueError when the file is not a calendar: not XML, or an HTML page (a server's error
    or login page served with status 200), which must not read as "no issue this month"."""
    root = lxml.etree.fromstring(_without_doctype(body), lxml.etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True))
    if root is None:
        raise ValueError("period.xml is not XML")
    periods = list(root.iter("period"))
    if not periods and (str(root.tag).lower() in ("html", "body", "head")
                        or root.find(".//body") is not None or root.find(".//BODY") is not None):
        raise ValueError("period.xml is an HTML page, not a calendar")
    out = []
    for period in periods:
        day = parse_period_date(period.findtext("period_date"))
        if day is not None:
            out.append((day, (period.findtext("front_page") or "").strip()))
    return out


# ---------------------------------------------------------------- URL shapes

# Articles: content_ID, cID, and the nw.D110000<code>_YYYYMMDD_K-NN family (人民日报's older
# edition and its publisher's papers); pages: node_K and nbs.D110000<code>_NN.
_CONTENT = re.compile(r"/(?:content_[\w-]+|c\d+|nw\.[\w.-]+)\.html?$", re.I)
_NODE = re.compile(r"/(?:node_[\w-]+|nbs\.[\w.-]+)\.html?$", re.I)
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
    """A page (版面) URL: node_K.htm(l) or nbs.D110000<code>_NN.htm."""
    return bool(_NODE.search(urlsplit(url).path))


def canonical_url(url: str) -> str:
    """An article's one URL: its path names the article, so a query (`?div=-1`, `?div=0`: the
    display mode) is dropped, and so is a fragment. A URL without either is returned as is."""
    if "?" not in url and "#" not in url:
        return url
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


def calendar_url(root: str, generation: str, month: dt.date, name: str = "period.xml") -> str:
    """The month's calendar under the e-paper root, for generation "pc" or "html"; `name` is
    the site's name for it (`period.xml`, `paper_existed.xml`)."""
    if generation == "pc":
        return urljoin(root, f"pc/layout/{month:%Y%m}/{name}")
    return urljoin(root, f"html/{month:%Y-%m}/{name}")


def day_url(root: str, generation: str, day: dt.date, file_name: str) -> str:
    """A page file of the day's folder (e.g. the front page named in period.xml)."""
    if generation == "pc":
        return urljoin(root, f"pc/layout/{day:%Y%m}/{day:%d}/{file_name}")
    return urljoin(root, f"html/{day:%Y-%m}/{day:%d}/{file_name}")


LATEST_PATHS = {"pc": "pc/layout/index.html", "html": "paperindex.htm"}
FRONT_PAGE_GUESSES = {"pc": ("node_01.html", "node_1.html"), "html": ("node_2.htm", "node_1.htm")}


# ---------------------------------------------------------------- enpproperty

# Every regex applied to page text runs in linear time: no lazy or unbounded scan that a
# missing end marker could restart at each of many openings (tests/test_founder_linear.py).
_ENP_START = re.compile(r"<!--\s*enpproperty", re.I)
_ENP_END = re.compile(r"/enpproperty\s*-->", re.I)
_ENP_TOKEN = re.compile(r"<(/?)([a-z_-]+)>", re.I)
def _tags_to_spaces(text: str) -> str:
    """Every `<…>` (from a `<` to the next `>`) replaced by a space, in one pass."""
    out, at = [], 0
    while True:
        start = text.find("<", at)
        end = text.find(">", start + 1) if start >= 0 else -1
        if end < 0 or end == start + 1:
            if end == start + 1 and start >= 0:  # "<>" is no tag: keep it, look further
                out.append(text[at:end + 1])
                at = end + 1
                continue
            break
        out.append(text[at:start] + " ")
        at = end + 1
    out.append(text[at:])
    return "".join(out)


def enpproperty_text(text: str) -> str | None:
    """The inside of the first `<!--enpproperty ... /enpproperty-->` comment, or None."""
    start = _ENP_START.search(text)
    if start is None:
        return None
    end = _ENP_END.search(text, start.end())  # no end after the first opening: none after any
    return text[start.end():end.start()] if end else None


def parse_enpproperty(text: str) -> dict[str, str]:
    """Fields of the first `<!--enpproperty ... /enpproperty-->` comment, names lower-cased,
    inner tags replaced by a space, entities decoded; the first of a repeated field wins.

    A field is `<name>` up to the next `</name>`; tags inside a field are its text."""
    inner = enpproperty_text(text)
    if inner is None:
        return {}
    tokens = list(_ENP_TOKEN.finditer(inner))
    closings: dict[str, list[int]] = {}  # name → indexes of its closing tags in tokens, ascending
    for i, t in enumerate(tokens):
        if t[1]:
            closings.setdefault(t[2].lower(), []).append(i)
    out: dict[str, str] = {}
    done = 0  # text before this offset belongs to a field already read
    for i, t in enumerate(tokens):
        if t[1] or t.start() < done:
            continue
        name = t[2].lower()
        ends = closings.get(name, [])
        k = bisect.bisect_right(ends, i)
        if k == len(ends):
            continue
        close = tokens[ends[k]]
        out.setdefault(name, html.unescape(_tags_to_spaces(inner[t.end():close.start()])))
        done = close.end()
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
class ArticleLink:
    """One article a page links, by its canonical URL."""

    url: str
    title: str | None  # as the page's list prints it (script-written titles read); None: no text
    in_list: bool  # linked from the page's text (its list, or a box of other pages' articles)
    in_map: bool  # an area of the page's image map


@dataclass
class Page:
    """A page (版面) as `parse_page` reads it."""

    url: str
    page_no: str | None
    page_name: str | None
    pdf_url: str | None
    image_url: str | None
    pages: list[PageLink]  # the day's pages, this one included
    articles: list[str]  # this page's own articles (canonical URLs), in reading order
    boxed: list[str] = field(default_factory=list)  # articles it links that it does not print
    links: list[ArticleLink] = field(default_factory=list)  # every article link, own and boxed
    promise: str | None = None  # why the page should link articles (when it links none it can read)


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
    - links: content links under `root` (default: the page's folder) by canonical URL, the
      text links in document order, then those only the image map has;
    - articles (its own) and boxed: with an image map that links articles, the page's own
      articles are the map's, and a text link to an article missing from the map is a box of
      another page's (今日关注, 导读); without one, every linked article is its own;
    - pdf_url: the first link to a .pdf that is not another page's (one beside another page's
      entry of the page list); image_url: the scan the image map lies on;
    - promise: when the page shows articles by other signs (image-map areas, script-written
      titles, unrecognised links into the issue's folder, an article count in the comment).
    """
    doc = html_tree(text)
    root = root or url.rsplit("/", 1)[0] + "/"
    base_el = doc.find(".//base[@href]")
    base = urljoin(url, base_el.get("href")) if base_el is not None else url
    pages = _page_list(doc, base, url)
    page_no, page_name = _own_label(doc, text, url, pages)
    links = _article_links(doc, base, root)
    mapped = any(link.in_map for link in links)
    own = [link.url for link in links if link.in_map or not mapped]
    boxed = [link.url for link in links if mapped and not link.in_map]
    return Page(url, page_no, page_name, _pdf_url(doc, base, url), _scan_url(doc, base), pages, own, boxed,
                links, _promise(doc, text, base, url))


def place_articles(pages: list[Page | None]) -> dict[str, list[str]]:
    """Which page each article of a day is filed under (page URL → its articles, in order): the
    first page, in page order, that prints it (its own list or image map); an article that only
    boxes link (no page read prints it) goes to the first page boxing it, after that page's own.
    Each article once; None stands for a page that could not be read."""
    owner: dict[str, str] = {}
    for page in pages:
        for url in page.articles if page else ():
            owner.setdefault(url, page.url)
    for page in pages:
        for url in page.boxed if page else ():
            owner.setdefault(url, page.url)
    placed: dict[str, list[str]] = {}
    for page in pages:
        for url in (page.articles + page.boxed) if page else ():
            if owner.get(url) == page.url:
                owner[url] = ""  # placed: not again
                placed.setdefault(page.url, []).append(url)
    return placed


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


_VIEW = re.compile(r"""view\(\s*(["'])(.*?)\1\s*\)""", re.S)
_FILE_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".zip", ".doc", ".css", ".js", ".xml")


def link_title(a: lxml.html.HtmlElement) -> str | None:
    """The title a list link prints: its text, a `document.write(view("…"))` script read as the
    text it writes, `<br>` as a space."""
    parts: list[str] = []
    for node in a.iter():
        if node is not a and node.tag is lxml.etree.Comment:
            parts.append(node.tail or "")
            continue
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if tag == "script":
            parts += [html.unescape(m[2]) for m in _VIEW.finditer(node.text or "")]
        elif tag == "br":
            parts.append(" ")
        elif node is a or tag not in ("style", "noscript"):
            parts.append(node.text or "")
        if node is not a:
            parts.append(node.tail or "")
    return normalize_ws(_tags_to_spaces("".join(parts)))


def _article_links(doc: lxml.html.HtmlElement, base: str, root: str) -> list[ArticleLink]:
    # Only links under root: a page also links other papers of the same publisher.
    found: dict[str, ArticleLink] = {}
    for el, in_map in [(a, False) for a in doc.xpath("//a[@href]")] + [(a, True) for a in doc.xpath("//map//area[@href]")]:
        link = absolute_url(base, el.get("href"))
        if not link or not is_content_url(link):
            continue
        link = canonical_url(link)
        if not link.startswith(root):
            continue
        entry = found.get(link)
        if entry is None:
            entry = found[link] = ArticleLink(link, None, False, False)
        if in_map:
            entry.in_map = True
        else:
            entry.in_list = True
            entry.title = entry.title or link_title(el)
    return [e for e in found.values() if e.in_list] + [e for e in found.values() if not e.in_list]


# A folder's index (a theme's "home" link written relative to the page): no document of the issue.
_INDEX = re.compile(r"(?:index|default)\.s?html?|", re.I)


def _promise(doc: lxml.html.HtmlElement, text: str, base: str, url: str) -> str | None:
    """Why this page should link articles, whether or not their links are recognised: areas of
    an image map, titles written by script, links into the issue's folder that are neither
    pages nor files, an article count in the `enpproperty` comment."""
    folder = url.rsplit("/", 1)[0] + "/"
    areas = [link for link in (absolute_url(base, a.get("href")) for a in doc.xpath("//map//area[@href]"))
             if link and link.startswith(folder) and not is_page_url(link)
             and not urlsplit(link).path.lower().endswith(_FILE_SUFFIXES)]
    if areas:
        return f"its image map has {len(areas)} area(s) linking into the issue"
    scripted = [s for s in doc.xpath("//a//script") if _VIEW.search(s.text or "")]
    if scripted:
        return f"it writes {len(scripted)} title(s) by script"
    inside = {link for link in (absolute_url(base, a.get("href")) for a in doc.xpath("//a[@href]"))
              if link and link.startswith(folder) and link.split("?", 1)[0] != url.split("?", 1)[0]
              and not is_page_url(link) and not urlsplit(link).path.lower().endswith(_FILE_SUFFIXES)
              and not _INDEX.fullmatch(link.split("?", 1)[0].rsplit("/", 1)[1])}
    if inside:
        return f"it links {len(inside)} document(s) of the issue's folder"
    for name, value in parse_enpproperty(text).items():
        if "article" in name and value.strip().isdigit() and int(value) > 0:
            return f"its enpproperty comment counts {int(value)} article(s) ({name})"
    return None


def _pdf_url(doc: lxml.html.HtmlElement, base: str, url: str) -> str | None:
    """The page's own PDF. A page list may carry each page's PDF beside its entry: a PDF link
    whose nearest enclosing element with page-list links holds exactly one page's link is that
    page's; the first PDF link that is not another page's is this page's."""
    for a in doc.xpath("//a[@href]"):
        link = absolute_url(base, a.get("href"))
        if link and urlsplit(link).path.lower().endswith(".pdf"):
            owner = _entry_page(a, base)
            if owner is None or canonical_url(owner) == canonical_url(url):  # after a redirect, `?div=`
                return link
    return None


def _entry_page(a: lxml.html.HtmlElement, base: str) -> str | None:
    """The one page of the page list whose entry holds `a`; None when `a` is outside every
    entry (the nearest element with page-list links lists several pages, or none does)."""
    for el in a.iterancestors():
        listed = {absolute_url(base, x.get("href")) for x in el.xpath(_PAGE_LIST.replace("//a", ".//a"))}
        if listed:
            return listed.pop() if len(listed) == 1 else None
    return None


def _scan_url(doc: lxml.html.HtmlElement, base: str) -> str | None:
    img = doc.xpath("//img[@usemap]") or doc.xpath("//map/following-sibling::img")
    return absolute_url(base, img[0].get("src")) if img else None
