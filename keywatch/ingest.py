"""Importing certificates: parse, verify every signature, store every new version.

One input file is one transaction: a file that fails to parse leaves no row
behind, and the other files of the same command still go in. An input whose
bytes were imported before costs one hash and one look-up.

When a new key arrives, certifications it made on certificates already in
the store were `issuer-unknown` until now; they are verified then, so the
order in which keyrings are imported never changes the verdicts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import policy
from .errors import InputError, KeywatchError, MalformedPacket, NotFound
from .openpgp.cert import Certificate, assemble, certificates_from_bytes
from .openpgp.keymaterial import parse_public_key
from .openpgp.packets import DEFAULT_MAX_INPUT_BYTES, TAG_PUBLIC_KEY, Packet, binary_frames, read_packets
from .openpgp.validity import cert_state
from .openpgp.verify import ISSUER_UNKNOWN, IssuerIndex, Verdict, Verifier
from .parallel import collector_paused, fork_map, worker_count
from .store import Rows, Store, record_checks, record_input_file, touch_versions, write_rows
from .types import Fingerprint, fingerprint_from_bytes, key_id_from_bytes, now_ts

Progress = Callable[[int], None]


@dataclass(slots=True)
class ImportSummary:
    certs: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # fingerprint -> the version this input held

    def as_json(self) -> dict:
        return {"certs": self.certs, "new": self.new, "changed": self.changed, "unchanged": self.unchanged,
                "rejected": self.rejected, "errors": self.errors, "fingerprints": self.fingerprints}


def read_input(path: Path, max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> bytes:
    """Read a key file, refusing directories, unreadable and oversized files before reading them."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not a key file")
        if size > max_bytes:
            raise InputError(f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit for key files")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


# What a directory import picks up: the names packaging trees give key files.
KEY_FILE_SUFFIXES = (".asc", ".gpg", ".pgp", ".keyring", ".key", ".pub")


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories (Arch keys/pgp/, a keyrings/ tree) become their key files, sorted."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(KEY_FILE_SUFFIXES))
        else:
            expanded.append(path)
    return expanded


def import_files(store: Store, paths: Iterable[Path], progress: Progress | None = None,
                 on_total: Callable[[int], None] | None = None) -> ImportSummary:
    """Import each file (directories: their key files) in its own transaction; errors are collected."""
    summary = ImportSummary()
    for path in expand_inputs(paths):
        try:
            data = read_input(path)
            import_bytes(store, data, str(path), summary, progress, on_total)
        except KeywatchError as exc:
            summary.rejected += 1
            summary.errors.append({"source": str(path), "message": str(exc)})
    return summary


def import_bytes(store: Store, data: bytes, source: str, summary: ImportSummary | None = None,
                 progress: Progress | None = None, on_total: Callable[[int], None] | None = None) -> ImportSummary:
    """Import one keyring's bytes; all of it or nothing."""
    summary = summary if summary is not None else ImportSummary()
    now = now_ts()
    file_digest = hashlib.sha256(data).hexdigest()
    known_versions = store.source_digest_known(file_digest)
    if known_versions is not None:
        return _seen_again(store, known_versions, source, file_digest, now, summary)
    with collector_paused():
        _import_new(store, data, source, file_digest, now, summary, progress, on_total)
    return summary


def _import_new(store: Store, data: bytes, source: str, file_digest: str, now: int, summary: ImportSummary,
                progress: Progress | None, on_total: Callable[[int], None] | None) -> None:
    """Parse, verify and store an input whose bytes were never imported before."""
    stored, latest = store.version_digests(), store.latest_versions()
    issuers = issuer_index_from_store(store)
    # Many small runs: the workers stay evenly loaded, and the rows of the last run, which the
    # parent writes while every worker is idle, are few.
    plan = _Plan(data, source, worker_count() * 16)
    in_file = [_add_primary(body, issuers) for body in plan.primary_bodies]
    ranges = plan.ranges if len(set(in_file)) == len(in_file) else [plan.whole]  # a repeated cert: one piece
    cache = store.verification_cache()
    if on_total is not None:
        on_total(len(in_file))

    def process(bounds: tuple[int, int]) -> _ChunkResult:
        return _process_chunk(plan.packets_of(bounds), bounds[0], source, issuers, cache, now)

    digests: list[str] = []
    with store.transaction() as conn:
        # Rows are written as each chunk arrives, while the workers verify the next ones.
        for chunk in fork_map(process, ranges, parallel=len(in_file) > _PARALLEL_MIN_CERTS):
            write_rows(conn, chunk.rows, now)
            for fpr, digest in chunk.certs:
                digests.append(digest)
                _count(summary, fpr, digest, stored, latest)
            if progress is not None:
                progress(len(chunk.certs))
        record_input_file(conn, file_digest, digests, now)
        imported = set(summary.fingerprints)
        new_primaries = [key for key in issuers.by_fingerprint.values()
                         if fingerprint_from_bytes(key.fingerprint) in imported - set(latest)]
        if new_primaries:
            _reverify_waiting_certifications(store, conn, new_primaries, imported, now)


def _seen_again(store: Store, versions: list[str], source: str, file_digest: str, now: int,
                summary: ImportSummary) -> ImportSummary:
    """Identical bytes imported before: only the sighting times move."""
    with store.transaction() as conn:
        touch_versions(conn, versions, source, now)
        record_input_file(conn, file_digest, versions, now)
    summary.certs += len(versions)
    summary.unchanged += len(versions)
    for fpr, digest in store.conn.execute(
            "SELECT fingerprint, digest FROM cert_versions WHERE digest IN (SELECT value FROM json_each(?))",
            (json.dumps(versions),)):
        summary.fingerprints.append(fpr)
        summary.versions[fpr] = digest
    return summary


def _count(summary: ImportSummary, fpr: str, digest: str, stored: set[str], latest: dict) -> None:
    summary.fingerprints.append(fpr)
    summary.versions[fpr] = digest
    summary.certs += 1
    if digest in stored:
        summary.unchanged += 1
    elif fpr in latest:
        summary.changed += 1
    else:
        summary.new += 1


class _Plan:
    """How an input is cut into runs of whole certificates for the workers."""

    def __init__(self, data: bytes, source: str, parts: int) -> None:
        self.data, self.source = data, source
        self.frames = binary_frames(data)
        if self.frames is None:
            # Armored or unusual framing: Sequoia parses it here, in one piece.
            self.packets: list[Packet] = read_packets(data, source)
            tags = [packet.tag for packet in self.packets]
            self.primary_bodies = [p.body for p in self.packets if p.tag == TAG_PUBLIC_KEY]
        elif not self.frames:
            raise MalformedPacket(f"{source}: empty file, no OpenPGP data")
        else:
            # A plain binary keyring: each worker cuts its own packets out of the (shared, forked) bytes.
            self.packets = []
            tags = [tag for tag, _, _ in self.frames]
            self.primary_bodies = [data[start:end] for tag, start, end in self.frames if tag == TAG_PUBLIC_KEY]
        self.ranges, self.whole = certificate_ranges(tags, parts), (0, len(tags))

    def packets_of(self, bounds: tuple[int, int]) -> list[Packet]:
        if self.frames is None:
            return self.packets[bounds[0]:bounds[1]]
        data = self.data
        return [Packet(tag, data[start:end]) for tag, start, end in self.frames[bounds[0]:bounds[1]]]


def _add_primary(body: bytes, issuers: IssuerIndex) -> bytes | None:
    """Parse a primary key once, adding it to the issuer index; its fingerprint, or None if it does not parse."""
    try:
        key = parse_public_key(body)
    except MalformedPacket:
        return None  # assemble() names the bad packet
    issuers.add(key)
    return key.fingerprint


# Below this many certificates, forking workers costs more than it saves.
_PARALLEL_MIN_CERTS = 50


@dataclass(slots=True)
class _ChunkResult:
    rows: Rows
    certs: list[tuple[str, str]]  # (fingerprint, version digest)


def _process_chunk(packets: list[Packet], first_index: int, source: str, issuers: IssuerIndex,
                   cache: dict[bytes, bool], now: int) -> _ChunkResult:
    """Assemble, verify and turn into rows one run of whole certificates (runs in a worker)."""
    certs = assemble(packets, source, first_index)
    verifier = Verifier(issuers, cache)
    verdicts = verifier.verify_certificates(certs)
    rows = Rows()
    done = []
    for cert in certs:
        canonical = cert.canonical_bytes()
        digest = hashlib.sha256(canonical).hexdigest()
        done.append((cert.fingerprint, digest))
        _rows_for_cert(rows, cert, canonical, digest, source, now, verdicts.__getitem__)
    rows.verifications = list(verifier.new_results.items())
    return _ChunkResult(rows, done)


def certificate_ranges(tags: list[int], parts: int) -> list[tuple[int, int]]:
    """Split a packet list (given by its tags) into about `parts` runs, each starting at a primary key."""
    starts = [i for i, tag in enumerate(tags) if tag == TAG_PUBLIC_KEY]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    step = max(1, -(-len(starts) // parts))
    cuts = starts[::step] + [len(tags)]
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if a < b]


def issuer_index_from_store(store: Store) -> IssuerIndex:
    index = IssuerIndex()
    for body in store.primary_key_bodies():
        index.add(parse_public_key(body))
    return index


def _rows_for_cert(rows: Rows, cert: Certificate, canonical: bytes, digest: str, source: str, now: int,
                   verdict_of: Callable) -> None:
    fpr = cert.fingerprint
    state = cert_state(cert, verdict_of, now)
    primary = cert.primary
    findings = policy.certificate_findings(cert, state, now)
    primary_uid = state.key.primary_user_id
    rows.versions.append((digest, fpr, canonical, now))
    rows.sightings.append((digest, source, now, now))
    rows.certs.append((
        fpr, digest, now, now, primary_uid.decode("utf-8", "replace") if primary_uid is not None else None,
        primary.algorithm_name, primary.bits, primary.curve, primary.created, state.key.expires,
        int(state.key.revoked is not None), int(state.key.valid(now)),
        json.dumps([f.as_json() for f in findings]),
    ))
    rows.keys.append(_key_row(primary, fpr, True))
    for sub in cert.subkeys:
        rows.keys.append(_key_row(sub.key, fpr, False))
    for uid in cert.user_ids:
        rows.user_ids.append((fpr, uid.text, uid.value, int(uid.is_attribute), now))
    for component, sig in placed_signatures(cert):
        verdict: Verdict = verdict_of(sig)
        rows.signatures.append((
            placement_id(fpr, component, sig), fpr, component, sig.digest, sig.sig_type, verdict.issuer,
            ",".join([key_id_from_bytes(k) for k in sig.issuer_key_ids]), sig.created, sig.expires,
            sig.hash_algorithm, sig.trust_depth, sig.trust_amount,
            json.dumps(list(sig.regexes)) if sig.regexes else None, int(sig.exportable), sig.revocation_reason,
            verdict.status, verdict.reason,
        ))


def _key_row(key, cert_fpr: Fingerprint, primary: bool) -> tuple:
    return (fingerprint_from_bytes(key.fingerprint), cert_fpr, key_id_from_bytes(key.key_id), int(primary),
            key.algorithm_name, key.bits, key.curve, key.created, key.body)


def _reverify_waiting_certifications(store: Store, conn, new_primaries, just_imported: set[str], now: int) -> None:
    """Certifications on stored certs made by a key that only just arrived: verify them now."""
    fprs = {fingerprint_from_bytes(k.fingerprint) for k in new_primaries}
    key_ids = {key_id_from_bytes(k.key_id) for k in new_primaries}
    waiting: set[str] = set()
    rows = conn.execute("SELECT cert_fingerprint, issuer, issuer_key_ids FROM signatures WHERE status = ?",
                        (ISSUER_UNKNOWN,))
    for cert_fpr, issuer, issuer_key_ids in rows:
        if cert_fpr in just_imported or cert_fpr in waiting:
            continue
        if issuer in fprs or (issuer is None and key_ids.intersection((issuer_key_ids or "").split(","))):
            waiting.add(cert_fpr)
    if not waiting:
        return
    certs = [load_certificate(store, Fingerprint(f)) for f in sorted(waiting)]
    verifier = Verifier(issuer_index_from_store(store), store.verification_cache())
    verdicts = verifier.verify_certificates(certs)
    updates = []
    for cert in certs:
        for component, sig in placed_signatures(cert):
            verdict = verdicts[sig]
            updates.append((verdict.status, verdict.issuer, verdict.reason, cert.fingerprint,
                            placement_id(cert.fingerprint, component, sig)))
    conn.executemany("UPDATE signatures SET status = ?, issuer = ?, reason = ? "
                     "WHERE cert_fingerprint = ? AND placement = ?", updates)
    record_checks(conn, list(verifier.new_results.items()))


def placement_id(fingerprint: Fingerprint, component: str, sig) -> bytes:
    """One signature in one place on one certificate (the same packet elsewhere is another row)."""
    return hashlib.sha256(f"{fingerprint}|{component}|{sig.digest}".encode()).digest()


def placed_signatures(cert: Certificate):
    """(component, signature) for every signature; component: primary, uid:<hex>, subkey:<FPR>."""
    for sig in cert.direct:
        yield "primary", sig
    for uid in cert.user_ids:
        component = f"uid:{uid.value.hex()}"
        for sig in uid.signatures:
            yield component, sig
    for sub in cert.subkeys:
        component = f"subkey:{sub.fingerprint}"
        for sig in sub.signatures:
            yield component, sig


def load_certificate(store: Store, fingerprint: Fingerprint) -> Certificate:
    """Every version of a certificate ever seen, merged: an old copy cannot hide a revocation."""
    merged: Certificate | None = None
    for data in store.version_bytes_of(fingerprint):
        for cert in certificates_from_bytes(data, f"store:{fingerprint}"):
            if merged is None:
                merged = cert
            else:
                merged.merge(cert)
    if merged is None:
        raise NotFound(f"no certificate {fingerprint} in the store")
    return merged
