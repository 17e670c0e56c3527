"""Change proposals: a packaging keyring changes only after accountable people approved it.

A proposal carries the exact resulting keyring content and its SHA-256
digest, the diff against the keyring as it is, the evidence, a risk level
and the checklist a reviewer confirms. The rules, in order:

1. Approvals required: the upstream's `approvals` setting, else `[review]
   approvals` (default 1), or `approvals_high_risk` (default 2) when the
   proposal's risk is high.
2. The proposer cannot approve their own proposal; one decision per
   reviewer; a rejection needs a comment; only `reviewer` and `admin` decide.
3. An approval binds to the proposal's digest. If the key material changes
   (a new subkey appears upstream), a new proposal supersedes the old one and
   approvals do not carry over.
4. When enough approvals for the current digest are in, the keyring is
   written — in the same database transaction as the last approval, so two
   reviewers approving at the same moment cause one write — atomically on
   disk (temp file, fsync, rename), holding only the approved certificates,
   stripped of third-party certifications by keys outside the keyring and the
   trust store (small files; a defence against certificate flooding). If the
   keyring on disk is no longer the one the proposal was made against, the
   write is refused.
5. Every step is an audit entry written in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .audit import AuditLog
from .config import Config, Upstream
from .diff import diff_certificates
from .errors import InputError, KeywatchError, NotFound
from .ingest import load_certificate
from .keyringfiles import render, write_atomically
from .keyview import CertificateReader
from .openpgp.cert import Certificate, UserIdComponent
from .openpgp.signature import CERTIFICATION_REVOCATION, CERTIFICATIONS
from .store import Store
from .types import Fingerprint, iso, now_ts
from .users import User
from .verifyfile import load_keyring

KINDS = ("add-signer", "replace-key", "drop-key", "refresh-key", "manual")
DEFAULT_CHECKLISTS = {
    "add-signer": [
        "The handover or new signer was announced on the upstream's own channel (website, mailing list, repository).",
        "The previous key certified the new key, or signed a transition statement naming it.",
        "The new maintainer really holds commit and release rights upstream.",
    ],
    "replace-key": [
        "The key change was announced on the upstream's own channel.",
        "The old key signed a transition statement naming the new key.",
    ],
    "drop-key": ["The key is revoked, expired or no longer used for releases, according to the upstream."],
    "refresh-key": ["The new key material (subkeys, expiry, user IDs) was published by the key's owner."],
    "manual": ["I checked the key's fingerprint with the upstream over a channel I trust."],
}


class ReviewError(KeywatchError):
    """A review action that the policy does not allow."""


@dataclass
class Proposal:
    id: int
    upstream: str
    kind: str
    state: str  # open | applied | rejected | superseded
    created: int
    proposer: str
    title: str
    subject: str  # the fingerprint the change is about
    base_digest: str
    digest: str
    content: bytes
    diff: dict
    evidence: dict
    risk_level: str
    risk_reasons: list[str]
    required_approvals: int
    checklist: list[str]
    superseded_by: int | None = None
    decisions: list[dict] = field(default_factory=list)

    def approvals_for_digest(self) -> list[dict]:
        return [d for d in self.decisions if d["decision"] == "approve" and d["digest"] == self.digest]

    def as_json(self, with_content: bool = False) -> dict:
        document = {
            "id": self.id, "upstream": self.upstream, "kind": self.kind, "state": self.state,
            "created": iso(self.created), "proposer": self.proposer, "title": self.title, "subject": self.subject,
            "base_digest": self.base_digest, "digest": self.digest, "diff": self.diff, "evidence": self.evidence,
            "risk": {"level": self.risk_level, "reasons": self.risk_reasons},
            "required_approvals": self.required_approvals, "approvals": len(self.approvals_for_digest()),
            "checklist": self.checklist, "superseded_by": self.superseded_by,
            "decisions": [{**d, "at": iso(d["at"])} for d in self.decisions],
        }
        if with_content:
            document["content"] = self.content.decode("utf-8", "replace")
        return document


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS proposals (id INTEGER PRIMARY KEY, upstream TEXT NOT NULL,"
                 " kind TEXT NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, proposer TEXT NOT NULL,"
                 " title TEXT NOT NULL, subject TEXT NOT NULL, base_digest TEXT NOT NULL, digest TEXT NOT NULL,"
                 " content BLOB NOT NULL, diff TEXT NOT NULL, evidence TEXT NOT NULL, risk_level TEXT NOT NULL,"
                 " risk_reasons TEXT NOT NULL, required_approvals INTEGER NOT NULL, checklist TEXT NOT NULL,"
                 " superseded_by INTEGER)")
    conn.execute("CREATE TABLE IF NOT EXISTS decisions (proposal_id INTEGER NOT NULL REFERENCES proposals(id),"
                 " reviewer TEXT NOT NULL, decision TEXT NOT NULL, comment TEXT, checklist TEXT NOT NULL,"
                 " digest TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (proposal_id, reviewer))")


def content_digest(content: bytes | dict[str, bytes]) -> str:
    """SHA-256 of a keyring file, or of a keyring directory's sorted (name, content) pairs."""
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest()
    hasher = hashlib.sha256()
    for name in sorted(content):
        hasher.update(name.encode() + b"\0" + len(content[name]).to_bytes(8, "big") + content[name])
    return hasher.hexdigest()


def _stored_content(content: bytes | dict[str, bytes]) -> bytes:
    if isinstance(content, bytes):
        return content
    return json.dumps({name: data.decode() for name, data in sorted(content.items())}).encode()


def _loaded_content(stored: bytes, keyring_format: str) -> bytes | dict[str, bytes]:
    if keyring_format == "arch":
        return {name: text.encode() for name, text in json.loads(stored).items()}
    return stored


class Review:
    """Proposals and decisions for one workspace (store, config, audit log)."""

    def __init__(self, root: Path, config: Config, store: Store, audit: AuditLog) -> None:
        self.root = root
        self.config = config
        self.store = store
        self.audit = audit

    # --- the keyring as it is -------------------------------------------------------------------

    def keyring_path(self, upstream: Upstream) -> Path:
        if upstream.keyring is None:
            raise InputError(f"upstream {upstream.name!r} has no packaging keyring configured")
        path = Path(upstream.keyring)
        return path if path.is_absolute() else self.root / path

    def current_keyring(self, upstream: Upstream) -> tuple[list[Certificate], str]:
        """The certificates in the keyring file and the digest of the file as it is on disk."""
        path = self.keyring_path(upstream)
        if not path.exists():
            return [], content_digest(b"")
        if path.is_dir():
            files = {p.name: p.read_bytes() for p in sorted(path.glob("*.asc"))}
            return load_keyring(path), content_digest(files)
        return load_keyring(path), content_digest(path.read_bytes())

    # --- making proposals -----------------------------------------------------------------------

    def propose(self, upstream: Upstream, kind: str, subject: Fingerprint, proposer: str, *, title: str,
                add: list[Fingerprint] = (), remove: list[Fingerprint] = (), evidence: dict | None = None,
                risk_level: str = "low", risk_reasons: list[str] = ()) -> Proposal:
        """Record a proposal (or return the identical open one); a changed one supersedes the old."""
        if kind not in KINDS:
            raise InputError(f"unknown proposal kind {kind!r}")
        current, base_digest = self.current_keyring(upstream)
        reader = CertificateReader(self.store)
        keep = {c.fingerprint for c in current} | set(add)
        result = [c for c in current if c.fingerprint not in set(remove) | set(add)]
        result += [load_certificate(self.store, fpr) for fpr in add]
        minimal = [_without_foreign_certifications(c, reader, keep) for c in result]
        content = render(minimal, upstream.keyring_format)
        digest = content_digest(content)
        diff = self._diff(current, minimal, reader)
        required = self._required_approvals(upstream, risk_level)
        checklist = list(self.config.review.checklists.get(kind) or DEFAULT_CHECKLISTS[kind])
        with self.store.transaction() as conn:
            same = conn.execute("SELECT id FROM proposals WHERE upstream = ? AND kind = ? AND subject = ? "
                                "AND state = 'open' AND digest = ?", (upstream.name, kind, subject, digest)).fetchone()
            if same:
                return self.get(same[0])
            cursor = conn.execute(
                "INSERT INTO proposals (upstream, kind, state, created, proposer, title, subject, base_digest, digest,"
                " content, diff, evidence, risk_level, risk_reasons, required_approvals, checklist)"
                " VALUES (?,?,'open',?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (upstream.name, kind, now_ts(), proposer, title, subject, base_digest, digest, _stored_content(content),
                 json.dumps(diff), json.dumps(evidence or {}, default=str), risk_level, json.dumps(list(risk_reasons)),
                 required, json.dumps(checklist)))
            new_id = cursor.lastrowid
            self.audit.append(proposer, "proposal-created", f"proposal {new_id}",
                              {"upstream": upstream.name, "kind": kind, "subject": subject, "digest": digest,
                               "risk": risk_level})
            for (old_id,) in conn.execute("SELECT id FROM proposals WHERE upstream = ? AND kind = ? AND subject = ? "
                                          "AND state = 'open' AND id != ?", (upstream.name, kind, subject, new_id)):
                conn.execute("UPDATE proposals SET state = 'superseded', superseded_by = ? WHERE id = ?",
                             (new_id, old_id))
                self.audit.append(proposer, "proposal-superseded", f"proposal {old_id}",
                                  {"by": new_id, "reason": "the proposed key material changed"})
        self.audit.publish_head()
        return self.get(new_id)

    def _required_approvals(self, upstream: Upstream, risk_level: str) -> int:
        review = self.config.review
        base = upstream.approvals or review.approvals
        return max(base, review.approvals_high_risk) if risk_level == "high" else base

    @staticmethod
    def _diff(before: list[Certificate], after: list[Certificate], reader: CertificateReader) -> dict:
        old = {c.fingerprint: c for c in before}
        new = {c.fingerprint: c for c in after}
        changed = {}
        now = now_ts()
        for fpr in sorted(set(old) & set(new)):
            if old[fpr].canonical_bytes() != new[fpr].canonical_bytes():
                a = reader.verifier.verify_certificates([old[fpr]])
                b = reader.verifier.verify_certificates([new[fpr]])
                changed[fpr] = diff_certificates(old[fpr], a.__getitem__, new[fpr], b.__getitem__, now)
        return {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)), "changed": changed}

    # --- reading --------------------------------------------------------------------------------

    def get(self, proposal_id: int) -> Proposal:
        row = self.store.conn.execute(
            "SELECT id, upstream, kind, state, created, proposer, title, subject, base_digest, digest, content, diff,"
            " evidence, risk_level, risk_reasons, required_approvals, checklist, superseded_by FROM proposals"
            " WHERE id = ?", (proposal_id,)).fetchone()
        if row is None:
            raise NotFound(f"no proposal {proposal_id}")
        proposal = Proposal(*row[:11], json.loads(row[11]), json.loads(row[12]), row[13], json.loads(row[14]),
                            row[15], json.loads(row[16]), row[17])
        proposal.decisions = [
            {"reviewer": r[0], "decision": r[1], "comment": r[2], "checklist": json.loads(r[3]), "digest": r[4],
             "at": r[5]}
            for r in self.store.conn.execute("SELECT reviewer, decision, comment, checklist, digest, at FROM decisions"
                                             " WHERE proposal_id = ? ORDER BY at, reviewer", (proposal_id,))]
        return proposal

    def list(self, state: str | None = None) -> list[Proposal]:
        query = "SELECT id FROM proposals" + (" WHERE state = ?" if state else "") + " ORDER BY id DESC"
        return [self.get(r[0]) for r in self.store.conn.execute(query, (state,) if state else ())]

    # --- deciding -------------------------------------------------------------------------------

    def approve(self, proposal_id: int, reviewer: User, digest: str, confirmed: list[str], comment: str = ""
                ) -> Proposal:
        """Record an approval of exactly `digest`; write the keyring if this completes the approvals."""
        self._check_reviewer(reviewer)
        with self.store.transaction() as conn:
            proposal = self._decidable(proposal_id, reviewer, digest)
            missing = [item for item in proposal.checklist if item not in confirmed]
            if missing:
                raise ReviewError(f"proposal {proposal_id}: confirm every checklist item first ({len(missing)} open)")
            conn.execute("INSERT INTO decisions (proposal_id, reviewer, decision, comment, checklist, digest, at)"
                         " VALUES (?,?,?,?,?,?,?)", (proposal_id, reviewer.name, "approve", comment,
                                                     json.dumps(confirmed), digest, now_ts()))
            self.audit.append(reviewer.name, "approve", f"proposal {proposal_id}",
                              {"digest": digest, "comment": comment, "checklist": confirmed})
            proposal = self.get(proposal_id)
            if len(proposal.approvals_for_digest()) >= proposal.required_approvals:
                self._apply(conn, proposal)
        self.audit.publish_head()
        return self.get(proposal_id)

    def reject(self, proposal_id: int, reviewer: User, digest: str, comment: str) -> Proposal:
        self._check_reviewer(reviewer)
        if not comment.strip():
            raise ReviewError("a rejection needs a comment saying why")
        with self.store.transaction() as conn:
            self._decidable(proposal_id, reviewer, digest)
            conn.execute("INSERT INTO decisions (proposal_id, reviewer, decision, comment, checklist, digest, at)"
                         " VALUES (?,?,?,?,?,?,?)", (proposal_id, reviewer.name, "reject", comment, "[]", digest,
                                                     now_ts()))
            conn.execute("UPDATE proposals SET state = 'rejected' WHERE id = ?", (proposal_id,))
            self.audit.append(reviewer.name, "reject", f"proposal {proposal_id}", {"digest": digest,
                                                                                 "comment": comment})
        self.audit.publish_head()
        return self.get(proposal_id)

    @staticmethod
    def _check_reviewer(reviewer: User) -> None:
        if not reviewer.can("reviewer"):
            raise ReviewError(f"{reviewer.name} is a {reviewer.role}: only reviewers and admins decide")

    def _decidable(self, proposal_id: int, reviewer: User, digest: str) -> Proposal:
        proposal = self.get(proposal_id)
        if proposal.state != "open":
            raise ReviewError(f"proposal {proposal_id} is {proposal.state}"
                              + (f" by proposal {proposal.superseded_by}" if proposal.superseded_by else ""))
        if proposal.digest != digest:
            raise ReviewError(f"proposal {proposal_id} changed since you looked at it: review it again")
        if proposal.proposer == reviewer.name:
            raise ReviewError("you proposed this change: someone else must approve it")
        if any(d["reviewer"] == reviewer.name for d in proposal.decisions):
            raise ReviewError(f"{reviewer.name} already decided on proposal {proposal_id}")
        return proposal

    def _apply(self, conn: sqlite3.Connection, proposal: Proposal) -> None:
        upstream = self.config.upstream(proposal.upstream)
        _, on_disk = self.current_keyring(upstream)
        # Already the approved content: a previous apply wrote it and died before its commit.
        if on_disk != proposal.base_digest and on_disk != proposal.digest:
            raise ReviewError(f"the keyring of {upstream.name} changed on disk since proposal {proposal.id} was made: "
                              "nothing written; make a new proposal")
        path = self.keyring_path(upstream)
        write_atomically(path, _loaded_content(proposal.content, upstream.keyring_format))
        conn.execute("UPDATE proposals SET state = 'applied' WHERE id = ?", (proposal.id,))
        approvers = [d["reviewer"] for d in proposal.approvals_for_digest()]
        self.audit.append("keywatch", "keyring-write", upstream.name,
                          {"proposal": proposal.id, "path": str(path), "digest": proposal.digest,
                           "approved_by": approvers})
        if self.config.review.git_commit:
            _git_commit(path, proposal, approvers)


def _without_foreign_certifications(cert: Certificate, reader: CertificateReader, keep: set[str]) -> Certificate:
    """The certificate with only self-signatures and certifications by keys in `keep` (verified)."""
    verdicts = reader.verifier.verify_certificates([cert])
    user_ids = []
    for uid in cert.user_ids:
        kept = [s for s in uid.signatures
                if s.sig_type not in CERTIFICATIONS | {CERTIFICATION_REVOCATION}
                or verdicts[s].issuer in keep or verdicts[s].issuer == cert.fingerprint]
        user_ids.append(UserIdComponent(uid.value, uid.is_attribute, kept))
    return Certificate(primary=cert.primary, direct=list(cert.direct), user_ids=user_ids, subkeys=list(cert.subkeys))


def _git_commit(path: Path, proposal: Proposal, approvers: list[str]) -> None:
    """Commit the written keyring with trailers, when it lives in a git work tree."""
    top = subprocess.run(["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"], capture_output=True,
                         text=True)
    if top.returncode != 0:
        return
    trailers = [f"Keywatch-Proposal: {proposal.id}", f"Keywatch-Digest: {proposal.digest}"]
    trailers += [f"Approved-by: {name}" for name in approvers]
    message = f"{proposal.upstream}: {proposal.title}\n\n" + "\n".join(trailers) + "\n"
    subprocess.run(["git", "-C", top.stdout.strip(), "add", "--", str(path)], check=True, capture_output=True)
    subprocess.run(["git", "-C", top.stdout.strip(), "commit", "-q", "-m", message, "--", str(path)],
                   check=True, capture_output=True)
