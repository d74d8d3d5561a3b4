"""Completeness of a 200 page or calendar is judged by its content, not by its label
(crawler.middlewares.truncation): a byte-order mark, an XML calendar sent as text/html, an
HTML page sent as XML."""
from __future__ import annotations

import pytest
from scrapy.http import Response

from epaper.crawler.middlewares import truncation

BOM = b"\xef\xbb\xbf"
CAL = (b'<?xml version="1.0" encoding="UTF-8"?>\n<calendar>\n<period><period_date>2023-08-01</period_date>'
       b"<front_page>node_01.html</front_page></period>\n</calendar>\n")
PAGE = b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><p>x</p></body></html>\n"
XML, HTML, NONE = "application/xml", "text/html; charset=utf-8", ""

CASES = [  # (name, url suffix, content type, body, expected: None = whole, else words of the reason)
    ("calendar", "period.xml", XML, CAL, None),
    ("calendar-bom", "period.xml", XML, BOM + CAL, None),
    ("calendar-bom-no-declaration", "period.xml", XML, BOM + CAL.split(b"\n", 1)[1], None),
    ("calendar-as-text-html", "period.xml", HTML, CAL, None),
    ("calendar-bom-as-text-html", "period.xml", HTML, BOM + CAL, None),
    ("calendar-no-type", "period.xml", NONE, BOM + CAL, None),
    ("calendar-cut", "period.xml", XML, CAL[:-20], "truncated XML"),
    ("calendar-cut-as-text-html", "period.xml", HTML, CAL[:-20], "truncated XML"),
    ("calendar-bom-cut", "period.xml", XML, BOM + CAL[:-20], "truncated XML"),
    ("page", "node_01.html", HTML, PAGE, None),
    ("page-bom", "node_01.html", HTML, BOM + PAGE, None),
    ("page-as-xml", "node_01.html", XML, PAGE, None),
    ("page-cut", "node_01.html", HTML, PAGE[:-20], "truncated page"),
    ("page-cut-as-xml", "node_01.html", XML, PAGE[:-20], "truncated page"),
    ("html-error-page-as-calendar", "period.xml", XML, b"<html><body>\xe7\xb3\xbb\xe7\xbb\x9f</body></html>", None),
    ("empty", "period.xml", XML, b"", "empty response"),
    ("bom-only", "node_01.html", HTML, BOM + b"\n", "empty response"),
    ("pdf-for-html", "node_01.html", "application/pdf", b"%PDF-1.4 ...", None),
]


@pytest.mark.parametrize("name, suffix, ctype, body, expected", CASES, ids=[c[0] for c in CASES])
def test_completeness_is_judged_by_content(name, suffix, ctype, body, expected):
    headers = {"Content-Type": ctype} if ctype else {}
    response = Response(f"http://127.0.0.1/ahjjb/pc/layout/202308/{suffix}", body=body, headers=headers)
    why = truncation(response)
    if expected is None:
        assert why is None
    else:
        assert why is not None and expected in why
