"""The exit statuses of the `epaper` commands (docs/operations.md "Exit statuses"; 0-3 are the
outside contract there, which scripts and monitors rely on)."""
from __future__ import annotations

OK = 0  # every requested date archived completely or confirmed to have no issue
FAILED = 1  # a date incomplete or failed (one stderr line per date)
USAGE = 2  # a usage or configuration error (one short line)
SUSPECT = 3  # archived, but a date's extraction health departs from the archive's history
# Another process holds the archive lock; nothing was done. EX_TEMPFAIL of sysexits.h: try
# again later (cron's next run, systemd's RestartSec).
LOCKED = 75
TERMINATED = 143  # stopped by SIGTERM (128 + 15), as a shell reports it


class Terminated(BaseException):
    """SIGTERM arrived before a command put its own handling in place (epaper.cli.main)."""
