"""Where each template puts its files, as paths relative to the e-paper root."""
from __future__ import annotations

import posixpath
import random
import uuid
from dataclasses import dataclass
from datetime import date

#: template name -> generation
TEMPLATES: dict[str, str] = {
    "pc-rmrb": "pc",
    "pc-detail": "pc",
    "pc-con": "pc",
    "html-table": "html",
    "html-gb2312": "html",
    # the variants real sites show (FOUNDER.md "Variants seen on real sites")
    "html-kjrb": "html",
    "html-jjjcb": "html",
    "html-nbs": "html",
    "pc-hbrb": "pc",
    "html-sxjjrb": "html",  # heads in table cells, the page frame around the article (tpl_cells)
    # the second batch of real sites (FOUNDER.md "More variants"; replica/second.py)
    "html-kjjrsb": "html",
    "html-snb": "html",
    "pc-ahnc": "pc",
}
DEFAULT_TEMPLATE = {"pc": "pc-rmrb", "html": "html-table"}
GB2312_TEMPLATES = {"html-gb2312"}
BOM_CRLF_TEMPLATES = {"html-kjrb"}  # pages written with a UTF-8 BOM and CRLF line ends
UNPADDED_TEMPLATES = {"html-jjjcb"}  # page numbers printed without zero padding (第1版)
SPACED_NAME_TEMPLATES = {"html-kjrb"}  # page names with inner spaces (综 合)
NBS_CODE = "D110000renmrb"


def rel(target: str, source: str) -> str:
    """The relative href from the page at ``source`` to ``target`` (both root-relative)."""
    return posixpath.relpath(target, posixpath.dirname(source) or ".")


def rand_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True)
class Layout:
    template: str

    @property
    def generation(self) -> str:
        return TEMPLATES[self.template]

    def period(self, d: date) -> str:
        if self.generation == "pc":
            return f"pc/layout/{d:%Y%m}/period.xml"
        return f"html/{d:%Y-%m}/period.xml"

    def day_dir(self, d: date) -> str:
        if self.generation == "pc":
            return f"pc/layout/{d:%Y%m}/{d:%d}"
        return f"html/{d:%Y-%m}/{d:%d}"

    def page_file(self, index: int, node_id: int) -> str:
        """File name of a page: index is 0-based page order, node_id the html internal id."""
        if self.template == "pc-con":
            return f"node_{index + 1}.html"
        if self.template == "html-nbs":
            return f"nbs.{NBS_CODE}_{index + 1:02d}.htm"
        if self.generation == "pc":
            return f"node_{index + 1:02d}.html"
        return f"node_{node_id}.htm"

    def article(self, d: date, aid: int, part2: bool = False, page: int = 1, rank: int = 1) -> str:
        if self.template == "html-nbs":  # K = the article's rank, NN = its page
            return f"html/{d:%Y-%m}/{d:%d}/nw.{NBS_CODE}_{d:%Y%m%d}_{rank}-{page:02d}.htm"
        if self.template == "pc-con":
            return f"pc/con/{d:%Y%m}/{d:%d}/c{aid}.html"
        if self.generation == "pc":
            return f"pc/content/{d:%Y%m}/{d:%d}/content_{aid}.html"
        return f"html/{d:%Y-%m}/{d:%d}/content_{aid}{'_2' if part2 else ''}.htm"

    def page_pdf(self, d: date, page_no: str, rng: random.Random) -> str:
        if self.generation == "pc":
            return f"pc/attachement/{d:%Y%m}/{d:%d}/{rand_uuid(rng)}.pdf"
        if self.template == "html-gb2312":
            return f"images/{d:%Y-%m}/{d:%d}/{page_no[-2:]}/{rng.getrandbits(40):x}_pdf.pdf"
        return f"page/1/{d:%Y-%m}/{d:%d}/{page_no}/{rng.randint(10**12, 10**13)}.pdf"

    def page_scan(self, d: date, page_no: str, rng: random.Random) -> str:
        if self.generation == "pc":
            suffix = ".jpg.2" if rng.random() < 0.3 else ".jpg"
            return f"pc/pic/{d:%Y%m}/{d:%d}/{rand_uuid(rng)}{suffix}"
        if self.template == "html-gb2312":
            return f"images/{d:%Y-%m}/{d:%d}/{page_no[-2:]}/{rng.getrandbits(40):x}_b.jpg"
        return f"page/1/{d:%Y-%m}/{d:%d}/{page_no}/{rng.randint(10**12, 10**13)}.jpg"

    def article_image(self, d: date, rng: random.Random) -> str:
        if self.generation == "pc":
            return f"pc/pic/{d:%Y%m}/{d:%d}/{rand_uuid(rng)}.jpg"
        return f"res/{d:%Y-%m}/{d:%d}/{rng.getrandbits(48):x}.jpg"

    def latest(self) -> str:
        return "pc/layout/index.html" if self.generation == "pc" else "paperindex.htm"
