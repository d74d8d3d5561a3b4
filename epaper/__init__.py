"""epaper: a scheduled crawler and Parquet archive for Founder (方正) e-paper editions.

Analysts: ``from epaper import load_articles, load_pages`` (each returns a ``pyarrow.Table``).
The command line is ``epaper`` (``python -m epaper``); see the README.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["load_articles", "load_pages"]


def __getattr__(name: str):
    # The loaders import pyarrow; the command line should not pay for that on every start.
    if name in __all__:
        from epaper.storage import load

        return getattr(load, name)
    raise AttributeError(f"module 'epaper' has no attribute {name!r}")
