"""Perl regular expressions and `s///`/`tr///` rules, as uscan's watch files write them, in Python.

uscan evaluates them with Perl. The translation covers what watch files use
and refuses the rest (ValueError, with the reason), so a rule is never
silently applied with a different meaning:

- patterns: `(?<name>…)` → `(?P<name>…)`, `\\z` → `\\Z`, `\\Z` → `(?=\\n?\\Z)`,
  POSIX classes `[[:digit:]]`, `\\Q…\\E`, and an inline flag group `(?i)` in the
  middle of a pattern (uscan's @ARCHIVE_EXT@ has one), which Perl applies to
  the rest of the enclosing group and Python only allows at the start: it
  becomes a scoped `(?i:…)` over that same rest;
- `s<d>pattern<d>replacement<d>flags` with any delimiter, bracketing pairs
  (`s{…}{…}`) included; flags `g`, `i`, `x`, `s`, `m`; in the replacement
  `$1`, `${1}`, `\\1`, `$&` and backslash escapes (`\\U`, `\\L`, `\\u`, `\\l`
  and code (`e`) are refused);
- `tr/…/…/` and `y/…/…/` with ranges (flags `c`, `d`, `s` are refused).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_BRACKETS = {"{": "}", "(": ")", "[": "]", "<": ">"}
_POSIX = {"alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
          "space": r"\s", "xdigit": "0-9A-Fa-f", "word": r"\w", "punct": r"!-/:-@\[-`{-~", "blank": r" \t"}


def to_python(pattern: str) -> str:
    """A Perl regex as an equivalent Python one; ValueError when it cannot be translated."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                end = n if end < 0 else end
                out.append(re.escape(pattern[i + 2:end]))
                i = end + 2
                continue
            if nxt == "z":
                out.append(r"\Z")
            elif nxt == "Z":
                out.append(r"(?=\n?\Z)")
            elif nxt in "hHvVRKXpPgk":
                raise ValueError(f"Perl escape \\{nxt} has no Python equivalent")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[":
            end = _class_end(pattern, i)
            body = pattern[i + 1:end]
            body = re.sub(r"\[:(\^?)(\w+):\]", _posix_class, body)
            out.append("[" + body + "]")
            i = end + 1
            continue
        if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return _scope_inline_flags("".join(out))


def _class_end(pattern: str, start: int) -> int:
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end > 0:
                i = end + 2
                continue
        if pattern[i] == "]":
            return i
        i += 1
    raise ValueError("character class [ not closed")


def _posix_class(match: re.Match) -> str:
    name = match.group(2)
    if name not in _POSIX:
        raise ValueError(f"POSIX class [:{name}:] not understood")
    if match.group(1):
        raise ValueError(f"negated POSIX class [:^{name}:] not supported")
    return _POSIX[name]


_GROUP_REFERENCE = re.compile(r"\$(?:(\d+)|\{(\d+)\}|(&))")
_INLINE_FLAGS = re.compile(r"\(\?([aimsx]+)\)")


def _scope_inline_flags(pattern: str) -> str:
    """`a(?i)b` → `a(?i:b)`: Python refuses global flags after the start of a pattern."""
    while True:
        match = None
        for candidate in _INLINE_FLAGS.finditer(pattern):
            if candidate.start() > 0 and not _escaped(pattern, candidate.start()):
                match = candidate
                break
        if match is None:
            return pattern
        end = _group_end(pattern, match.end())
        pattern = pattern[:match.start()] + f"(?{match.group(1)}:" + pattern[match.end():end] + ")" + pattern[end:]


def _escaped(pattern: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and pattern[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _group_end(pattern: str, start: int) -> int:
    """Index of the `)` closing the group that contains `start`, or the end of the pattern."""
    depth, i = 0, start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i) + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return len(pattern)


@dataclass(frozen=True)
class Rule:
    """One compiled mangle rule; `apply` gives the new string."""

    source: str
    apply: Callable[[str], str]


def parse_rule(text: str) -> Rule:
    """`s/…/…/flags`, `tr/…/…/` or `y/…/…/`; ValueError when it is none of them or cannot be translated."""
    text = text.strip()
    if text.startswith("s") and len(text) > 1 and not text[1].isalnum() and not text[1].isspace():
        return _substitution(text)
    for prefix in ("tr", "y"):
        if text.startswith(prefix) and len(text) > len(prefix) and not text[len(prefix)].isalnum():
            return _transliteration(text, len(prefix))
    raise ValueError(f"'{text}' is not an s///, tr/// or y/// rule")


def _split_delimited(text: str, start: int) -> tuple[list[str], int]:
    """The two delimited fields of s/a/b/ or s{a}{b}; returns them and the index after the last delimiter."""
    opener = text[start]
    fields: list[str] = []
    i = start
    for _ in range(2):
        if fields and opener in _BRACKETS:
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text) or text[i] != opener:
                raise ValueError(f"'{text}': second {opener}…{_BRACKETS[opener]} part missing")
        closer = _BRACKETS.get(opener, opener)
        i += 1 if (not fields or opener in _BRACKETS) else 0
        depth, field_start = 0, i
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if opener in _BRACKETS and c == opener:
                depth += 1
            elif c == closer:
                if depth == 0:
                    break
                depth -= 1
            i += 1
        if i >= len(text):
            raise ValueError(f"'{text}': not closed by '{closer}'")
        fields.append(text[field_start:i])
        i += 1
    return fields, i


def _substitution(text: str) -> Rule:
    (pattern, replacement), end = _split_delimited(text, 1)
    flags_text = text[end:]
    if not re.fullmatch(r"[gimsx]*", flags_text):
        raise ValueError(f"'{text}': flags '{flags_text}' not supported (only g, i, m, s, x)")
    delimiter = text[1]
    if delimiter not in _BRACKETS:
        pattern = pattern.replace("\\" + delimiter, delimiter if delimiter not in ".*+?|()[]{}^$" else "\\" + delimiter)
    flags = 0
    for letter, flag in (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL), ("x", re.VERBOSE)):
        if letter in flags_text:
            flags |= flag
    try:
        compiled = re.compile(to_python(pattern), flags)
    except re.error as exc:
        raise ValueError(f"'{text}': pattern does not compile: {exc}") from None
    pieces = _replacement(replacement, text)
    count = 0 if "g" in flags_text else 1

    def expand(match: re.Match) -> str:
        return "".join(piece if isinstance(piece, str) else (match.group(piece) or "") for piece in pieces)

    return Rule(text, lambda value: compiled.sub(expand, value, count=count))


def _replacement(text: str, rule: str) -> list[str | int]:
    pieces: list[str | int] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "ULulEe":
                raise ValueError(f"'{rule}': case-changing escape \\{nxt} is not supported")
            if nxt.isdigit():
                pieces.append(int(nxt))
            else:
                pieces.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        if c == "$":
            group = _GROUP_REFERENCE.match(text, i)
            if group:
                pieces.append(0 if group.group(3) else int(group.group(1) or group.group(2)))
                i = group.end()
                continue
            if i + 1 < len(text):
                raise ValueError(f"'{rule}': variable '{text[i:i + 8]}'… in the replacement is not supported")
        if c == "@" and i + 1 < len(text) and (text[i + 1].isalpha() or text[i + 1] == "{"):
            raise ValueError(f"'{rule}': array interpolation in the replacement is not supported")
        pieces.append(c)
        i += 1
    return pieces


def _transliteration(text: str, prefix: int) -> Rule:
    (source, target), end = _split_delimited(text, prefix)
    if text[end:]:
        raise ValueError(f"'{text}': tr/// flags '{text[end:]}' are not supported")
    left, right = _tr_set(source), _tr_set(target)
    if not right:
        right = left
    right = right + right[-1:] * (len(left) - len(right))
    table = str.maketrans(left, right[:len(left)])
    return Rule(text, lambda value: value.translate(table))


def _tr_set(text: str) -> str:
    chars: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            c = {"n": "\n", "t": "\t"}.get(text[i + 1], text[i + 1])
            i += 2
        else:
            i += 1
        if i + 1 < len(text) and text[i] == "-":
            last = text[i + 1]
            chars += [chr(code) for code in range(ord(c), ord(last) + 1)]
            i += 2
            continue
        chars.append(c)
    return "".join(chars)
