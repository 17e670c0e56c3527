"""Ordering upstream version strings, the way uscan and dpkg order them after the usual mangling.

Which release is the newest decides which signature keywatch checks first, so the
order must be total, deterministic and must never fail on whatever a download
page or a tag calls a version. The rules, applied to the lower-cased string:

- A leading ``v`` before a digit is dropped (``v1.2`` ranks as ``1.2``).
- The string splits into runs of ASCII digits and runs of ASCII letters; ``.``,
  ``-``, ``_``, ``+`` and every other character only separate them, so
  ``1.2_3``, ``1.2-3`` and ``1.2.3`` rank alike. ``~`` is the exception, below.
- Runs compare left to right. Numbers compare as numbers, however long
  (``5.4.10`` after ``5.4.9``; dates such as ``2024.01.05`` work).
- Pre-release words sort before the release they lead to, in this order:
  ``dev`` < ``alpha`` < ``beta`` < ``pre`` = ``preview`` = ``rc`` (PEP 440
  treats ``pre`` as ``rc``). ``a``, ``b`` and ``c`` mean alpha, beta and rc
  only when a number follows (``1.0a1``, ``1.0b2``); a lone trailing letter is a
  patch letter after the release, as in OpenSSL's ``1.1.1w``.
- ``~`` marks a pre-release as in dpkg: ``1.0~rc1`` ranks as ``1.0rc1``, and
  ``~`` before anything else (``1.0~git20240101``) ranks below every
  pre-release word.
- The end of the string sorts after pre-releases and before everything else:
  ``1.0rc1`` < ``1.0`` < ``1.0.post1`` < ``1.0a`` < ``1.0.1``.
- Post-release words ``post``, ``p``, ``pl`` and ``patch`` (``1.0.post1``,
  OpenSSH's ``9.6p1``) sort after the release and before any other word.
  A number after a dash is just the next number, so ``1.0-1`` is after ``1.0``
  and ranks with ``1.0.1``.
- Other words sort after the end of the string and after post-release words,
  alphabetically, and before numbers (``1.0`` < ``1.0-src`` < ``1.0.1``).
- Strings that rank alike (``1.0``, ``v1.0``, ``1.00``) are finally ordered by
  their exact text, so sorting never depends on the input order and only equal
  strings compare equal.
"""

from __future__ import annotations

import re

# Kinds of run, in the order they sort against each other at the same position.
_PRE, _END, _POST, _WORD, _NUMBER = range(5)

_PRE_RANKS = {"dev": 1, "alpha": 2, "beta": 3, "pre": 4, "preview": 4, "rc": 4}
_SHORT_PRE_RANKS = {"a": 2, "b": 3, "c": 4}  # only when a number follows
_TILDE_RANK = 0
_POST_WORDS = frozenset({"post", "p", "pl", "patch"})

_RUN = re.compile(r"[0-9]+|[a-z]+|~")
_LEADING_V = re.compile(r"^v(?=[0-9])")

Run = tuple[int, int, str]


def version_key(version: str) -> tuple[tuple[Run, ...], str]:
    """A sort key giving the order described in this module's docstring."""
    text = _LEADING_V.sub("", version.lower(), count=1)
    tokens = _RUN.findall(text)
    runs: list[Run] = []
    for index, token in enumerate(tokens):
        if token == "~":
            if _pre_rank(tokens, index + 1) is None:
                runs.append((_PRE, _TILDE_RANK, ""))
        elif token.isdigit():
            digits = token.lstrip("0") or "0"
            # Longer digit strings are larger numbers; no int() so no size limit.
            runs.append((_NUMBER, len(digits), digits))
        elif (rank := _pre_rank(tokens, index)) is not None:
            runs.append((_PRE, rank, ""))
        elif token in _POST_WORDS:
            runs.append((_POST, 0, ""))
        else:
            runs.append((_WORD, 0, token))
    runs.append((_END, 0, ""))
    return tuple(runs), version


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, the same as, or newer than `b`."""
    key_a, key_b = version_key(a), version_key(b)
    return (key_a > key_b) - (key_a < key_b)


def _pre_rank(tokens: list[str], index: int) -> int | None:
    """The pre-release rank of tokens[index], if it is a pre-release word.

    `a`/`b`/`c` count only before a number: a lone letter is a patch letter (1.1.1w).
    """
    token = tokens[index] if index < len(tokens) else ""
    if token in _PRE_RANKS:
        return _PRE_RANKS[token]
    following = tokens[index + 1] if index + 1 < len(tokens) else ""
    if token in _SHORT_PRE_RANKS and following.isdigit():
        return _SHORT_PRE_RANKS[token]
    return None
