"""Upstream version order: the examples uscan/dpkg users expect, and a total order on anything."""

from __future__ import annotations

import functools
import itertools
import random

import pytest

from keywatch.versions import compare_versions, version_key


@pytest.mark.parametrize(("older", "newer"), [
    ("5.4.9", "5.4.10"),
    ("1.0", "1.0.1"),
    ("1.9", "1.10"),
    ("2023.12.31", "2024.01.05"),
    ("5.6.0rc1", "5.6.0"),
    ("5.6.0-rc1", "5.6.0"),
    ("5.6.0~rc1", "5.6.0"),
    ("5.6.0.rc1", "5.6.0"),
    ("5.6.0rc1", "5.6.0rc2"),
    ("5.6.0~rc2", "5.6.0rc3"),
    ("1.0-beta", "1.0"),
    ("1.0alpha2", "1.0beta1"),
    ("1.0beta1", "1.0rc1"),
    ("1.0rc1", "1.0"),
    ("1.0pre1", "1.0"),
    ("1.0.dev1", "1.0a1"),
    ("1.0a1", "1.0b1"),
    ("1.0b1", "1.0c1"),
    ("1.0-beta", "1.0-beta1"),
    ("1.0~git20240101", "1.0.dev1"),
    ("1.0~20240101", "1.0"),
    ("1.0", "1.0-1"),
    ("1.0", "1.0.post1"),
    ("1.0", "1.0p1"),
    ("9.6p1", "9.6p2"),
    ("9.6p2", "9.7p1"),
    ("1.0.post1", "1.0a"),
    ("1.1.1", "1.1.1a"),
    ("1.1.1a", "1.1.1w"),
    ("1.1.1w", "1.1.2"),
    ("1.0", "1.0-src"),
    ("1.0-src", "1.0.1"),
    ("1.0.post1", "1.0.1"),
    ("v1.2", "v1.10"),
    ("1.2", "v1.3"),
    ("1.2_3", "1.2_4"),
    ("", "0"),
    ("~1", ""),
    ("1.0RC1", "1.0"),
    ("9" * 5000, "1" + "0" * 5000),
])
def test_order(older, newer):
    assert compare_versions(older, newer) == -1
    assert compare_versions(newer, older) == 1
    assert version_key(older) < version_key(newer)


@pytest.mark.parametrize(("a", "b"), [
    ("1.0", "v1.0"),
    ("1.0", "1.00"),
    ("1.2_3", "1.2.3"),
    ("1.2-3", "1.2.3"),
    ("5.6.0rc1", "5.6.0-rc1"),
    ("5.6.0rc1", "5.6.0~rc1"),
    ("1.0pre1", "1.0rc1"),
    ("1.0.post1", "1.0p1"),
    ("1.0RC1", "1.0rc1"),
])
def test_alike_versions_differ_only_by_text(a, b):
    """Same rank in every run; the exact text decides, so only equal strings compare equal."""
    assert version_key(a)[0] == version_key(b)[0]
    assert compare_versions(a, b) == (a > b) - (a < b)
    assert compare_versions(a, a) == 0


def test_sorting_a_release_list():
    shuffled = ["1.0", "1.0.1", "1.0rc1", "1.0beta1", "0.9", "1.0alpha2", "1.0-beta", "1.0.post1", "1.0alpha1"]
    expected = ["0.9", "1.0alpha1", "1.0alpha2", "1.0-beta", "1.0beta1", "1.0rc1", "1.0", "1.0.post1", "1.0.1"]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert sorted(shuffled, key=version_key) == expected


ODD = ["", " ", "v", "~", "~~", "-", "..", "v1.2", "V1.2", "1..2", "1.2.", ".1", "1.2_3", "2024.01.05",
       "١٢٣", "²", "1.0\x00", "\u202e1.0", "é1", "1.0 beta", "0" * 300, "9" * 5000, "a" * 1000, "1a" * 500]


def _sample() -> list[str]:
    """Odd inputs plus random strings built from pieces real versions are made of."""
    pieces = ["0", "1", "2", "10", "007", ".", "-", "_", "~", "+", "a", "b", "c", "p", "w", "rc", "pre",
              "alpha", "beta", "dev", "post", "git", "src", "v", "V", "RC"]
    rng = random.Random(20240329)
    made = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(300)]
    return ODD + made


def test_never_raises_and_is_deterministic():
    for text in _sample():
        assert version_key(text) == version_key(text)
        assert compare_versions(text, text) == 0


def test_total_order_on_a_sample():
    """Antisymmetric, equal only when identical, transitive: what sorting needs to be stable."""
    sample = _sample()
    for a, b in itertools.product(sample[:120], repeat=2):
        assert compare_versions(a, b) == -compare_versions(b, a)
        assert (compare_versions(a, b) == 0) == (a == b)
    rng = random.Random(7)
    for _ in range(5000):
        a, b, c = (rng.choice(sample) for _ in range(3))
        if compare_versions(a, b) <= 0 and compare_versions(b, c) <= 0:
            assert compare_versions(a, c) <= 0
    assert sorted(sample, key=functools.cmp_to_key(compare_versions)) == sorted(sample, key=version_key)
