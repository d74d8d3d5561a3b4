"""One table of settings: every project setting's default in crawler/settings.py, read without a
second default, and `-s` checked against that table."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from epaper.config import UsageError, own_settings, project_settings, scrapy_overrides
from epaper.pipelines.dedupe import DedupePipeline
from epaper.pipelines.snapshot import SnapshotPipeline
from epaper.pipelines.validate import REQUIRED
from tests.conftest import ROOT

SOURCES = [ROOT / d for d in ("crawler", "pipelines", "storage", "epaper")]
GETTER = re.compile(r"settings\.get(?:int|float|bool|list|dict|withbase)?\(\s*\"([A-Z0-9_]+)\"\s*(,)?")
# Being rewritten elsewhere; still reads EPAPER_SOURCE / EPAPER_LAYOUT with defaults of its own.
SECOND_DEFAULT_PENDING = {"crawler/spiders/epaper.py"}


def settings_read() -> list[tuple[str, str, bool]]:
    """(file, setting, with a default argument) for every typed getter call in the package."""
    found = []
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            for m in GETTER.finditer(path.read_text(encoding="utf-8")):
                found.append((path.relative_to(ROOT).as_posix(), m.group(1), bool(m.group(2))))
    return found


def test_every_setting_read_has_a_default() -> None:
    known = project_settings()
    read = settings_read()
    assert {"DEDUPE_THRESHOLD", "VALIDATE_REQUIRED", "SNAPSHOT_COMPACT", "RETRY_BACKOFF_BASE"} <= {n for _, n, _ in read}
    assert [(f, n) for f, n, _ in read if n not in known] == []


def test_own_settings_are_read_without_a_second_default() -> None:
    own = own_settings()
    assert [(f, n) for f, n, default in settings_read()
            if default and n in own and f not in SECOND_DEFAULT_PENDING] == []


def test_each_own_setting_is_documented_where_it_is_defined() -> None:
    lines = (ROOT / "crawler" / "settings.py").read_text(encoding="utf-8").splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"([A-Z][A-Z0-9_]*)\b.*=", line)
        if m and m.group(1) in own_settings() and "#" not in line and not lines[i - 1].lstrip().startswith("#"):
            undocumented.append(m.group(1))
    assert undocumented == []


def test_dead_settings_are_gone() -> None:
    from epaper.crawler import settings as module

    assert not hasattr(module, "FEED_EXPORT_ENCODING")  # no feed export here
    assert not hasattr(module, "REQUEST_FINGERPRINTER_IMPLEMENTATION")
    assert "REQUEST_FINGERPRINTER_IMPLEMENTATION" not in project_settings()  # Scrapy 2.19 has none either


def test_validate_required_default_is_the_functions() -> None:
    assert own_settings()["VALIDATE_REQUIRED"] == list(REQUIRED)


# ------------------------------------------------------------------ components get the values


def test_dedupe_threshold_from_s_reaches_the_dedupe_components(tmp_path: Path) -> None:
    values = scrapy_overrides(["DEDUPE_THRESHOLD=0.9", "DEDUPE_SHINGLE_SIZE=4", "DEDUPE_MIN_CHARS=20"])
    assert values == {"DEDUPE_THRESHOLD": 0.9, "DEDUPE_SHINGLE_SIZE": 4, "DEDUPE_MIN_CHARS": 20}
    crawler = get_crawler(settings_dict={**own_settings(), "SNAPSHOT_DIR": str(tmp_path), **values})
    dedupe = DedupePipeline.from_crawler(crawler)
    assert (dedupe.threshold, dedupe.shingle_size, dedupe.min_chars) == (0.9, 4, 20)
    snapshot = SnapshotPipeline.from_crawler(crawler)
    assert snapshot.index_options == {"shingle_size": 4, "threshold": 0.9, "min_chars": 20}


def test_components_take_their_defaults_from_the_one_table(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={**own_settings(), "SNAPSHOT_DIR": str(tmp_path)})
    dedupe = DedupePipeline.from_crawler(crawler)
    assert (dedupe.threshold, dedupe.shingle_size, dedupe.min_chars) == (0.8, 5, 50)
    snapshot = SnapshotPipeline.from_crawler(crawler)
    assert (snapshot.compact, snapshot.commit_every, snapshot.pause_stage) == (True, 30, "")


# ------------------------------------------------------------------ -s NAME=VALUE


@pytest.mark.parametrize(
    ("pair", "value"),
    [
        ("DEDUPE_THRESHOLD=0.9", 0.9),
        ("DEDUPE_THRESHOLD=1", 1.0),
        ("DEDUPE_SHINGLE_SIZE=3", 3),
        ("DEDUPE_MIN_CHARS=0", 0),
        ("SNAPSHOT_COMPACT=false", False),
        ("WARC_ENABLED=yes", True),
        ("VALIDATE_REQUIRED=url,title", "url,title"),
        ("RETRY_HTTP_CODES=500,503", "500,503"),
        ("DOWNLOAD_DELAY=0", 0.0),
        ("EPAPER_SOURCE=xyz", "xyz"),
        ("FEED_EXPORT_ENCODING=utf-8", "utf-8"),  # Scrapy's own settings stay settable
        ("LOG_LEVEL=debug", "debug"),
    ],
)
def test_s_accepts_existing_settings_with_their_types(pair: str, value: object) -> None:
    name = pair.partition("=")[0]
    got = scrapy_overrides([pair])[name]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("pair", "words"),
    [
        ("DEDUPE_THRESHOLDS=0.9", "unknown Scrapy setting"),
        ("REQUEST_FINGERPRINTER_IMPLEMENTATION=2.7", "unknown Scrapy setting"),
        ("DEDUPE_THRESHOLD=high", "expected float"),
        ("DEDUPE_THRESHOLD=nan", "finite"),
        ("DEDUPE_THRESHOLD=inf", "finite"),
        ("DEDUPE_THRESHOLD=0", "greater than 0"),
        ("DEDUPE_THRESHOLD=1.5", "at most 1"),
        ("DEDUPE_SHINGLE_SIZE=0", "greater than 0"),
        ("DEDUPE_SHINGLE_SIZE=2.5", "expected int"),
        ("DEDUPE_MIN_CHARS=-1", "must not be negative"),
        ("SNAPSHOT_COMPACT=maybe", "expected bool"),
        ("SNAPSHOT_PAUSE_SECONDS=-inf", "finite"),
        ("RETRY_HTTP_CODES=500,five", "integers separated by commas"),
        ("SNAPSHOT_DIR=/tmp/x", "use --data"),
    ],
)
def test_s_refuses_what_does_not_exist_or_does_not_fit(pair: str, words: str) -> None:
    with pytest.raises(UsageError) as info:
        scrapy_overrides([pair])
    assert words in str(info.value) and "\n" not in str(info.value)


def test_s_accepts_every_own_setting_at_its_default() -> None:
    from epaper.config import NOT_FROM_S

    def text(value: object) -> str:
        return ",".join(map(str, value)) if isinstance(value, list) else str(value)

    pairs = [f"{name}={text(value)}" for name, value in own_settings().items() if name not in NOT_FROM_S]
    assert len(scrapy_overrides(pairs)) == len(pairs)
