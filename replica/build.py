"""Build a replica e-paper site and its ground truth (``truth.json``).

Media (page PDFs, page scans, article images): ``media="small"`` (the default, for fast tests)
gives each the same few bytes; ``media="real"`` gives each its own bytes of a size drawn as on
real portals (PDF 1-3 MB, scan 300 KB-1 MB, image 50-200 KB): a valid magic header, then
seeded pseudo-random bytes that do not compress, the same for the same seed and path. The
media never change the site's pages or its truth.
"""
from __future__ import annotations

import json
import random
import shutil
from datetime import date
from pathlib import Path

from epaper.replica import second, tpl_cells, tpl_html, tpl_pc
from epaper.replica.content import Article
from epaper.replica.dedupe import duplicate_of
from epaper.replica.layout import (BOM_CRLF_TEMPLATES, DEFAULT_TEMPLATE, GB2312_TEMPLATES, SPACED_NAME_TEMPLATES,
                                   TEMPLATES, UNPADDED_TEMPLATES, Layout, rel)
from epaper.replica.markup import ArticleView, PageView, esc, label, page_enp
from epaper.replica.plan import Issue, Page, issue_dates, plan_issues

__all__ = ["TEMPLATES", "build_site"]

PAPER = "安徽经济报"
PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
JPG_BYTES = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
GIF_BYTES = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c"
                          "00000000010001000002024401003b")
MEDIA_MODES = ("small", "real")
# (smallest, largest) bytes of a "real" media file, by kind
REAL_SIZES = {"pdf": (1_000_000, 3_000_000), "scan": (300_000, 1_000_000), "image": (50_000, 200_000)}


def media_bytes(kind: str, path: str, seed: int, mode: str) -> bytes:
    """The bytes of the media file at `path` (kind pdf, scan or image) in that mode."""
    if mode == "small":
        return PDF_BYTES if kind == "pdf" else JPG_BYTES
    rng = random.Random(f"{seed}:{path}")  # its own generator: the site's plan is not disturbed
    size = rng.randint(*REAL_SIZES[kind])
    if kind == "pdf":
        head, tail = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n"
    else:
        head, tail = bytes.fromhex("ffd8ffe000104a46494600010100000100010000"), b"\xff\xd9"
    return head + rng.randbytes(size - len(head) - len(tail)) + tail


def build_site(out_dir: Path, *, start: date, end: date, generation: str = "pc",
               template: str | None = None, seed: int = 1, root_path: str = "/ahjjb/",
               media: str = "small") -> Path:
    """Write ``out_dir/site`` (serve it at ``root_path``) and ``out_dir/truth.json``; ``media``
    is "small" or "real" (see the module's docstring)."""
    template = template or DEFAULT_TEMPLATE[generation]
    if media not in MEDIA_MODES:
        raise ValueError(f"media must be one of {', '.join(MEDIA_MODES)}, got {media!r}")
    if TEMPLATES.get(template) != generation:
        raise ValueError(f"template {template!r} is not of generation {generation!r}")
    if end < start:
        raise ValueError("end is before start")
    rng = random.Random(f"{seed}:{template}")
    lay = second.layout_for(template)
    dates, no_issue = issue_dates(start, end)
    issues = plan_issues(rng, dates, generation)
    files: dict[str, bytes | str] = {}
    media_files: list[tuple[str, str]] = []  # (path, kind) of each page PDF, scan and image
    truth_issues, rows = {}, []
    for issue in issues:
        truth_issues[f"{issue.date}"], day_rows = _render_issue(rng, lay, issue, files, media_files)
        rows += day_rows
    for path, kind in media_files:
        files[path] = media_bytes(kind, path, seed, media)
    dups = duplicate_of([r["body"] for r in rows])
    for row, j in zip(rows, dups):
        row["duplicate_of_url"] = None if j is None else rows[j]["url"]
    _write_calendar(lay, start, end, issues, files)
    truth = {"generation": generation, "template": template, "seed": seed,
             "root_path": root_path, "start": f"{start}", "end": f"{end}",
             "issues": truth_issues, "no_issue_dates": [f"{d}" for d in no_issue],
             "articles": rows}
    site = Path(out_dir) / "site"
    if site.exists():
        shutil.rmtree(site)
    encoding = "gb2312" if template in GB2312_TEMPLATES else "utf-8"
    made: set[Path] = set()
    for path in sorted(files):
        data = files[path]
        target = site / path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if isinstance(data, str):
            page = path.endswith((".htm", ".html"))
            enc = encoding if page else "utf-8"
            if page and template in BOM_CRLF_TEMPLATES:
                data = "\ufeff" + data.replace("\r\n", "\n").replace("\n", "\r\n")
            data = data.encode(enc, errors="xmlcharrefreplace")
        target.write_bytes(data)
    (Path(out_dir) / "truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return site


def _render_issue(rng: random.Random, lay: Layout, issue: Issue, files: dict[str, bytes | str],
                  media_files: list[tuple[str, str]]) -> tuple[dict, list[dict]]:
    d, gen = issue.date, lay.generation
    day = lay.day_dir(d)
    static = "pc/static" if gen == "pc" else "html/static"
    paths = [f"{day}/{lay.page_file(p.index, p.node_id)}" for p in issue.pages]
    aid = rng.randint(10**5, 9 * 10**5) if gen == "html" else rng.randint(10**7, 9 * 10**7)
    for p in issue.pages:  # the template's way of printing labels
        if lay.template in UNPADDED_TEMPLATES and p.page_no[-2:].isdigit():
            p.page_no = p.page_no[:-2] + str(int(p.page_no[-2:]))
        if lay.template in SPACED_NAME_TEMPLATES and len(p.page_name) == 2:
            p.page_name = " ".join(p.page_name)
    for p in issue.pages:  # ids and URLs first: pages link to articles of other pages
        for rank, a in enumerate(p.articles, 1):
            aid += 1
            a.aid = aid
            a.url = lay.article(d, aid, part2=gen == "html" and rng.random() < 0.05, page=p.index + 1, rank=rank)
            for img in a.images:
                img.url = lay.article_image(d, rng)
                media_files.append((img.url, "image"))
        aid += rng.randint(20, 300)
    # pc-ahnc's page list carries every page's PDF: all of them are drawn first.
    pdfs = [lay.page_pdf(d, p.page_no, rng) for p in issue.pages] if lay.template == "pc-ahnc" else []
    nav_form, seen = rng.randrange(6), set()
    pages_truth, rows = [], []
    for k, p in enumerate(issue.pages):
        path = paths[k]
        pdf = pdfs[k] if pdfs else lay.page_pdf(d, p.page_no, rng)
        scan = lay.page_scan(d, p.page_no, rng)
        media_files += [(pdf, "pdf"), (scan, "scan")]
        # The page's articles are the ones it prints, in list order, then the map's: links to
        # other pages' articles (a 转版 link, a 今日关注 box) do not move them.
        printed = {id(a) for a in p.articles}
        order = [a for a in _dedupe(p.list_links + p.map_links) if id(a) in printed and a.url not in seen]
        seen.update(a.url for a in order)
        box = _box(rng, lay, issue, p)
        v = PageView(
            date=d, page_no=p.page_no, page_name=p.page_name, paper=PAPER,
            nav=[(rel(q, path), label(o.page_no, o.page_name, nav_form))
                 for q, o in zip(paths, issue.pages)],
            items=[(rel(a.url, path), esc(a.title_printed)) for a in p.list_links],
            hotspots=[(rel(a.url, path), _coords(rng, n)) for n, a in enumerate(p.map_links)],
            pdf=rel(pdf, path), scan=rel(scan, path),
            prev=rel(paths[k - 1], path) if k else None,
            next=rel(paths[k + 1], path) if k + 1 < len(paths) else None,
            home=rel(lay.latest(), path), ban_form=rng.randrange(6), pdf_style=rng.randrange(3),
            enp=page_enp(d, lay.filed_no(p.page_no) if isinstance(lay, second.SecondLayout) else p.page_no, PAPER),
            static=rel(static, path),
            box=[(rel(a.url, path), esc(a.title_printed)) for a in box],
            query="?div=-1" if lay.template in BOM_CRLF_TEMPLATES else "",
            twins=[rel(a.url, path) for a in p.map_links if lay.template in BOM_CRLF_TEMPLATES and rng.random() < 0.3])
        if lay.template in second.TEMPLATES:
            files[path] = second.render_page(lay, v, [rel(q, path) for q in pdfs])
        else:
            files[path] = (tpl_cells.render_page(v) if lay.template in tpl_cells.TEMPLATES
                           else tpl_pc.render_page(lay.template, v) if gen == "pc"
                           else tpl_html.render_page(lay.template, v))
        files.update(second.theme_files(lay, day, p.mode))
        pages_truth.append({"page_no": p.page_no, "page_name": p.page_name, "url": path,
                            "pdf_url": pdf, "image_url": scan, "articles": [a.url for a in order]})
        for pos, a in enumerate(order):
            rows.append(_row(a, d, p, pos, pdf))
        for a in p.articles:
            if a.url not in files:
                files[a.url] = _article_page(rng, lay, a, d, p, path, pdf, static, v)
    return {"pages": pages_truth}, rows


def _article_page(rng: random.Random, lay: Layout, a: Article, d: date, p: Page,
                  page_path: str, pdf: str, static: str, frame: PageView) -> str:
    """The article's page; `frame` is its page's view (a template may print the page around it)."""
    v = ArticleView(art=a, date=d, page_no=p.page_no, page_name=p.page_name, paper=PAPER,
                    page_href=rel(page_path, a.url), home=rel(lay.latest(), a.url),
                    pdf=rel(pdf, a.url), img_href=lambda img: rel(img.url, a.url),
                    static=rel(static, a.url),
                    siblings=[(rel(s.url, a.url), esc(s.title_printed)) for s in p.articles])
    if lay.template in tpl_cells.TEMPLATES:
        return tpl_cells.article_page(v, frame, rng)
    if lay.template in second.TEMPLATES:
        return second.article_page(lay, v, rng)
    if lay.generation == "pc":
        return tpl_pc.article_page(lay.template, v, rng)
    return tpl_html.article_page(lay.template, v, rng)


def _box(rng: random.Random, lay: Layout, issue: Issue, p: Page) -> list[Article]:
    """html-jjjcb's 今日关注 on the first page: two of its own articles, then the first article of
    each later page (printed there, not here)."""
    if lay.template != "html-jjjcb" or p.index != 0 or not p.articles:
        return []
    return p.articles[:2] + [q.articles[0] for q in issue.pages[1:] if q.articles][:7]


def _dedupe(arts: list[Article]) -> list[Article]:
    first: dict[str, Article] = {}
    for a in arts:
        first.setdefault(a.url, a)
    return list(first.values())


def _coords(rng: random.Random, n: int) -> str:
    col, row = n % 2, n // 2
    x0, y0 = 3.72 + col * 201.9, 3.74 + row * 95.3
    x1, y1 = x0 + 190.7, y0 + rng.uniform(60, 90)
    return ",".join(f"{c:g}" for c in (round(x0, 2), round(y0, 2), round(x1, 2), round(y0, 2),
                                       round(x1, 2), round(y1, 2), round(x0, 2), round(y1, 2)))


def _row(a: Article, d: date, p: Page, pos: int, pdf: str) -> dict:
    return {"url": a.url, "issue_date": f"{d}", "page_no": p.page_no, "page_index": p.index,
            "position": pos, "page_name": p.page_name, "page_pdf_url": pdf,
            "column": a.column, "intro_title": a.intro_title, "title": a.title,
            "subtitle": a.subtitle, "author": a.author, "body": a.body,
            "images": [{"url": i.url, "caption": " ".join(i.caption.split())} for i in a.images]}


def _write_calendar(lay: Layout, start: date, end: date, issues: list[Issue],
                    files: dict[str, bytes | str]) -> None:
    months: dict[str, list[Issue]] = {}
    m = date(start.year, start.month, 1)
    while m <= end:
        if lay.period(m) is not None:  # a template without calendars has None
            months[lay.period(m)] = []
        m = date(m.year + m.month // 12, m.month % 12 + 1, 1)
    for issue in issues:
        if lay.period(issue.date) is not None:
            months[lay.period(issue.date)].append(issue)
    for path, month in months.items():
        own = second.calendar(lay, [(i.date, lay.page_file(0, i.pages[0].node_id)) for i in month])
        if own:
            files[path] = own
            continue
        periods = "".join(
            f'<period id="{n + 1}">\n<period_name>{PAPER}</period_name>\n'
            f"<period_date>{i.date}</period_date>\n<period_id>{i.date:%Y%m%d}01</period_id>\n"
            f"<front_page>{lay.page_file(0, i.pages[0].node_id)}</front_page>\n</period>\n"
            for n, i in enumerate(month))
        files[path] = f'<?xml version="1.0" encoding="UTF-8"?>\n<calendar>\n{periods}</calendar>\n'
    static = "pc/static" if lay.generation == "pc" else "html/static"
    files[f"{static}/style.css"] = "body{font-family:'宋体'}\n"
    files[f"{static}/app.js"] = "function initialize(){}\nfunction showCalendar(){}\n"
    files[f"{static}/pdf.gif"] = files[f"{static}/dot.gif"] = GIF_BYTES
    if issues:
        last = issues[-1]
        front = f"{lay.day_dir(last.date)}/{lay.page_file(0, last.pages[0].node_id)}"
        target = rel(front, lay.latest())
        charset = "gb2312" if lay.template in GB2312_TEMPLATES else "utf-8"
        files[lay.latest()] = (
            f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
            f'<meta http-equiv="refresh" content="0; URL={target}"><title>{PAPER}</title>'
            "</head><body></body></html>\n")
