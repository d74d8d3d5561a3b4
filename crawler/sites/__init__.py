"""Site families: one module per family of e-paper sites, beside `crawler/spiders/` (as
zyte-spider-templates keeps `pages/` beside `spiders/`).

A family module holds what every spider visiting such a site needs and nothing Scrapy-specific
beyond reading a response: its URL layout and variants, its calendars, how a crawl finds the
latest issue, a day's first page and the day's other pages, and which parser reads a page or
an article. The spiders only schedule requests and report; the crawl spider (`epaper`) and the
probe spider (`epaper_probe`) navigate through the same family object.

Families: `founder` (方正 e-papers, both generations and their file-name variants).
"""
