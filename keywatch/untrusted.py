"""Text that comes from a key (user IDs, notations, revocation reasons) is hostile until shown safe.

A user ID can hold terminal escape sequences that rewrite the screen, bidi
overrides that reorder what a reviewer reads, rich markup, or invalid UTF-8.
`for_terminal` makes every such character visible as an escape; JSON output
keeps the decoded text (JSON encoders escape control characters) and HTML is
escaped by the template engine.
"""

from __future__ import annotations

import unicodedata

# Bidi embeddings, overrides and isolates can make "evil" read as "live".
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
MAX_DISPLAY_CHARS = 200


def visible(text: str, limit: int | None = None, keep: frozenset[str] = frozenset()) -> str:
    """`text` with control, format and bidi characters (but those in `keep`) shown as \\x.. / \\u.... escapes."""
    if text.isprintable() and (limit is None or len(text) <= limit):
        return text  # isprintable() is False for every character escaped below: nothing to do
    out = []
    for char in text:
        if char not in keep and (char in _BIDI_CONTROLS or unicodedata.category(char) in _ESCAPED_CATEGORIES):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return _cut("".join(out), limit)


def for_terminal(text: str, limit: int = MAX_DISPLAY_CHARS) -> str:
    """Printable, markup-free, length-limited text for the terminal (rich markup `[` escaped too)."""
    return _cut(visible(text).replace("[", "\\["), limit)


def _cut(text: str, limit: int | None) -> str:
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text
