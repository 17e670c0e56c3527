"""Handover risk: how much to worry when a new key takes over signing an upstream's releases.

From the XZ post-mortem: "The web of trust of this new signing key was not
well connected, which could have raised an alert, but it was signed by the
previous maintainer and that was sufficient for us." These rules raise that
alert, and say why, in words a packager can act on.

The subject is the proposed new signing key S, optionally with the key it
replaces, the predecessor P. Facts are taken at the reference time (see
`metrics`): certifiers are keys whose certifications of S count; a certifier
is *independent* when it is neither P nor certified by P alone; *reachable*
when it has a certification path from the trust roots.

High — any one of these:

1. S is not a valid key at the reference time (expired, revoked, or without
   a valid self-signature): "the key is not valid at this time".
2. S has no certification path from any trust root: "no path from any trust
   root".
3. S is certified by P and by no one else: "certified only by the outgoing
   maintainer's key" — exactly what was "sufficient" for XZ.
4. S is certified by no one at all: "certified by no one".

Medium — each of these; `medium_findings_for_high` of them together (default
3) make it high, as a pattern that one alone does not:

5. Fewer than `min_disjoint_paths` (default 2) certification paths from the
   roots without a key in common: "1 disjoint path from the trust roots" —
   one key could cut it off, or one compromised key could fake it.
6. Fewer than `min_independent_certifiers` (default 2) independent
   certifiers reachable from the roots: "1 independent certifier reachable
   from the trust roots".
7. S was created fewer than `min_key_age_days` (default 30) days before its
   first release signature: "key created 12 days before its first release
   signature".
8. Every certification of S was made fewer than `min_certification_age_days`
   (default 30) days before its first release signature (or after it):
   "all its certifications were made within 30 days before its first release
   signature" — vouching arranged for the occasion.
9. P is still a valid key and did not certify S: "the previous key is still
   valid and did not certify this key" — a maintainer who hands over usually
   says so with the old key.
10. S's algorithm is weaker than P's (security level in bits, NIST SP
    800-57: RSA 2048 ≈ 112, RSA 3072 / Ed25519 / P-256 ≈ 128, …): "weaker
    algorithm than the previous key".
11. The web-of-trust amount of S's best binding is below `min_amount`
    (default 0: off; 120 asks for full authentication): "authenticated only
    60 of 120 by the trust roots".

Low: none of the above. A successor certified by its predecessor and by
three independent keys that the roots reach, created months before it
signs, with the same kind of key, is low.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..errors import ConfigError

LOW, MEDIUM, HIGH = "low", "medium", "high"
_ORDER = {LOW: 0, MEDIUM: 1, HIGH: 2}


@dataclass(frozen=True)
class Thresholds:
    min_disjoint_paths: int = 2
    min_independent_certifiers: int = 2
    min_key_age_days: int = 30
    min_certification_age_days: int = 30
    min_amount: int = 0
    medium_findings_for_high: int = 3

    @classmethod
    def from_mapping(cls, values: dict | None) -> Thresholds:
        """From `[trust.risk]`; unknown names are an error, never a silent default."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        for name, value in values.items():
            if name not in known:
                raise ConfigError(f"unknown risk threshold {name!r} (known: {', '.join(sorted(known))})")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"risk threshold {name!r} must be a whole number >= 0")
        return cls(**values)

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class KeyFacts:
    """What the rules need to know about the subject (and the predecessor), at the reference time."""

    valid: bool
    has_root_path: bool
    certifiers: frozenset[str]
    independent_reachable_certifiers: int
    disjoint_paths: int
    best_amount: int
    key_created: int
    first_release_signature: int | None = None
    certification_times: tuple[int, ...] = ()
    strength_bits: int | None = None
    predecessor: str | None = None
    predecessor_valid: bool = False
    predecessor_strength_bits: int | None = None
    is_root: bool = False


@dataclass(frozen=True)
class Finding:
    code: str
    level: str
    reason: str

    def as_json(self) -> dict:
        return {"code": self.code, "level": self.level, "reason": self.reason}


@dataclass(frozen=True)
class Risk:
    level: str
    findings: tuple[Finding, ...] = field(default=())

    @property
    def reasons(self) -> list[str]:
        return [f.reason for f in self.findings]

    def as_json(self) -> dict:
        return {"level": self.level, "reasons": self.reasons, "findings": [f.as_json() for f in self.findings]}


def _days(seconds: int) -> int:
    return seconds // 86400


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def handover_risk(facts: KeyFacts, limits: Thresholds | None = None) -> Risk:
    """The level and the reasons, rule by rule as stated above."""
    limits = limits or Thresholds()
    found: list[Finding] = []

    def add(code: str, level: str, reason: str) -> None:
        found.append(Finding(code, level, reason))

    predecessor = facts.predecessor
    others = facts.certifiers - ({predecessor} if predecessor else set())
    # 1-4: high.
    if not facts.valid:
        add("not-valid", HIGH, "the key is not valid at this time")
    if not facts.has_root_path and not facts.is_root:
        add("no-root-path", HIGH, "no path from any trust root")
    if predecessor and predecessor in facts.certifiers and not others:
        add("only-predecessor", HIGH, "certified only by the outgoing maintainer's key")
    if not facts.certifiers and not facts.is_root:
        add("no-certifier", HIGH, "certified by no one")
    # 5-11: medium.
    if facts.has_root_path and not facts.is_root and facts.disjoint_paths < limits.min_disjoint_paths:
        add("few-disjoint-paths", MEDIUM, f"{_plural(facts.disjoint_paths, 'disjoint path')} from the trust roots")
    if not facts.is_root and facts.independent_reachable_certifiers < limits.min_independent_certifiers:
        count = facts.independent_reachable_certifiers
        add("few-independent-certifiers", MEDIUM,
            f"{_plural(count, 'independent certifier')} reachable from the trust roots")
    first = facts.first_release_signature
    if first is not None:
        age = _days(first - facts.key_created)
        if age < limits.min_key_age_days:
            add("young-key", MEDIUM, f"key created {_plural(age, 'day')} before its first release signature")
        if facts.certification_times and all(
                first - created < limits.min_certification_age_days * 86400 for created in facts.certification_times):
            add("recent-certifications", MEDIUM,
                f"all its certifications were made within {limits.min_certification_age_days} days before its "
                "first release signature, or after it")
    if predecessor and facts.predecessor_valid and predecessor not in facts.certifiers:
        add("predecessor-silent", MEDIUM, "the previous key is still valid and did not certify this key")
    if (predecessor and facts.strength_bits is not None and facts.predecessor_strength_bits is not None
            and facts.strength_bits < facts.predecessor_strength_bits):
        add("weaker-algorithm", MEDIUM,
            f"weaker algorithm than the previous key ({facts.strength_bits}-bit security after "
            f"{facts.predecessor_strength_bits})")
    if limits.min_amount and facts.best_amount < limits.min_amount:
        add("low-amount", MEDIUM, f"authenticated only {facts.best_amount} of {limits.min_amount} by the trust roots")

    level = max((f.level for f in found), key=_ORDER.__getitem__, default=LOW)
    mediums = sum(f.level == MEDIUM for f in found)
    if level == MEDIUM and limits.medium_findings_for_high and mediums >= limits.medium_findings_for_high:
        level = HIGH
    return Risk(level, tuple(found))


# NIST SP 800-57 Part 1 Rev. 5, table 2: security strength of the public-key algorithm, in bits.
_CURVE_BITS = {"Ed25519": 128, "Curve25519": 128, "Cv25519": 128, "X25519": 128, "Ed448": 224, "X448": 224,
               "NIST P-256": 128, "NIST P-384": 192, "NIST P-521": 256, "brainpoolP256r1": 128,
               "brainpoolP384r1": 192, "brainpoolP512r1": 256, "secp256k1": 128}


def strength_bits(algorithm: str | None, bits: int | None, curve: str | None) -> int | None:
    """The security level of a primary key, or None when unknown."""
    if curve:
        return _CURVE_BITS.get(curve)
    if algorithm in ("RSA", "DSA", "ElGamal") and bits:
        for limit, strength in ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80)):
            if bits >= limit:
                return strength
        return 0
    return None
