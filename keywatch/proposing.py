"""Events become proposals: every change the packagers should decide on gets one, with its evidence.

| events | proposal |
| --- | --- |
| `new_signer`, `co_signer_added`, `signer_changed`, `handover_suspected` for a key not in the keyring | add-signer: add that key |
| `key_revoked` for a key in the keyring | drop-key |
| `subkey_added`, `expiry_changed`, `uid_added`, `uid_revoked` for a key in the keyring | refresh-key: its newest material |

The risk level of a new signer comes from the trust graph when trust roots
are configured (`trust.risk`: paths from the roots, independent certifiers,
key age — relative to the outgoing signer); otherwise from the events: a
suspected handover is high, a new signer medium. The
evidence is what a reviewer needs on one page: the events, the release →
signer history and, for a new signer, who certified it.
"""

from __future__ import annotations

from .config import Upstream
from .events import query
from .proposals import Proposal, Review
from .types import Fingerprint

_ADD = {"new_signer", "co_signer_added", "signer_changed", "handover_suspected"}
_DROP = {"key_revoked"}
_REFRESH = {"subkey_added", "expiry_changed", "uid_added", "uid_revoked"}


def propose_from_events(review: Review, upstream: Upstream, event_ids: list[int], history: list[dict],
                        profile, rate=None, transition=None) -> list[Proposal]:
    """Proposals for the upstream's new events; `profile(fpr)` gives a SignerProfile,
    `rate(fpr, predecessor)` (when trust roots are configured) a `trust.risk.Risk`, and
    `transition(previous, new)` (when the upstream publishes a transition statement) the
    `transition.check_statement` result, checked against the keys in the current keyring."""
    if upstream.keyring is None or not event_ids:
        return []
    wanted = set(event_ids)
    events = [e for e in query(review.store.conn, upstream=upstream.name) if e["id"] in wanted]
    in_keyring = {c.fingerprint for c in review.current_keyring(upstream)[0]}
    by_key: dict[str, list[dict]] = {}
    for event in events:
        for fpr in (event["fingerprint"] or "").split(","):
            if fpr:
                by_key.setdefault(fpr, []).append(event)
    made = []
    for fpr, key_events in sorted(by_key.items()):
        kinds = {e["kind"] for e in key_events}
        evidence = {"events": key_events, "releases": history[-10:]}
        if kinds & _ADD and fpr not in in_keyring:
            who = profile(Fingerprint(fpr))
            evidence["signer"] = {"fingerprint": fpr, "name": who.name, "created": who.created,
                                  "certifiers": sorted(who.certifiers)}
            if transition is not None:
                evidence["transition_statement"] = transition(sorted(in_keyring), Fingerprint(fpr))
            level, reasons = _risk(key_events)
            if rate is not None:
                risk = rate(Fingerprint(fpr), _predecessor(key_events))
                level, reasons = risk.level, risk.reasons + reasons
            made.append(review.propose(upstream, "add-signer", Fingerprint(fpr), "keywatch",
                                       title=f"add {who.name} ({fpr}) as a release signer", add=[Fingerprint(fpr)],
                                       evidence=evidence, risk_level=level, risk_reasons=reasons))
        elif kinds & _DROP and fpr in in_keyring:
            made.append(review.propose(upstream, "drop-key", Fingerprint(fpr), "keywatch",
                                       title=f"drop the revoked key {fpr}", remove=[Fingerprint(fpr)],
                                       evidence=evidence, risk_reasons=["the key is revoked"]))
        elif kinds & _REFRESH and fpr in in_keyring:
            made.append(review.propose(upstream, "refresh-key", Fingerprint(fpr), "keywatch",
                                       title=f"refresh the key material of {fpr}", add=[Fingerprint(fpr)],
                                       evidence=evidence, risk_reasons=[e["message"] for e in key_events]))
    return made


def _predecessor(events: list[dict]) -> Fingerprint | None:
    for event in events:
        previous = event["details"].get("previous_signers")
        if previous:
            return Fingerprint(previous[0])
    return None


def _risk(events: list[dict]) -> tuple[str, list[str]]:
    reasons = [e["message"] for e in events]
    if any(e["kind"] == "handover_suspected" for e in events):
        return "high", reasons
    return "medium", reasons
