"""Downloader middlewares of the epaper project."""
from __future__ import annotations

import asyncio
import random

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, waiting before each retry: base × 2^(n-1), jittered, capped.

    A portal answering 503 is overloaded; retrying at once only adds to it.
    Settings: RETRY_BACKOFF_BASE (seconds, default 1.0), RETRY_BACKOFF_MAX (default 30.0),
    and Scrapy's RETRY_* settings.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)

    async def _wait(self, result):
        if isinstance(result, Request) and self.base > 0:
            tries = result.meta.get("retry_times", 1)
            delay = min(self.cap, self.base * 2 ** (tries - 1))
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))
        return result

    async def process_response(self, request, response, spider=None):
        return await self._wait(super().process_response(request, response))

    async def process_exception(self, request, exception, spider=None):
        return await self._wait(super().process_exception(request, exception))
