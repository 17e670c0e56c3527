"""Connectivity metrics and trust-signature regexes: small examples, each a picture.

`a -> b` means a's certification of b counts; `R*` is a root.
"""

from __future__ import annotations

import pytest

from keywatch.trust import regex
from keywatch.trust.graph import KEYWATCH, Certification, CertificationGraph, Node
from keywatch.trust.metrics import (
    connectivity,
    disjoint_paths,
    distances,
    short_disjoint_paths,
    strongly_connected_sets,
)


def edges(*pairs: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for pair in pairs:
        a, b = pair.split("->")
        out.setdefault(a.strip(), set()).add(b.strip())
    return out


def test_menger_needs_the_flow_not_the_greedy_choice():
    """R* -> a -> c -> T, a -> d -> T, R -> b -> c: two disjoint paths, but only if a goes through d.

    Taking the shortest path R-a-c-T first would block b; the max flow reroutes it.
    """
    e = edges("R->a", "R->b", "a->c", "a->d", "b->c", "c->T", "d->T")
    paths = disjoint_paths(e, {"R"}, "T")
    assert sorted(paths) == [["R", "a", "d", "T"], ["R", "b", "c", "T"]]


def test_direct_certifications_by_several_roots_are_separate_paths():
    """R1* -> T, R2* -> T, R1 -> a -> T: three paths (each root's own edge, and one through a)."""
    e = edges("R1->T", "R2->T", "R1->a", "a->T")
    assert len(disjoint_paths(e, {"R1", "R2"}, "T")) == 3


def test_a_cut_key_is_one_path():
    """R* -> a -> x -> T, R -> b -> x: everything goes through x: one path."""
    e = edges("R->a", "R->b", "a->x", "b->x", "x->T")
    assert len(disjoint_paths(e, {"R"}, "T")) == 1


def test_paths_within_four_hops():
    """R* -> a -> b -> c -> T (4 hops), R -> d -> e -> f -> g -> T (5 hops): 2 disjoint, 1 short."""
    e = edges("R->a", "a->b", "b->c", "c->T", "R->d", "d->e", "e->f", "f->g", "g->T")
    assert len(disjoint_paths(e, {"R"}, "T")) == 2
    assert short_disjoint_paths(e, {"R"}, "T") == [["R", "a", "b", "c", "T"]]


def test_distances_and_roots():
    e = edges("R->a", "a->b", "b->c")
    assert distances(e, ["R"]) == {"R": 0, "a": 1, "b": 2, "c": 3}
    assert disjoint_paths(e, {"R"}, "R") == []


def test_strongly_connected_sets():
    """a <-> b <-> c, c -> d: {a, b, c} and {d}."""
    e = edges("a->b", "b->a", "b->c", "c->b", "c->d")
    found = sorted(strongly_connected_sets(e, ["a", "b", "c", "d"]), key=len)
    assert found == [{"d"}, {"a", "b", "c"}]


def _graph(*pairs: str) -> CertificationGraph:
    nodes, on = {}, {}
    for pair in pairs:
        a, b = (x.strip() for x in pair.split("->"))
        for name in (a, b):
            nodes.setdefault(name, Node(name, True, {name.encode(): False}))
        on.setdefault(b, []).append(Certification(a, b, b.encode(), 0, None, 0, 120, ()))
    return CertificationGraph(0, KEYWATCH, nodes, on)


def test_independent_certifiers():
    """R* -> k1 -> S, R -> P -> S, P -> sock -> S, P -> k1: k1 is independent (R certified it too); sock is not."""
    g = _graph("R->k1", "k1->S", "R->P", "P->S", "P->sock", "sock->S", "P->k1")
    found = connectivity(g, {"R"}, "S", predecessor="P")
    by = {c.fingerprint: (c.independent, c.reachable) for c in found.certifiers}
    assert by == {"P": (False, True), "k1": (True, True), "sock": (False, True)}
    assert found.certified_by_predecessor is True
    assert found.distance == 2


def test_strong_set_membership():
    """a <-> b <-> c; S certified by a only: S is not in the strong set {a, b, c}."""
    g = _graph("a->b", "b->a", "b->c", "c->b", "a->S")
    assert connectivity(g, {"a"}, "b").in_largest_strong_set
    found = connectivity(g, {"a"}, "S")
    assert (found.in_largest_strong_set, found.strong_set_size, found.own_strong_set_size) == (False, 3, 1)


@pytest.mark.parametrize("pattern,user_id,expected", [
    (r"<[^>]+[@.]example\.org>$", "Paul <paul@example.org>", True),
    (r"<[^>]+[@.]example\.org>$", "Paul <paul@sub.example.org>", True),
    (r"<[^>]+[@.]example\.org>$", "Eve <eve@example.org.evil.net>", False),
    (r"example\.org", "x@exampleXorg", False),
    ("example.org", "x@exampleXorg", True),  # an unescaped dot is any character
    ("a{2}", "a{2}", True),  # braces are plain characters here, not a count
    ("a{2}", "aa", False),
    (r"\d", "d", True),  # a backslash makes the next character literal: no character classes
    (r"\d", "1", False),
    ("[]a]", "]", True),  # ']' first in a range is literal
    ("[^a-c]x", "dx", True),
    ("[^a-c]x", "bx", False),
    ("(ab)+c|z", "xxababc", True),
    ("^alice", "malice", False),
])
def test_regex_translation(pattern, user_id, expected):
    assert regex.matches((pattern,), user_id.encode()) is expected


def test_regex_edge_cases():
    assert regex.matches((), b"anyone") is True
    assert regex.matches(("(unbalanced",), b"(unbalanced") is False  # does not parse: matches nothing
    assert regex.matches(("(bad", "good"), b"good") is True  # the others still count
    assert regex.matches((), b"line\nbreak") is False  # control characters: never authenticated
    assert regex.matches(("x",), b"\xff\xfe x") is False  # not UTF-8
