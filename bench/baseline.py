"""The naive crawler the throughput benchmark compares with, run as a child process.

The kind of script common for Founder e-papers (人民日报-style `pc/layout` sites): sequential
`requests` calls, lxml XPaths written for one template, every row kept in a list and written
to one Parquet file at the end. It fetches the same pages as `epaper crawl` (one calendar a
month, each page once, each article once at its first place) so that the two differ only in
how they fetch and process, not in what. It uses a `requests.Session` (keep-alive), which is
kinder to it than the usual bare `requests.get`.

    python -m bench.baseline --base-url URL --from D1 --to D2 --out FILE.parquet
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
from urllib.parse import urljoin

import lxml.etree
import lxml.html
import pyarrow as pa
import pyarrow.parquet as pq
import requests


def months(start: dt.date, end: dt.date) -> list[dt.date]:
    out, m = [], start.replace(day=1)
    while m <= end:
        out.append(m)
        m = (m + dt.timedelta(days=32)).replace(day=1)
    return out


def text(doc, xpath: str) -> str | None:
    found = doc.xpath(xpath)
    value = re.sub(r"\s+", " ", found[0].text_content()).strip() if found else ""
    return value or None


def crawl(base: str, start: dt.date, end: dt.date) -> list[dict]:
    session = requests.Session()
    session.headers["User-Agent"] = "Mozilla/5.0 (baseline)"
    rows: list[dict] = []
    for month in months(start, end):
        cal = session.get(f"{base}pc/layout/{month:%Y%m}/period.xml", timeout=30)
        calendar = lxml.etree.fromstring(cal.content)
        for period in calendar.iter("period"):
            day = dt.date.fromisoformat(period.findtext("period_date").strip())
            if not start <= day <= end:
                continue
            front = f"{base}pc/layout/{day:%Y%m}/{day:%d}/{period.findtext('front_page').strip()}"
            front_doc = lxml.html.fromstring(session.get(front, timeout=30).content)
            pages = [(urljoin(front, a.get("href")), a.text_content().strip())
                     for a in front_doc.xpath("//a[@id='pageLink']")]
            seen: set[str] = set()
            for page_index, (page_url, label) in enumerate(pages):
                doc = front_doc if page_url == front else lxml.html.fromstring(
                    session.get(page_url, timeout=30).content)
                page_no, _, page_name = label.partition("版：")
                pdf = doc.xpath("//p[contains(@class,'btn')]/a/@href")
                links = doc.xpath("//ul[@class='news-list']//a/@href") + doc.xpath("//map/area/@href")
                position = 0
                for href in links:
                    url = urljoin(page_url, href)
                    if url in seen:
                        continue
                    seen.add(url)
                    art = lxml.html.fromstring(session.get(url, timeout=30).content)
                    paragraphs = [p.text_content().strip(" \u3000\xa0\r\n\t")
                                  for p in art.xpath("//div[@id='ozoom']//p")]
                    rows.append({
                        "issue_date": day, "page_no": page_no, "page_name": page_name or None,
                        "page_pdf_url": urljoin(page_url, pdf[0]) if pdf else None, "url": url,
                        "intro_title": text(art, "//div[@class='article']/h3"),
                        "title": text(art, "//div[@class='article']/h1"),
                        "subtitle": text(art, "//div[@class='article']/h2"),
                        "body": "\n".join(p for p in paragraphs if p),
                        "images": [{"url": urljoin(url, src), "caption": ""}
                                   for src in art.xpath("//div[@id='ozoom']//img/@src")],
                        "page_index": page_index, "position": position,
                    })
                    position += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--from", dest="start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rows = crawl(args.base_url, args.start, args.end)
    pq.write_table(pa.Table.from_pylist(rows), args.out, compression="zstd")
    print(len(rows))


if __name__ == "__main__":
    main()
