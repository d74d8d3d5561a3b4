"""Issue 21 items 4, 5 (and their part of 8) end to end: the replica's html-sxjjrb template (heads
in table cells, the page frame around each article, the founder-prefixed comment after
`</html>`) and the captions printed as the paragraph after their image, crawled in process and
compared field by field with the replica's truth."""
from __future__ import annotations

import datetime as dt
import random
import re

import pytest
import pytest_twisted

from epaper.replica.content import TextGen
from tests.conftest import crawl_in_process
from tests.truth import diff_archive

DAYS = (dt.date(2023, 7, 31), dt.date(2023, 8, 4))  # five issues, the seed article among them
MARKERS = ("图为", "图：", "上图", "下图", "左图", "右图", "▲")


def _plain_caption_pairs(site, truth) -> int:
    """Captions printed as an ordinary paragraph after the image's own: <p><img></p><p>图为…</p>."""
    count = 0
    for row in truth["articles"]:
        page = (site / row["url"]).read_text(encoding="utf-8")
        for image in row["images"]:
            name = re.escape(image["url"].rsplit("/", 1)[1])
            cap = re.escape(image["caption"].replace("&", "&amp;"))
            if image["caption"] and re.search(
                    rf'<[pP]><(?:img|IMG) src="[^"]*{name}"[^>]*></[pP]>\s*<[pP]>[\s\u3000]*(?:&nbsp;)*{cap}</[pP]>', page):
                count += 1
    return count


@pytest.mark.parametrize("template", ["html-sxjjrb", "pc-rmrb"])
@pytest_twisted.ensureDeferred
async def test_heads_in_cells_and_paragraph_captions_end_to_end(portal, tmp_path, template):
    server = portal(template, *DAYS)
    site = server.truth_path.parent / "site"
    truth = server.truth
    # what the span must hold for the test to mean something
    assert _plain_caption_pairs(site, truth) >= 3
    captions = [i["caption"] for r in truth["articles"] for i in r["images"] if i["caption"]]
    assert any(c.startswith(MARKERS) for c in captions) and any(not c.startswith(MARKERS) for c in captions)
    if template == "html-sxjjrb":
        pages = [(site / r["url"]).read_text(encoding="utf-8") for r in truth["articles"]]
        assert all('<td class="font01" align=center' in p and "id=pageLink" in p for p in pages)
        assert sum("</html>\n<!--enpproperty <founder-" in p and "<founder-type>1</founder-type>" in p
                   for p in pages) > len(pages) // 2
        assert any("enpproperty" not in p for p in pages)  # the cells alone
        assert all(r["title"] for r in truth["articles"])
    ledger = await crawl_in_process(tmp_path, server.base_url, start=DAYS[0], end=DAYS[1])
    assert {r.status for r in ledger.results.values()} == {"archived"}
    assert all(not r.failures for r in ledger.results.values())
    assert diff_archive(tmp_path, server.truth_path, server.base_url) == []
    articles = len(truth["articles"])
    assert server.request_count(r"/content_[^/]*$") == articles  # the minimum: each article once


def test_the_replica_plan_sets_look_alikes_as_body():
    """The generator's look-alikes are all body in its plan: right after a captionless image a
    centred sub-heading or a sentence ending in 摄 or 拍摄; a 图为 sentence only where no image
    is right before it. A caption printed as a paragraph of its own opens with a marker."""
    gen = TextGen(random.Random(21))
    after_image, marker_body, para_captions = set(), 0, 0
    for _ in range(3000):
        blocks = gen.article(None).blocks
        for k, (kind, block) in enumerate(blocks):
            before = blocks[k - 1] if k else None
            if kind == "img":
                para_captions += block.caption_mode == "para"
                assert block.caption_mode != "para" or block.caption.startswith(MARKERS)
            elif before is not None and before[0] == "img" and not before[1].caption and kind != "img":
                text = str(block)
                after_image.add("sub" if kind == "sub" else "摄" if text.endswith("摄") and "拍摄" not in text
                                else "拍摄" if text.endswith("拍摄") else "other")
                assert not text.startswith(MARKERS)
            if kind == "p" and str(block).startswith(MARKERS):
                marker_body += 1
                assert before is None or before[0] != "img"
    assert {"sub", "摄", "拍摄"} <= after_image
    assert marker_body and para_captions
