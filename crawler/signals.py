"""The project's own signals, sent by the ledger and the snapshot pipeline (receivers get
keyword arguments, as with Scrapy's signals).

The order for one issue date is: issue_ready → issue_writing → issue_done; a date that the
crawl never finished gets only issue_done (at spider_closed).
"""

issue_ready = object()  # (date): every request and item of the date is settled; write its snapshot
issue_writing = object()  # (date, keep): the snapshot is about to be written (keep) or not (the date's raw capture is kept or dropped with it)
issue_done = object()  # (date, result: crawler.ledger.DateResult): the date is settled for this run
