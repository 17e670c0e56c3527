"""An upstream's release → signer history as the store recorded it: who signed each release, and the verdict.

Shared by `keywatch upstream show`, `keywatch releases` and the review UI, so the
command line and the web page read the same facts the same way.
"""

from __future__ import annotations

from .store import Store
from .types import iso
from .versions import version_key


def release_history(store: Store, name: str) -> list[dict]:
    """Every release seen for upstream `name`, oldest version first, each with its signers and their verdicts."""
    signers: dict[str, list[dict]] = {}
    for row in store.conn.execute(
            "SELECT version, signer, signing_key, issuer_key_id, created, status, in_keyring, reason "
            "FROM release_signers WHERE upstream = ?", (name,)):
        signers.setdefault(row[0], []).append({
            "signer": row[1], "signing_key": row[2], "key_id": row[3], "created": iso(row[4]), "status": row[5],
            "in_keyring": bool(row[6]), "problem": row[7]})
    releases = []
    for row in store.conn.execute(
            "SELECT version, artifact_url, artifact_sha256, artifact_size, signature_url, signature_status, "
            "discovered, source FROM releases WHERE upstream = ?", (name,)):
        releases.append({"version": row[0], "artifact": row[1], "sha256": row[2], "size": row[3],
                         "signature_url": row[4], "signature_status": row[5], "discovered": iso(row[6]),
                         "source": row[7], "signers": signers.get(row[0], [])})
    return sorted(releases, key=lambda r: version_key(r["version"]))


def poll_state(store: Store, name: str) -> dict | None:
    """When upstream `name` was last polled, last polled successfully, its last error and its next poll."""
    row = store.conn.execute("SELECT last_poll, last_success, last_error, next_poll FROM upstream_state "
                             "WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    return {"last_poll": iso(row[0]), "last_success": iso(row[1]), "last_error": row[2], "next_poll": iso(row[3])}
