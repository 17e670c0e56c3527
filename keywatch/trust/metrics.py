"""How well a key is connected in the certification graph at a time: the numbers behind a handover decision.

These are structural measures on the graph of counting certifications
(`graph`), the way keyring analyses (the "strong set", mean shortest
distance) look at it: an edge issuer → key for each key its certifications
count on, whatever the trust depth or the user ID. A certification of trust
amount 0 says "not certified" and is no edge. The trust *amount* the roots
give a binding is the web-of-trust question, answered in `wot`.

- `distance`: fewest certification hops from any root (a root: 0).
- `disjoint_paths`: how many certification paths from the roots reach the key
  with no key in common but the roots and the key itself — Menger's theorem:
  the maximum flow when every other key can carry one path (each key split
  into in → out with capacity 1) and the roots act as one source. A root that
  certifies the key directly is one path. This is the number of keys an
  attacker must control to cut the key off from the roots.
- `disjoint_paths_within_4_hops`: the same, counting only paths of at most 4
  certifications (long chains are weak evidence). Computing it exactly is
  hard in general; we take the maximum flow on the keys that lie on some root
  path of at most 4 hops, which is exact when every path of that flow is
  short enough (the usual case), and otherwise fall back to the largest
  number of such paths found shortest first.
- `certifiers`: distinct keys whose certifications count; *independent* of a
  predecessor P when the certifier is neither P nor certified by P alone (the
  key itself aside); *reachable* when it has a certification path from the roots.
- `largest_strong_set`: the largest strongly connected set of keys (each
  reaches every other; two keys at least): whether the key belongs, and its size.
- `first_release_signature` (from `release_signers`) and, for each
  certification, how many days before it (negative: after) it was made.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..types import Fingerprint
from .graph import CertificationGraph

SHORT_PATH_HOPS = 4


def structural_edges(graph: CertificationGraph) -> dict[Fingerprint, set[Fingerprint]]:
    """issuer -> the keys it certifies (with a non-zero amount), self-certification aside."""
    out: dict[Fingerprint, set[Fingerprint]] = {}
    for target, edges in graph.certifications_on.items():
        for edge in edges:
            if edge.amount > 0 and edge.issuer != target:
                out.setdefault(edge.issuer, set()).add(target)
    return out


def reverse(edges: dict[Fingerprint, set[Fingerprint]]) -> dict[Fingerprint, set[Fingerprint]]:
    into: dict[Fingerprint, set[Fingerprint]] = {}
    for issuer, targets in edges.items():
        for target in targets:
            into.setdefault(target, set()).add(issuer)
    return into


def distances(edges: dict[Fingerprint, set[Fingerprint]], sources: Iterable[Fingerprint],
              limit: int | None = None) -> dict[Fingerprint, int]:
    """Hops from the nearest source (breadth first), optionally only up to `limit`."""
    dist = {s: 0 for s in sources}
    queue = deque(dist)
    while queue:
        node = queue.popleft()
        if limit is not None and dist[node] >= limit:
            continue
        for nxt in edges.get(node, ()):
            if nxt not in dist:
                dist[nxt] = dist[node] + 1
                queue.append(nxt)
    return dist


def disjoint_paths(edges: dict[Fingerprint, set[Fingerprint]], roots: set[Fingerprint], target: Fingerprint,
                   allowed: set[Fingerprint] | None = None) -> list[list[Fingerprint]]:
    """A maximum set of internally vertex-disjoint paths from the roots to `target` (each a list of keys).

    Max flow (shortest augmenting paths) on the split graph: every key v but the roots and the target
    becomes v_in -> v_out of capacity 1; the roots are one source; u -> v becomes u_out -> v_in.
    `allowed` restricts the keys the paths may pass through.
    """
    if target in roots:
        return []
    into = reverse(edges)
    reached_from_roots = distances(edges, roots)
    reaching_target = distances(into, [target])
    inner = sorted(v for v in reaching_target if v in reached_from_roots and v not in roots and v != target
                   and (allowed is None or v in allowed))
    index = {v: 2 + 2 * i for i, v in enumerate(inner)}  # v_in = index, v_out = index + 1
    source, sink = 0, 1
    heads: list[int] = []
    caps: list[int] = []
    adjacency: list[list[int]] = [[] for _ in range(2 + 2 * len(inner))]

    def arc(a: int, b: int) -> None:
        adjacency[a].append(len(heads))
        heads.append(b)
        caps.append(1)
        adjacency[b].append(len(heads))
        heads.append(a)
        caps.append(0)

    def entry(v: Fingerprint) -> int | None:
        return sink if v == target else index.get(v)

    for v in inner:
        arc(index[v], index[v] + 1)
    root_of_arc: dict[int, Fingerprint] = {}
    for root in sorted(roots):
        for v in sorted(edges.get(root, ())):
            if (node := entry(v)) is not None:
                root_of_arc[len(heads)] = root
                arc(source, node)
    for u in inner:
        for v in sorted(edges.get(u, ())):
            if (node := entry(v)) is not None:
                arc(index[u] + 1, node)
    while True:
        via = {source: -1}
        queue = deque([source])
        while queue and sink not in via:
            node = queue.popleft()
            for number in adjacency[node]:
                if caps[number] > 0 and heads[number] not in via:
                    via[heads[number]] = number
                    queue.append(heads[number])
        if sink not in via:
            break
        node = sink
        while node != source:
            number = via[node]
            caps[number] -= 1
            caps[number ^ 1] += 1
            node = heads[number ^ 1]
    names = {i: v for v, i in index.items()}
    paths = []
    for number in adjacency[source]:
        if number % 2 == 0 and caps[number] == 0:  # a used arc from the source
            first = heads[number]
            path = [root_of_arc[number]]
            node = first
            while node != sink:
                path.append(names[node])
                out = node + 1
                node = next(heads[n] for n in adjacency[out] if n % 2 == 0 and caps[n] == 0)
            path.append(target)
            paths.append(path)
    return paths


def short_disjoint_paths(edges: dict[Fingerprint, set[Fingerprint]], roots: set[Fingerprint],
                         target: Fingerprint, hops: int = SHORT_PATH_HOPS) -> list[list[Fingerprint]]:
    """Vertex-disjoint root paths of at most `hops` certifications (see the module text for exactness)."""
    if target in roots:
        return []
    fore = distances(edges, roots, hops)
    back = distances(reverse(edges), [target], hops)
    near = {v for v in fore if v in back and fore[v] + back[v] <= hops}
    flow = disjoint_paths(edges, roots, target, near)
    short = [p for p in flow if len(p) - 1 <= hops]
    if len(short) == len(flow):
        return flow  # exact: no set of short paths can be larger than this flow
    greedy: list[list[Fingerprint]] = []
    used: set[Fingerprint] = set()
    used_direct: set[Fingerprint] = set()
    while (path := _shortest_avoiding(edges, roots, target, used, used_direct, hops)) is not None:
        greedy.append(path)
        used.update(path[1:-1])
        if len(path) == 2:
            used_direct.add(path[0])
    return greedy if len(greedy) > len(short) else short


def _shortest_avoiding(edges, roots, target, used, used_direct, hops):
    parent: dict[Fingerprint, Fingerprint] = {}
    depth: dict[Fingerprint, int] = {}
    queue: deque = deque()
    for root in sorted(roots):
        for nxt in sorted(edges.get(root, ())):
            if nxt == target and root in used_direct:
                continue
            if nxt not in parent and nxt not in roots and nxt not in used:
                parent[nxt], depth[nxt] = root, 1
                queue.append(nxt)
    while queue:
        node = queue.popleft()
        if node == target:
            path = [node]
            while path[-1] in parent:
                path.append(parent[path[-1]])
            return list(reversed(path))
        if depth[node] >= hops:
            continue
        for nxt in sorted(edges.get(node, ())):
            if nxt not in parent and nxt not in roots and nxt not in used:
                parent[nxt], depth[nxt] = node, depth[node] + 1
                queue.append(nxt)
    return None


def strongly_connected_sets(edges: dict[Fingerprint, set[Fingerprint]],
                            nodes: Iterable[Fingerprint]) -> list[set[Fingerprint]]:
    """Tarjan's algorithm, iterative (the graph can be deep)."""
    index: dict[Fingerprint, int] = {}
    low: dict[Fingerprint, int] = {}
    on_stack: set[Fingerprint] = set()
    stack: list[Fingerprint] = []
    found: list[set[Fingerprint]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found


@dataclass
class Certifier:
    fingerprint: Fingerprint
    independent: bool  # of the predecessor (always True without one)
    reachable: bool  # has a certification path from the roots
    distance: int | None


@dataclass
class Connectivity:
    fingerprint: Fingerprint
    at: int
    is_root: bool
    distance: int | None
    disjoint_paths: list[list[Fingerprint]]
    short_disjoint_paths: list[list[Fingerprint]]
    certifiers: list[Certifier]
    strong_set_size: int
    in_largest_strong_set: bool
    own_strong_set_size: int
    certified_by_predecessor: bool | None = None
    certifications: list[dict] = field(default_factory=list)  # {issuer, user_id, created}

    @property
    def independent_certifiers(self) -> list[Certifier]:
        return [c for c in self.certifiers if c.independent]


def connectivity(graph: CertificationGraph, roots: Iterable[Fingerprint], fingerprint: Fingerprint,
                 predecessor: Fingerprint | None = None,
                 edges: dict[Fingerprint, set[Fingerprint]] | None = None,
                 strong_sets: list[set[Fingerprint]] | None = None) -> Connectivity:
    """Every structural measure for one key (pass `edges`/`strong_sets` to reuse them across keys)."""
    roots = set(roots) & set(graph.nodes)
    edges = structural_edges(graph) if edges is None else edges
    into = reverse(edges)
    dist = distances(edges, roots)
    certifiers = []
    for issuer in sorted(into.get(fingerprint, ())):
        independent = True
        if predecessor is not None:
            own = into.get(issuer, set()) - {fingerprint, issuer}
            independent = issuer != predecessor and own != {predecessor}
        certifiers.append(Certifier(issuer, independent, issuer in dist, dist.get(issuer)))
    if strong_sets is None:
        strong_sets = strongly_connected_sets(edges, sorted(graph.nodes))
    largest = max(strong_sets, key=len, default=set())
    if len(largest) < 2:
        largest = set()  # single keys that reach no one back are no strong set
    own = next((s for s in strong_sets if fingerprint in s), {fingerprint})
    certifications = [{"issuer": e.issuer, "user_id": e.user_id, "created": e.created, "amount": e.amount,
                       "depth": e.depth}
                      for e in graph.certifications_on.get(fingerprint, ()) if e.amount > 0]
    return Connectivity(
        fingerprint=fingerprint, at=graph.at, is_root=fingerprint in roots, distance=dist.get(fingerprint),
        disjoint_paths=disjoint_paths(edges, roots, fingerprint),
        short_disjoint_paths=short_disjoint_paths(edges, roots, fingerprint),
        certifiers=certifiers, strong_set_size=len(largest), in_largest_strong_set=fingerprint in largest,
        own_strong_set_size=len(own),
        certified_by_predecessor=None if predecessor is None else predecessor in into.get(fingerprint, set()),
        certifications=certifications,
    )


def first_release_signature(conn: sqlite3.Connection, fingerprint: Fingerprint) -> int | None:
    """When the key first made a good release signature that keywatch recorded, if ever."""
    try:
        row = conn.execute("SELECT min(created) FROM release_signers WHERE signer = ? AND status = 'good'",
                           (fingerprint,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None
