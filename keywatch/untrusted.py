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
MAX_DISPLAY_CHARS = 200


def for_terminal(text: str, limit: int = MAX_DISPLAY_CHARS) -> str:
    """Printable, markup-free, length-limited text: control and format characters become \\x.. / \\u.... ."""
    out = []
    for char in text:
        category = unicodedata.category(char)
        if char in _BIDI_CONTROLS or category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        elif char == "[":
            out.append("\\[")  # rich markup
        else:
            out.append(char)
    shown = "".join(out)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown
