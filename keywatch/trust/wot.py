"""Authentication in the web of trust: Sequoia's semantics (draft-nhw-web-of-trust, sequoia-wot 0.2).

A *binding* is a certificate and one of its user IDs. It is authenticated by
*paths* from trust roots: root → introducer … → certificate, where

- every certification on a path counts (see `graph`), and its *trust depth*
  covers the rest of the path: a certification followed by n more hops needs
  depth ≥ n (depth 255: unconstrained). A root is an unconstrained introducer;
- the last certification is of the target user ID, or — when the target is
  itself a trusted introducer (certified with depth ≥ 1) and has self-signed
  the user ID — the key holder's own self-signature ends the path;
- every certification with regexes (a trust signature's scope) has one that
  matches the *target* user ID (introducers on the way need not match);
- the target is valid, unexpired and unrevoked, and so is its user ID, at the
  reference time;
- a path's amount is the smallest trust amount on it (120 = full; more is 120).

Several paths add up, the way sequoia-wot combines them (Ford–Fulkerson
without reverse edges): find the best path, subtract its amount from every
issuer→target pair it uses (all certifications between the same two keys
share one capacity), and repeat until the requested amount is reached or no
path is left. A root with an amount below 120 caps every certification it
makes. The binding's amount is the sum; 120 is fully authenticated.

Finding the best path is sequoia-wot's backward propagation: a Dijkstra from
the target towards the roots that prefers the shorter path suffix, then the
larger amount, visiting keys in order of distance and then fingerprint; the
first suffix found wins ties. Among the roots that reach the target, the one
with the largest amount wins, then the shorter path, then the larger
fingerprint. Paths ending in a self-signature are tried first, as sq-wot does.

Speed: a key can only be an issuer on a root path if some root reaches it
as a trusted introducer. Those keys (and the roots) are found once per
network; the search never looks at anyone else. This changes no result: every
key on a root's chosen chain is such an introducer, and the choice made at each
such key depends only on keys that are too (proof in `_introducers`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..types import Fingerprint
from . import regex
from .graph import FULL, UNCONSTRAINED, Certification, CertificationGraph

# Ask for this much to see every path: sq-wot stops once the requested amount is reached.
EXHAUSTIVE = 1 << 40


@dataclass(frozen=True, slots=True)
class Root:
    fingerprint: Fingerprint
    amount: int = FULL


@dataclass(frozen=True, slots=True)
class Path:
    """root → … → target. The last hop may be the target's own self-signature (issuer == target)."""

    root: Fingerprint
    certifications: tuple[Certification, ...]

    @property
    def length(self) -> int:
        """Keys on the path, as sq-wot counts them (a root alone is 1)."""
        return 1 + len(self.certifications)

    @property
    def fingerprints(self) -> list[Fingerprint]:
        return [self.root, *(c.target for c in self.certifications if c.issuer != c.target)]


@dataclass
class Authentication:
    fingerprint: Fingerprint
    user_id: bytes
    paths: list[tuple[Path, int]] = field(default_factory=list)

    @property
    def amount(self) -> int:
        return sum(amount for _, amount in self.paths)


def self_certification(fingerprint: Fingerprint, user_id: bytes) -> Certification:
    return Certification(fingerprint, fingerprint, user_id, 0, None, 0, FULL, ())


class TrustNetwork:
    """A certification graph seen from a set of trust roots."""

    def __init__(self, graph: CertificationGraph, roots: Iterable[Root]) -> None:
        self.graph = graph
        best: dict[Fingerprint, int] = {}
        for root in roots:
            best[root.fingerprint] = max(best.get(root.fingerprint, 0), root.amount)
        # Roots that are not valid keys at the reference time are not in the network.
        self.roots = [Root(f, a) for f, a in sorted(best.items()) if f in graph.nodes]
        self.root_set = {r.fingerprint for r in self.roots}
        self.caps = {r.fingerprint: r.amount for r in self.roots if r.amount != FULL}
        self.residual_depth = self._introducers()
        self.issuers = self.root_set | {f for f, depth in self.residual_depth.items() if depth >= 1}

    def _introducers(self) -> dict[Fingerprint, int]:
        """For every key a root reaches as a trusted introducer: the most depth it has left.

        R(root) is unconstrained; a certification u→v of depth d gives v min(R(u) - 1, d) when R(u) ≥ 1.
        Why pruning to R ≥ 1 is exact: on a root's chosen chain, a key n hops before the target was reached
        by certifications each of depth ≥ the hops after it, so R ≥ n ≥ 1 there; and every alternative the
        search weighs at such a key (a signee one hop closer, certified with enough depth) has R ≥ n - 1
        by the same token, so it is kept too, and the search at kept keys sees exactly what it saw before.
        """
        residual: dict[Fingerprint, int] = {r.fingerprint: UNCONSTRAINED + 1 for r in self.roots}
        heap = [(-depth, fingerprint) for fingerprint, depth in residual.items()]
        heapq.heapify(heap)
        while heap:
            negative, issuer = heapq.heappop(heap)
            depth = -negative
            if depth != residual.get(issuer) or depth < 1:
                continue
            for edge in self.graph.certifications_by.get(issuer, ()):
                if edge.depth < 1 or self._capped(edge) == 0:
                    continue
                offered = min(depth - 1, edge.depth)
                if offered > residual.get(edge.target, 0):
                    residual[edge.target] = offered
                    heapq.heappush(heap, (-offered, edge.target))
        return residual

    def _capped(self, edge: Certification) -> int:
        cap = self.caps.get(edge.issuer)
        return edge.amount if cap is None else min(edge.amount, cap)

    # --- authentication --------------------------------------------------------------------------

    def authenticate(self, fingerprint: Fingerprint, user_id: bytes, wanted: int = EXHAUSTIVE) -> Authentication:
        """The paths authenticating (fingerprint, user_id), until their amounts add up to `wanted`."""
        result = Authentication(fingerprint, user_id)
        node = self.graph.nodes.get(fingerprint)
        if node is None or not node.target_ok or node.user_ids.get(user_id, False):
            return result  # unknown, expired or revoked key, or a user ID its holder revoked
        search = _Search(self, fingerprint, user_id)
        while result.amount < wanted:
            for self_signed in (True, False):
                found = search.best_root_path(self_signed)
                if found is not None:
                    path, amount = found
                    search.suppress(path, amount)
                    result.paths.append((path, amount))
                    break
            else:
                break
        return result

    def may_authenticate(self, fingerprint: Fingerprint) -> bool:
        """Cheap pre-check: is the key a root, or certified by a root or a trusted introducer?"""
        if fingerprint in self.root_set:
            return True
        return any(edge.issuer in self.issuers for edge in self.graph.certifications_on.get(fingerprint, ()))

    def authenticate_all(self, wanted: int = EXHAUSTIVE, minimum: int = 1) -> list[Authentication]:
        """Every binding with at least `minimum`, in fingerprint then user ID order (sq-wot list)."""
        out = []
        for fingerprint, user_id in self.graph.bindings():
            if not self.may_authenticate(fingerprint):
                continue
            found = self.authenticate(fingerprint, user_id, wanted)
            if found.amount >= max(minimum, 1):
                out.append(found)
        return out


class _Search:
    """One binding's residual network: what the paths found so far used up."""

    def __init__(self, network: TrustNetwork, target: Fingerprint, user_id: bytes) -> None:
        self.network = network
        self.graph = network.graph
        self.target = target
        self.user_id = user_id
        self.used_pair: dict[tuple[Fingerprint, Fingerprint], int] = {}
        self.used_root: dict[Fingerprint, int] = {}

    def cost(self, edge: Certification) -> int:
        amount = self.network._capped(edge)
        amount -= self.used_pair.get((edge.issuer, edge.target), 0) + self.used_root.get(edge.issuer, 0)
        return max(0, amount)

    def suppress(self, path: Path, amount: int) -> None:
        if not path.certifications:
            self.used_root[path.root] = self.used_root.get(path.root, 0) + amount
            return
        for edge in path.certifications:
            pair = (edge.issuer, edge.target)
            self.used_pair[pair] = self.used_pair.get(pair, 0) + amount

    def best_root_path(self, self_signed: bool) -> tuple[Path, int] | None:
        pointers = self._backward(self_signed)
        best: tuple[tuple[int, int, str], Path, int] | None = None
        for root in self.network.roots:
            found = self._path_from(root.fingerprint, pointers, self_signed)
            if found is None:
                continue
            path, amount = found
            key = (amount, -path.length, root.fingerprint)
            if best is None or key > best[0]:
                best = (key, path, amount)
        return None if best is None else (best[1], best[2])

    def _backward(self, self_signed: bool) -> dict[Fingerprint, tuple[Certification | None, int, int]]:
        """Forward pointers towards the target: key -> (certification to follow, hops left, amount)."""
        target, user_id = self.target, self.user_id
        if self_signed and user_id not in self.graph.nodes[target].user_ids:
            return {}
        issuers = self.network.issuers
        pointers: dict[Fingerprint, tuple[Certification | None, int, int]] = {
            target: (None, 1 if self_signed else 0, FULL)}
        layer = [target]
        while layer:
            discovered = []
            for signee in layer:
                _, hops, suffix_amount = pointers[signee]
                for edge in self.graph.certifications_on.get(signee, ()):
                    issuer = edge.issuer
                    if issuer not in issuers:
                        continue
                    amount = self.cost(edge)
                    if amount == 0:
                        continue
                    if not self_signed and signee == target and edge.user_id != user_id:
                        continue
                    if edge.depth < hops:
                        continue
                    if not regex.matches(edge.regexes, user_id):
                        continue
                    proposed = (edge, hops + 1, min(amount, suffix_amount))
                    current = pointers.get(issuer)
                    if current is None:
                        pointers[issuer] = proposed
                        discovered.append(issuer)
                    elif proposed[1] < current[1] or (proposed[1] == current[1] and proposed[2] > current[2]):
                        pointers[issuer] = proposed
            layer = sorted(discovered)
        return pointers

    def _path_from(self, root: Fingerprint, pointers: dict, self_signed: bool) -> tuple[Path, int] | None:
        entry = pointers.get(root)
        if entry is None:
            return None
        if entry[0] is None:  # the root is the target: its own self-signature
            if not self_signed:
                return None
            amount = self.cost(self_certification(self.target, self.user_id))
            return (Path(root, ()), amount) if amount > 0 else None
        chain: list[Certification] = []
        amount = FULL
        edge = entry[0]
        while edge is not None:
            chain.append(edge)
            amount = min(amount, self.cost(edge))
            edge = pointers[edge.target][0]
        if self_signed and chain[-1].user_id != self.user_id:
            chain.append(self_certification(self.target, self.user_id))
        return Path(root, tuple(chain)), amount

