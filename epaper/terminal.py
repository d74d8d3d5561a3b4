"""Text printed to a terminal: characters that act on it instead of showing (ESC, BEL, the C1
controls, line separators, bidirectional overrides) written as escapes.

The cleaning pipeline drops control characters from what it archives (pipelines.clean), but an
archive written before that, a page name, a URL or an error message quoted from the portal
may still hold them: `epaper probe` and `epaper changes` print through here, so an OSC title
change or a screen clear in a title shows as `\\x1b]0;…` and does nothing.
"""
from __future__ import annotations

import unicodedata

# Control, format (zero-width, bidi overrides), line and paragraph separators, lone surrogates.
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    cp = ord(ch)
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def printable(text: str) -> str:
    """One line as it may be printed: every unsafe character (newline and tab included) as a
    Python-style escape (`\\x1b`, `\\u202e`); spaces of every kind and all other text as is."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)


def _json_escape(ch: str) -> str:
    cp = ord(ch)
    if cp > 0xFFFF:  # JSON writes it as a surrogate pair
        cp -= 0x10000
        return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"
    return f"\\u{cp:04x}"


def printable_json(text: str) -> str:
    """The output of `json.dumps` with every unsafe character as a `\\uXXXX` escape: the same
    JSON value, safe to print. (json.dumps escapes the C0 controls in strings but not C1 or
    bidi overrides; a raw newline is its indentation, kept.)"""
    if text.isascii() and text.replace("\n", "").isprintable():
        return text
    return "".join(_json_escape(ch) if ch != "\n" and _unsafe(ch) else ch for ch in text)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 duplicate`, `2 duplicates`: a count with its noun in the number it needs."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
