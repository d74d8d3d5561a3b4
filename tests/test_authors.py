"""`authors` from the byline (pipelines/authors.py): names without roles, on the real bylines
and the replica's."""
from __future__ import annotations

import json

import pytest
from scrapy.utils.test import get_crawler

from epaper.pipelines.authors import parse_authors


@pytest.mark.parametrize(("byline", "names"), [
    (None, []),
    ("", []),
    # real bylines: tests/test_founder.py's 安徽经济报 page, the issue's example, common forms
    ("本报记者 李四", ["李四"]),
    ("本报记者 李四（2023年07月04日 B01版）", ["李四"]),
    ("本报记者 胡婷 通讯员 高翔", ["胡婷", "高翔"]),
    ("本报记者 王 芳", ["王芳"]),  # a two-character name aligned with a space
    ("本报记者王芳", ["王芳"]),
    ("记者 张伟 李娜", ["张伟", "李娜"]),
    ("本报通讯员 陈静", ["陈静"]),
    ("□ 本报记者 吴昊 实习生 徐丽", ["吴昊", "徐丽"]),
    ("本报记者 张伟、李娜", ["张伟", "李娜"]),
    ("新华社记者 刘洋", ["刘洋"]),
    ("新华社北京1月1日电 记者 孙浩", ["孙浩"]),
    ("文/图 本报记者 赵磊", ["赵磊"]),
    ("黄敏 摄", ["黄敏"]),
    ("本报评论员", []),
    ("本报特约记者 欧阳娜娜", ["欧阳娜娜"]),
    ("记者 阿卜杜·热合曼", ["阿卜杜·热合曼"]),
    ("本报记者 张伟 张伟", ["张伟"]),
])
def test_parse_authors(byline, names):
    assert parse_authors(byline) == names


def test_the_replicas_bylines(replica_sites):
    from epaper.replica.content import PEOPLE

    truth = json.loads((replica_sites("pc-rmrb") / "truth.json").read_text(encoding="utf-8"))
    bylines = {a["author"] for a in truth["articles"] if a.get("author")}
    assert len(bylines) > 20
    for byline in bylines:
        names = parse_authors(byline)
        assert names and set(names) <= set(PEOPLE), byline
        assert all(name in byline for name in names)


def test_clean_pipeline_adds_authors_and_keeps_author():
    from epaper.config import own_settings
    from epaper.crawler.items import ArticleItem
    from epaper.pipelines.clean import CleanPipeline

    import datetime as dt

    crawler = get_crawler(settings_dict=own_settings())
    item = ArticleItem(issue_date=dt.date(2023, 8, 3), url="http://x/a", page_no="01", page_index=0, position=0,
                       source="x", crawled_at=dt.datetime.now(dt.timezone.utc), title="t", body="b",
                       author=" 本报记者\u3000胡婷  通讯员 高翔")
    CleanPipeline.from_crawler(crawler).process_item(item)
    assert item.author == "本报记者 胡婷 通讯员 高翔"
    assert item.authors == ["胡婷", "高翔"]
    dropped = get_crawler(settings_dict={**own_settings(), "CLEAN_DROP_FIELDS": ["author"]})
    CleanPipeline.from_crawler(dropped).process_item(item)
    assert item.author is None and item.authors == []


def test_snapshots_written_before_the_column_read_authors_as_null(tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from epaper.storage import schema as S
    from epaper.storage.load import load_articles

    old = pa.schema([f for f in S.ARTICLES if f.name != "authors"])
    row = {"article_id": "a", "page_no": "01", "url": "http://x/a", "title": "t", "author": "本报记者 张伟",
           "body": "b", "images": [], "content_hash": "h", "source": "x", "page_index": 0, "position": 0,
           "crawled_at": dt.datetime(2023, 1, 2, tzinfo=dt.timezone.utc)}
    folder = tmp_path / "articles" / "source=ahjjb" / "issue_date=2023-01-02"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=old), folder / "part-0.parquet")
    table = load_articles(tmp_path, columns=["author", "authors"])
    assert table.to_pylist() == [{"author": "本报记者 张伟", "authors": None}]
