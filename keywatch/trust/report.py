"""What `keywatch trust` reports: the trust graph, the metrics and the risk for keys in the store.

This is the library face of the trust commands (the CLI and the review UI
call it): it takes the store, the roots and the reference time as
parameters, reads the configuration's `[trust]` table when asked, makes
sure the trust stores are imported and the validity phases are current, and
returns JSON-ready documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, NotFound
from ..types import Fingerprint, iso, parse_key_handle
from . import graph as graph_module
from . import metrics, tables
from .graph import UNCONSTRAINED, CertificationGraph, Rules
from .risk import Finding, KeyFacts, Risk, Thresholds, handover_risk, strength_bits
from .wot import EXHAUSTIVE, Authentication, Root, TrustNetwork
from .wot import Path as TrustPath


@dataclass(frozen=True)
class TrustSettings:
    """The `[trust]` table: roots (with amounts), trust-store keyrings, risk thresholds."""

    roots: tuple[tuple[str, int], ...] = ()
    stores: tuple[Path, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)


def settings_from_config(config, workspace_root: Path) -> TrustSettings:
    """Read `config.trust` (roots: [(fingerprint, amount)], stores: [path], risk: {name: value}) if present."""
    trust = getattr(config, "trust", None)
    if trust is None:
        return TrustSettings()
    roots = tuple((str(f), int(a)) for f, a in getattr(trust, "roots", ()))
    stores = tuple(Path(p) if Path(p).is_absolute() else workspace_root / p for p in getattr(trust, "stores", ()))
    return TrustSettings(roots, stores, Thresholds.from_mapping(dict(getattr(trust, "risk", {}) or {})))


def prepare(store, stores: Iterable[Path] = ()) -> None:
    """Import the trust-store keyrings (an unchanged file costs one hash) and bring the trust tables up to date."""
    stores = list(stores)
    if stores:
        from ..ingest import import_files  # only when there are trust stores to read

        summary = import_files(store, stores)
        if summary.errors:
            raise ConfigError("trust store: " + "; ".join(e["message"] for e in summary.errors))
    tables.refresh(store)


def resolve_roots(store, handles: Sequence[str] | Sequence[tuple[str, int]]) -> list[Root]:
    """Fingerprints or key IDs (optionally with amounts 0-120) to roots; each must be in the store."""
    roots = []
    for handle in handles:
        fingerprint, amount = (handle if isinstance(handle, tuple) else (handle, 120))
        if not 0 <= amount <= 120:
            raise ConfigError(f"trust root {fingerprint}: amount {amount} is not between 0 and 120")
        try:
            resolved = store.resolve(parse_key_handle(fingerprint))
        except NotFound:
            raise NotFound(f"trust root {fingerprint} is not in the store: import its certificate first") from None
        roots.append(Root(resolved, amount))
    return roots


def names(conn) -> dict[str, str | None]:
    return {f: n for f, n in conn.execute("SELECT fingerprint, primary_user_id FROM certs")}


def _depth(depth: int) -> int:
    return 255 if depth >= UNCONSTRAINED else depth


def path_json(path: TrustPath, amount: int) -> dict:
    return {
        "amount": amount,
        "root": path.root,
        "keys": path.fingerprints,
        "certifications": [{
            "issuer": c.issuer, "target": c.target, "user_id": c.user_id.decode("utf-8", "replace"),
            "self_signature": c.issuer == c.target, "created": iso(c.created) if c.issuer != c.target else None,
            "expires": iso(c.expires), "depth": _depth(c.depth), "amount": c.amount, "regexes": list(c.regexes),
        } for c in path.certifications],
    }


def binding_json(found: Authentication) -> dict:
    return {"user_id": found.user_id.decode("utf-8", "replace"), "amount": found.amount,
            "paths": [path_json(p, a) for p, a in found.paths]}


@dataclass
class Analysis:
    """One graph at one time, seen from the roots: reused for every key asked about."""

    graph: CertificationGraph
    network: TrustNetwork
    edges: dict = field(default_factory=dict)
    strong_sets: list | None = None

    @classmethod
    def build(cls, store, at: int, roots: Sequence[Root], rules: Rules = graph_module.KEYWATCH) -> Analysis:
        tables.refresh(store)  # a no-op unless the store changed since the last question
        graph = graph_module.build(store.conn, at, rules)
        return cls(graph, TrustNetwork(graph, roots), metrics.structural_edges(graph))

    def bindings_of(self, fingerprint: Fingerprint) -> list[Authentication]:
        node = self.graph.nodes.get(fingerprint)
        if node is None:
            return []
        return [self.network.authenticate(fingerprint, uid, EXHAUSTIVE) for uid in sorted(node.user_ids)]

    def connectivity(self, fingerprint: Fingerprint, predecessor: Fingerprint | None = None) -> metrics.Connectivity:
        if self.strong_sets is None:
            self.strong_sets = metrics.strongly_connected_sets(self.edges, sorted(self.graph.nodes))
        return metrics.connectivity(self.graph, self.network.root_set, fingerprint, predecessor, self.edges,
                                    self.strong_sets)


def key_report(store, fingerprint: Fingerprint, at: int, roots: Sequence[Root], *,
               predecessor: Fingerprint | None = None, thresholds: Thresholds | None = None,
               rules: Rules = graph_module.KEYWATCH, analysis: Analysis | None = None) -> dict:
    """The `keywatch trust FPR --json` document."""
    analysis = analysis or Analysis.build(store, at, roots, rules)
    found = analysis.bindings_of(fingerprint)
    conn = store.conn
    shown = names(conn)
    link = analysis.connectivity(fingerprint, predecessor)
    first = metrics.first_release_signature(conn, fingerprint)
    row = conn.execute("SELECT created, algorithm, bits, curve FROM certs WHERE fingerprint = ?",
                       (fingerprint,)).fetchone()
    if row is None:
        raise NotFound(f"no certificate {fingerprint} in the store")
    created, algorithm, bits, curve = row
    risk = _risk(analysis, link, found, predecessor, created, strength_bits(algorithm, bits, curve), first,
                 thresholds, conn)
    return {
        "fingerprint": fingerprint,
        "name": shown.get(fingerprint),
        "at": iso(at),
        "rules": analysis.graph.rules.name,
        "roots": [{"fingerprint": r.fingerprint, "amount": r.amount} for r in analysis.network.roots],
        "valid": _valid(analysis.graph, fingerprint),
        "bindings": [binding_json(b) for b in found],
        "amount": max((b.amount for b in found), default=0),
        "is_root": link.is_root,
        "distance": link.distance,
        "disjoint_paths": len(link.disjoint_paths),
        "disjoint_paths_within_4_hops": len(link.short_disjoint_paths),
        "disjoint": link.disjoint_paths,
        "certifiers": [{"fingerprint": c.fingerprint, "name": shown.get(c.fingerprint), "independent": c.independent,
                        "reachable": c.reachable, "distance": c.distance} for c in link.certifiers],
        "independent_certifiers": len(link.independent_certifiers),
        "predecessor": predecessor,
        "certified_by_predecessor": link.certified_by_predecessor,
        "strong_set": {"member": link.in_largest_strong_set, "size": link.strong_set_size,
                       "own_size": link.own_strong_set_size},
        "key_created": iso(created),
        "first_release_signature": iso(first),
        "key_age_days_at_first_release": None if first is None else (first - created) // 86400,
        "certifications": [{
            "issuer": c["issuer"], "user_id": c["user_id"].decode("utf-8", "replace"), "created": iso(c["created"]),
            "age_days_at_first_release": None if first is None else (first - c["created"]) // 86400,
        } for c in link.certifications],
        "risk": risk.as_json(),
    }


def _valid(graph: CertificationGraph, fingerprint: Fingerprint) -> bool:
    node = graph.nodes.get(fingerprint)
    return node is not None and node.target_ok


def _risk(analysis: Analysis, link: metrics.Connectivity, found: list[Authentication], predecessor, created: int,
          strength: int | None, first: int | None, thresholds: Thresholds | None, conn) -> Risk:
    predecessor_strength = None
    if predecessor is not None:
        row = conn.execute("SELECT algorithm, bits, curve FROM certs WHERE fingerprint = ?", (predecessor,)).fetchone()
        predecessor_strength = strength_bits(*row) if row else None
    facts = KeyFacts(
        valid=_valid(analysis.graph, link.fingerprint),
        has_root_path=link.distance is not None,
        certifiers=frozenset(c.fingerprint for c in link.certifiers),
        independent_reachable_certifiers=sum(c.independent and c.reachable for c in link.certifiers),
        disjoint_paths=len(link.disjoint_paths),
        best_amount=max((b.amount for b in found), default=0),
        key_created=created,
        first_release_signature=first,
        certification_times=tuple(c["created"] for c in link.certifications),
        strength_bits=strength,
        predecessor=predecessor,
        predecessor_valid=predecessor is not None and _valid(analysis.graph, predecessor),
        predecessor_strength_bits=predecessor_strength,
        is_root=link.is_root,
    )
    return handover_risk(facts, thresholds)


def list_bindings(store, at: int, roots: Sequence[Root], min_amount: int = 1,
                  rules: Rules = graph_module.KEYWATCH) -> list[dict]:
    """`keywatch trust list --json`: every binding the roots give at least `min_amount`."""
    tables.refresh(store)
    graph = graph_module.build(store.conn, at, rules)
    network = TrustNetwork(graph, roots)
    return [{"fingerprint": a.fingerprint, "user_id": a.user_id.decode("utf-8", "replace"), "amount": a.amount}
            for a in network.authenticate_all(EXHAUSTIVE, max(min_amount, 1))]


def handover(store, subject: Fingerprint, predecessor: Fingerprint | None, at: int, roots: Sequence[Root],
             thresholds: Thresholds | None = None, analysis: Analysis | None = None) -> Risk:
    """The handover risk of `subject` taking over from `predecessor` (for the event rules and the review UI)."""
    document = key_report(store, subject, at, roots, predecessor=predecessor, thresholds=thresholds,
                          analysis=analysis)
    return Risk(document["risk"]["level"],
                tuple(Finding(f["code"], f["level"], f["reason"]) for f in document["risk"]["findings"]))
