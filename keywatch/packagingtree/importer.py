"""Turning a scanned tree into upstreams of a workspace: copy, import, configure, audit.

Keyrings are *copied* into the workspace, byte for byte and in their original
format, to `keyrings/<distribution>/<name>/<file>` (Arch: the whole
`keys/pgp/` directory, as `keyrings/arch/<name>/keys/pgp/`). The approved
baseline is what the packagers had when it was imported; a tree is often a
temporary checkout, and a keyring that changes there later is a proposal to
review, not a new baseline. The copy is what `[[upstream]] keyring` names,
what `verify --upstream` and `poll` read, and what the audit entry hashes.

Per upstream, in this order, so that a failure leaves nothing half-done that
matters: the copy is written atomically; its files are imported into the
store under the same source name the poller uses; then, in one store
transaction, the `import-baseline` audit entry is appended and the
`[[upstream]]` table is written (validated first) — if writing the table
fails, the audit entry is rolled back with it. The audit head is published
after.

Idempotent: an upstream whose name is already configured is left alone and
reported as `exists` (with a problem when the tree's keyring holds other keys
than the configured one). `dry_run` decides everything and writes nothing.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import KeywatchError
from ..ingest import import_bytes, read_input
from ..keyringfiles import write_atomically
from ..upstreams import add_upstream
from ..verifyfile import load_keyring
from ..workspace import Workspace
from .findings import Problem, ProblemLog, TreeScan, UpstreamFinding

ADDED, WOULD_ADD, EXISTS, NOT_IMPORTED = "added", "would-add", "exists", "not-imported"


@dataclass
class Outcome:
    finding: UpstreamFinding
    status: str
    keyring: str | None  # as configured, relative to the workspace

    def as_json(self, problems: ProblemLog) -> dict:
        f = self.finding
        return {"name": f.name, "status": self.status, "distribution": f.distribution,
                "package": problems.relative(f.package), "keyring": self.keyring,
                "keyring_source": [problems.relative(p) for p in f.keyring_files],
                "keyring_format": f.keyring_format, "fingerprints": f.fingerprints,
                "declared_fingerprints": f.declared_fingerprints, "index": f.index, "pattern": f.pattern,
                "signature_suffixes": f.signature_suffixes, "keys": f.keys, "git": f.git,
                "tag_pattern": f.tag_pattern, "release_url": f.release_url, "notes": f.notes}


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def keyring_target(finding: UpstreamFinding) -> str:
    """Where the copy goes, relative to the workspace."""
    base = f"keyrings/{finding.distribution}/{finding.name}"
    if finding.keyring_is_directory:
        return f"{base}/keys/pgp"
    return f"{base}/{finding.keyring_files[0].name}"


def import_tree(workspace: Workspace, scan: TreeScan, actor: str, dry_run: bool = False
                ) -> tuple[list[Outcome], list[Problem]]:
    """Apply `scan` to `workspace`; the outcome per upstream and the problems met while writing."""
    problems = ProblemLog(scan.root)
    configured = {u.name: u for u in workspace.config().upstreams}
    outcomes: list[Outcome] = []
    store = None if dry_run else workspace.store()
    try:
        for finding in scan.upstreams:
            existing = configured.get(finding.name)
            if existing is not None:
                _compare_with_existing(workspace, finding, existing.keyring, problems)
                outcomes.append(Outcome(finding, EXISTS, existing.keyring))
            elif not finding.keyring_ok:
                outcomes.append(Outcome(finding, NOT_IMPORTED, None))
            elif dry_run:
                outcomes.append(Outcome(finding, WOULD_ADD, keyring_target(finding)))
            else:
                outcomes.append(_import_one(workspace, store, finding, actor, problems))
    finally:
        if store is not None:
            store.close()
    return outcomes, problems.items


def _compare_with_existing(workspace: Workspace, finding: UpstreamFinding, keyring: str | None,
                           problems: ProblemLog) -> None:
    where = finding.keyring_files[0] if finding.keyring_files else finding.package
    if keyring is None or not finding.fingerprints:
        return
    path = Path(keyring) if Path(keyring).is_absolute() else workspace.root / keyring
    try:
        approved = {cert.fingerprint for cert in load_keyring(path)}
    except KeywatchError as exc:
        problems.add(where, None, f"upstream {finding.name!r} exists but its keyring cannot be read: {exc}")
        return
    added = sorted(set(finding.fingerprints) - approved)
    removed = sorted(approved - set(finding.fingerprints))
    if added or removed:
        change = "; ".join(part for part in (f"not approved: {', '.join(added)}" if added else "",
                                             f"missing: {', '.join(removed)}" if removed else "") if part)
        problems.add(where, None, f"upstream {finding.name!r} exists with another keyring ({change}): "
                                  "not overwritten — review the change instead")


def _import_one(workspace: Workspace, store, finding: UpstreamFinding, actor: str,
                problems: ProblemLog) -> Outcome:
    target = keyring_target(finding)
    where = finding.keyring_files[0]
    try:
        contents = {path.name: read_input(path) for path in finding.keyring_files}
        destination = workspace.root / target
        write_atomically(destination, contents if finding.keyring_is_directory else contents[where.name])
        copies = [destination / name for name in contents] if finding.keyring_is_directory else [destination]
        for copy in copies:
            import_bytes(store, copy.read_bytes(), str(copy))
        log = workspace.audit(store)
        details = {"distribution": finding.distribution, "package": problems.relative(finding.package),
                   "keyring": target, "keyring_format": finding.keyring_format,
                   "keyring_source": [problems.relative(p) for p in finding.keyring_files],
                   "keyring_sha256": {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()},
                   "fingerprints": finding.fingerprints, "declared_fingerprints": finding.declared_fingerprints,
                   "index": finding.index, "pattern": finding.pattern, "git": finding.git}
        with store.transaction():
            log.append(actor, "import-baseline", finding.name, details)
            add_upstream(workspace.config_path, finding.config_values(target))
        log.publish_head()
    except KeywatchError as exc:
        problems.add(where, None, f"upstream {finding.name!r} not imported: {exc}")
        return Outcome(finding, NOT_IMPORTED, None)
    return Outcome(finding, ADDED, target)
