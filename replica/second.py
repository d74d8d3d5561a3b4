"""Templates of the second batch of real sites (FOUNDER.md "More variants"), each a variant of
the regular templates in where it files things and how it names them:

- `html-kjjrsb` (科技金融时报): the month calendar is `html/YYYY-MM/paper_existed.xml`, root
  `<periodlist>`, `<period id>` children, `<paper_id>1,513</paper_id>`, empty `<rmp_*>`; no
  `period.xml`. The front page is `node_2697.htm` every day.
- `html-snb` (山南报, 中国环境报): no month calendar at all; the front page is `node_7.htm`
  every day; page 01 is filed as `01B` (`founder-pagenum`, the folder of its PDF and scan,
  under `html/1/…`) while printed `01`.
- `pc-ahnc` (安徽日报农村版): articles `pc/con/YYYYMM/DD/cNNN.html`, page PDFs under `pc/att/`,
  scans and photos under `pc/pic/`; every entry of the page list carries that page's own PDF
  link (page 1's first), and an advertisement page links nothing but the theme's `index.html`.

The site's plan (`plan.py`) is the same as every template's; only paths and markup differ.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from epaper.replica import tpl_html, tpl_pc
from epaper.replica.layout import Layout, rand_uuid
from epaper.replica.markup import PageView, label

TEMPLATES = ("html-kjjrsb", "html-snb", "pc-ahnc")  # of layout.TEMPLATES, rendered here
FRONT_NODE = {"html-kjjrsb": 2697, "html-snb": 7}
PAPER_ID = "1,513"  # written with a thousands separator, as the real calendar does


@dataclass(frozen=True)
class SecondLayout(Layout):
    """Where the second batch's templates put their files."""

    def period(self, d: date) -> str | None:
        if self.template == "html-kjjrsb":
            return f"html/{d:%Y-%m}/paper_existed.xml"
        if self.template == "html-snb":
            return None  # no calendar: the crawl learns the front page from the latest issue
        return super().period(d)

    def page_file(self, index: int, node_id: int) -> str:
        if self.template in FRONT_NODE:
            return f"node_{FRONT_NODE[self.template] + index}.htm"
        return super().page_file(index, node_id)

    def article(self, d: date, aid: int, part2: bool = False, page: int = 1, rank: int = 1) -> str:
        if self.template == "pc-ahnc":
            return f"pc/con/{d:%Y%m}/{d:%d}/c{aid}.html"
        return super().article(d, aid, False, page, rank)

    def filed_no(self, page_no: str) -> str:
        """The number a page is filed under (folders, file names, founder-pagenum)."""
        return f"{page_no}B" if self.template == "html-snb" and page_no == "01" else page_no

    def page_pdf(self, d: date, page_no: str, rng: random.Random) -> str:
        if self.template == "pc-ahnc":
            return f"pc/att/{d:%Y%m}/{d:%d}/{rand_uuid(rng)}.pdf"
        if self.template == "html-snb":
            return f"html/1/{d:%Y-%m}/{d:%d}/{self.filed_no(page_no)}/{rng.randint(10**12, 10**13)}.pdf"
        return super().page_pdf(d, page_no, rng)

    def page_scan(self, d: date, page_no: str, rng: random.Random) -> str:
        if self.template == "pc-ahnc":
            return f"pc/pic/{d:%Y%m}/{d:%d}/{rand_uuid(rng)}.jpg"
        if self.template == "html-snb":
            return f"html/1/{d:%Y-%m}/{d:%d}/{self.filed_no(page_no)}/{rng.randint(10**12, 10**13)}.jpg"
        return super().page_scan(d, page_no, rng)


def layout_for(template: str) -> Layout:
    return SecondLayout(template) if template in TEMPLATES else Layout(template)


def calendar(lay: Layout, month: list[tuple[date, str]]) -> str | None:
    """This template's own month calendar, from (issue date, front page file) per issue; None
    where it is the regular `period.xml`."""
    if lay.template != "html-kjjrsb":
        return None
    periods = "".join(
        f'\t<period id="{36775 + n * 7}">\n\t\t<period_name>{d}</period_name>\n'
        f"\t\t<paper_id>{PAPER_ID}</paper_id>\n\t\t<period_date>{d}</period_date>\n"
        "\t\t<rmp_exe_path></rmp_exe_path>\n\t\t<rmp_pic_path></rmp_pic_path>\n"
        "\t\t<rmp_xml_path></rmp_xml_path>\n\t\t<rmp_build_time></rmp_build_time>\n"
        f"\t\t<front_page>{front}</front_page>\n\t</period>\n"
        for n, (d, front) in enumerate(month))
    return f'\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<periodlist>\n{periods}</periodlist>\n'


def page_ahnc(v: PageView, pdfs: list[str]) -> str:
    """pc-ahnc's page: each page-list entry with its own PDF icon; an empty page (an
    advertisement) links only the theme's index.html besides the day's pages."""
    nav = "\n".join(f'<li><a id="pageLink" href="{h}">{t}</a> '
                    f'<a href="{pdf}" class="pdf" title="PDF"><img src="{v.static}/pdf.gif"></a></li>'
                    for (h, t), pdf in zip(v.nav, pdfs))
    rows = "\n".join(f'<li><a href="{h}">{t}</a></li>' for h, t in v.items)
    areas = "".join(f'<area shape="polygon" coords="{c}" href="{h}">' for h, c in v.hotspots)
    picture = (f'<img src="{v.scan}" usemap="#PagePicMap" width="420"><map name="PagePicMap">{areas}</map>'
               if v.items or v.hotspots else
               f'<a href="index.html"><img src="{v.scan}" usemap="#PagePicMap" width="420"></a>')
    return tpl_pc.HEAD.format(title=f"{v.paper}", static=v.static) + f"""<body>
<div class="header"><a href="{v.home}">数字报首页</a></div>
<div class="wrap">
<div class="bmnav"><ul class="bmlist">
{nav}
</ul></div>
<div class="bmpic">
<p class="bmname">{label(v.page_no, v.page_name, v.ban_form)} <a href="{v.pdf}" target="_blank">PDF下载</a></p>
{picture}
</div>
<div class="newslist"><ul>
{rows}
</ul></div>
</div>
{tpl_pc.FOOTER}
</body>
</html>
"""


def theme_files(lay: Layout, day: str, mode: str) -> dict[str, str]:
    """pc-ahnc's theme: an empty page links `index.html` of its day's folder, a page of the
    theme (no document of the issue) that sends readers to the latest issue."""
    if lay.template != "pc-ahnc" or mode != "ad":
        return {}
    return {f"{day}/index.html": ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
                                  '<title>数字报</title></head><body><a href="../../index.html">数字报首页</a>'
                                  "</body></html>\n")}


def render_page(lay: Layout, v: PageView, pdfs: list[str]) -> str:
    if lay.template == "pc-ahnc":
        return page_ahnc(v, pdfs)
    return tpl_html.page_table(v)


def article_page(lay: Layout, v, rng: random.Random) -> str:
    if lay.template == "pc-ahnc":
        return tpl_pc.article_page("pc-con", v, rng)
    return tpl_html.article_page("html-table", v, rng)
