"""The real saved pages in tests/data parse to what tests/data/README.md lists (all of it but the
list titles, which the parser does not keep: the article pages carry the titles)."""
from __future__ import annotations

from pathlib import Path

from scrapy.http import HtmlResponse

from epaper.crawler.founder import parse_page

DATA = Path(__file__).parent / "data"
RMRB_URL = "http://paper.people.com.cn/rmrb/pc/layout/202412/25/node_01.html"
RMRB_ROOT = "http://paper.people.com.cn/rmrb/"


def _rmrb():
    response = HtmlResponse(url=RMRB_URL, body=(DATA / "rmrb-2024-12-25-node_01.html").read_bytes())
    return parse_page(response.text, response.url, RMRB_ROOT)


def test_rmrb_page_label_pdf_and_scan():
    page = _rmrb()
    assert (page.page_no, page.page_name) == ("01", "要闻")
    assert page.pdf_url == (
        "http://paper.people.com.cn/rmrb/pc/attachement/202412/25/58d97d37-6229-4f3b-872d-3911f85cb11b.pdf")
    assert page.image_url == (
        "http://paper.people.com.cn/rmrb/pc/pic/202412/25/0f88d5f4-cdbd-4b8b-a600-8b44f707a067.jpg.2")


def test_rmrb_page_list():
    names = {"05": "评论", "09": "理论", "10": "特别报道", "11": "综合", "13": "广告", "14": "广告",
             "15": "广告", "16": "广告", "17": "国际", "18": "产经", "19": "消费", "20": "国际"}
    expected = [(f"http://paper.people.com.cn/rmrb/pc/layout/202412/25/node_{n:02d}.html", f"{n:02d}",
                 names.get(f"{n:02d}", "要闻")) for n in range(1, 21)]
    assert [(p.url, p.page_no, p.page_name) for p in _rmrb().pages] == expected


def test_rmrb_articles_in_order_from_list_and_map():
    page = _rmrb()
    assert page.articles == [
        f"http://paper.people.com.cn/rmrb/pc/content/202412/25/content_{i}.html"
        for i in range(30048054, 30048061)
    ]


def test_rmrb_other_papers_are_not_pages_of_the_issue():
    page = _rmrb()
    links = [p.url for p in page.pages] + page.articles
    assert not any("rmrbhwb" in u or "huanqiu" in u for u in links)


SXJJRB_URL = "http://www.sxjjb.cn/szb/html/2024-11/06/content_279424.htm"


def _sxjjrb():
    from epaper.crawler.founder import decode_html
    from epaper.crawler.founder_article import parse_article

    text = decode_html((DATA / "sxjjrb-2024-11-06-content_279424.html").read_bytes())[0]
    return parse_article(text, SXJJRB_URL)


def test_sxjjrb_heads_from_the_cells_and_the_prefixed_comment():
    art = _sxjjrb()
    assert (art.intro_title, art.title, art.subtitle, art.author) == (
        "学习运用“千万工程”经验 谱写三晋乡村振兴新篇章", "本报重磅推出《“千万工程”看山西》摄影特刊", None, None)
    assert (art.sources["title"], art.sources["intro_title"]) == ("heading", "comment")
    assert art.issue_date.isoformat() == "2024-11-06"


def test_sxjjrb_the_page_frame_stays_out_of_the_article():
    """The image map, the 标题导航 list (with the article's own title), the page list and the
    template's pictures are around the article: none of it is body or image."""
    art = _sxjjrb()
    assert len(art.paragraphs) == 6 and art.images == []
    assert art.sources["body"] == "founder-content"
    frame = ("导 读", "吉祥吉县", "第01版", "第02版", "下一篇", "标题导航", "放大", "著作权", "晋 ICP")
    assert not any(word in p for p in art.paragraphs for word in frame)
    assert all(not p.startswith(" ") for p in art.paragraphs)
