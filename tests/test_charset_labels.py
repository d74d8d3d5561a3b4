"""A charset label naming a codec that is no text encoding (base64, rot13) is ignored: the
pages are read as their bytes say, and the issue is archived exactly (it used to raise
LookupError in Scrapy's own decoding, first in the meta-refresh middleware)."""
from __future__ import annotations

import datetime as dt

import pytest
import pytest_twisted

from epaper.replica.faults import Fault
from tests.conftest import crawl_in_process
from tests.truth import diff_archive

DAY = dt.date(2023, 8, 3)


@pytest.mark.parametrize("label", ["base64", "rot13", "zlib"])
@pytest_twisted.ensureDeferred
async def test_a_non_text_charset_label_is_read_past(portal, tmp_path, label):
    server = portal("pc-rmrb", DAY, DAY, faults=[Fault("charset_label", r"\.html$", charset=label)])
    ledger = await crawl_in_process(tmp_path, server.base_url, date=DAY)
    assert server.faults[0].hits > 10
    assert ledger.results[DAY].status == "archived", ledger.results[DAY].failures
    assert diff_archive(tmp_path, server.truth_path, server.base_url, dates=[DAY]) == []
