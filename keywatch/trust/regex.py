"""The regular expressions of trust signatures (RFC 4880 §8, Henry Spencer's syntax), as Python patterns.

A trust signature may carry regular expressions that limit which user IDs
the introducer is trusted for. We translate them to Python's `re` rather
than hand them over as they are: Python gives meaning to things that are
plain characters here (`{`, `\\d`, `\\w`, ...).

The grammar (RFC 4880 §8): a regex is branches separated by `|`; a branch
is pieces; a piece is an atom optionally followed by `*`, `+` or `?`; an
atom is `(regex)`, a range `[...]`, `.`, `^`, `$`, a backslash followed by
any single character (that character, literally), or any other single
character. In a range, `^` first negates, `]` first is literal, `-` between
two characters is a span, and everything else (backslash included) is
literal.

Like Sequoia (whose `sq-wot` is our reference), matching is a search
anywhere in the user ID (anchors only where written); a regex that does not
parse matches nothing; a user ID that holds control characters or is not
UTF-8 matches nothing — not even when the certification has no regex at
all; a set of regexes matches when any one of them does, and regexes that
do not parse are ignored unless none parses.
"""

from __future__ import annotations

import re
from functools import lru_cache


class _Unparsable(Exception):
    pass


def _translate(pattern: str) -> str:
    out, index = _regex(pattern, 0)
    if index != len(pattern):
        raise _Unparsable(f"unexpected {pattern[index]!r} at {index}")
    return out


def _regex(p: str, i: int) -> tuple[str, int]:
    branches = []
    branch, i = _branch(p, i)
    branches.append(branch)
    while i < len(p) and p[i] == "|":
        branch, i = _branch(p, i + 1)
        branches.append(branch)
    return "|".join(branches), i


def _branch(p: str, i: int) -> tuple[str, int]:
    pieces = []
    while i < len(p) and p[i] not in "|)":
        atom, i = _atom(p, i)
        if i < len(p) and p[i] in "*+?":
            if atom in ("^", "$"):
                raise _Unparsable("repeated anchor")
            atom = f"(?:{atom}){p[i]}"
            i += 1
        pieces.append(atom)
    return "".join(pieces), i


def _atom(p: str, i: int) -> tuple[str, int]:
    char = p[i]
    if char == "(":
        inner, i = _regex(p, i + 1)
        if i >= len(p) or p[i] != ")":
            raise _Unparsable("unbalanced parenthesis")
        return f"(?:{inner})", i + 1
    if char == "[":
        return _range(p, i + 1)
    if char in ".^$":
        return char, i + 1
    if char == "\\":
        if i + 1 >= len(p):
            raise _Unparsable("trailing backslash")
        return re.escape(p[i + 1]), i + 2
    if char in "*+?":
        raise _Unparsable(f"nothing to repeat at {i}")
    return re.escape(char), i + 1


def _range(p: str, i: int) -> tuple[str, int]:
    negated = i < len(p) and p[i] == "^"
    if negated:
        i += 1
    members: list[str] = []
    first = True
    while i < len(p) and (p[i] != "]" or first):
        low = p[i]
        if i + 2 < len(p) and p[i + 1] == "-" and p[i + 2] != "]":
            high = p[i + 2]
            if ord(high) < ord(low):
                raise _Unparsable("inverted span")
            members.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            members.append(re.escape(low))
            i += 1
        first = False
    if i >= len(p):
        raise _Unparsable("unterminated range")
    return f"[{'^' if negated else ''}{''.join(members)}]", i + 1


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern | None:
    """The Python pattern for one trust-signature regex, or None when it does not parse (matches nothing)."""
    try:
        return re.compile(_translate(pattern), re.DOTALL)
    except (_Unparsable, re.error, RecursionError):
        return None


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def matches(patterns: tuple[str, ...], user_id: bytes) -> bool:
    """Whether a certification scoped by `patterns` applies to `user_id` (no patterns: every clean user ID).

    A user ID with control characters is never matched, even by an unscoped certification: Sequoia
    applies this check to every certification, so such a user ID is never authenticated by one.
    """
    try:
        text = user_id.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if _has_control(text):
        return False
    if not patterns:
        return True
    for pattern in patterns:
        compiled = compile_pattern(pattern)
        if compiled is not None and compiled.search(text):
            return True
    return False
