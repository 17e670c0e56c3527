"""Full-keyring check that keywatch's signature verdicts agree with `gpg --check-sigs`.

Why: keywatch verifies every signature itself, third-party certifications
included. gpg is an independent implementation, and the Debian keyring
(905 certificates, 48,788 signatures) is a large real corpus, so agreement
between the two over every signature is strong evidence keywatch's verdicts
are right. gpg's verdicts also fold in policy that keywatch's `status` (the
cryptographic verdict) leaves out, so the two differ in known ways; each
kind of disagreement is explained only by a programmatic check of that very
signature, and any disagreement left unexplained makes the script exit 1.

gpg runs twice, at the keyring's date: as is, and with
--allow-weak-key-signatures (gpg 2.2 rejects third-party SHA-1 key
signatures made after 2019-01-19). Its output is cached under bench/data/,
keyed by the keyring's SHA-256, the gpg version and the options.

Run: python3 bench/gpg_agreement.py [--fresh]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from debian_keyring import DATA_DIR, debian_keyring, sha256_of

GPG_TIME = "20221224T000000"
RUNS = {"default": [], "allow-weak-key-signatures": ["--allow-weak-key-signatures"]}
AGREE = {"!": "good", "-": "bad", "?": "issuer-unknown"}
SHA1 = 2
SHA1_CUTOFF = 1547856000  # 2019-01-19T00:00:00Z, after which gpg 2.2 rejects third-party SHA-1 key signatures
DIGEST_ERROR = "Invalid digest algorithm"
CLASS_ERROR = "Invalid signature class"

# (certificate fingerprint, issuer key ID, creation time, signature type): how both tools' records are matched.
Key = tuple[str, str, int, int]


@dataclass(frozen=True)
class GpgSig:
    validity: str  # field 2: ! good, - bad, ? no public key, % other error
    note: str  # for %, the error gpg names in field 10


@dataclass(frozen=True)
class KeywatchSig:
    status: str
    reason: str | None
    issuer: str | None
    component: str
    sig_type: int
    hash_algorithm: int
    created: int


@dataclass
class GpgListing:
    sigs: dict[Key, list[GpgSig]]
    primaries: dict[str, tuple[int, str]]  # fingerprint -> (position in the keyring, field 2 of its pub record)


def gpg_output(keyring: Path, options: list[str], fresh: bool) -> Path:
    """gpg --check-sigs output for the keyring, from the cache unless missing or --fresh."""
    version = subprocess.run(["gpg", "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    options_key = hashlib.sha256(" ".join([version, GPG_TIME, *options]).encode()).hexdigest()[:12]
    cached = DATA_DIR / f"gpg-check-sigs-{sha256_of(keyring)[:16]}-{options_key}.txt"
    if cached.exists() and not fresh:
        return cached
    with tempfile.TemporaryDirectory() as home:
        copy = Path(home) / "keyring.gpg"  # gpg may leave lock files beside it
        shutil.copyfile(keyring, copy)
        command = ["gpg", "--homedir", home, "--no-default-keyring", "--keyring", str(copy),
                   "--faked-system-time", GPG_TIME, "--with-colons", *options, "--check-sigs"]
        print("running", " ".join(command), file=sys.stderr)
        result = subprocess.run(command, capture_output=True, check=True)
    partial = cached.with_suffix(".partial")
    partial.write_bytes(result.stdout)
    partial.replace(cached)
    return cached


def parse_gpg(path: Path) -> GpgListing:
    """sig/rev records grouped by Key, each attributed to the fpr record following its pub record."""
    listing = GpgListing(defaultdict(list), {})
    cert, pub_validity = "", None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            pub_validity = fields[1]
        elif fields[0] == "fpr" and pub_validity is not None:
            cert = fields[9]
            listing.primaries[cert] = (len(listing.primaries), pub_validity)
            pub_validity = None
        elif fields[0] in ("sig", "rev"):
            note = fields[9].strip().strip("[]") if fields[1] == "%" else ""
            key = (cert, fields[4], int(fields[5]), int(fields[10][:2], 16))
            listing.sigs[key].append(GpgSig(fields[1], note))
    return listing


def keywatch_sigs(keyring: Path) -> dict[Key, list[KeywatchSig]]:
    """Import the keyring into a fresh workspace and read back every signature row, grouped by Key."""
    sigs: dict[Key, list[KeywatchSig]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["keywatch", "init", tmp], check=True, capture_output=True)
        subprocess.run(["keywatch", "-w", tmp, "import", str(keyring), "--json"], check=True, capture_output=True)
        with closing(sqlite3.connect(f"{tmp}/keywatch.db")) as db:
            rows = db.execute("SELECT cert_fingerprint, issuer, issuer_key_ids, created, sig_type, status, reason,"
                              " component, hash_algorithm FROM signatures").fetchall()
    for cert, issuer, key_ids, created, sig_type, status, reason, component, hash_algorithm in rows:
        key_id = issuer[-16:] if issuer else (key_ids or "").split(",")[0]
        sigs[(cert, key_id, created, sig_type)].append(
            KeywatchSig(status, reason, issuer, component, sig_type, hash_algorithm, created))
    return sigs


def explain(key: Key, gpg: GpgSig, ours: KeywatchSig, listing: GpgListing, weak: GpgListing) -> str | None:
    """Why gpg's verdict differs from keywatch's for this signature, if a check on it confirms a known cause."""
    if gpg.validity == "?" and ours.status == "good" and ours.issuer in listing.primaries:
        # gpg finds an expired or revoked signer only once it has listed that key itself: the same
        # issuer's certifications on certificates listed after it are `!`.
        issuer_position, state = listing.primaries[ours.issuer]
        if state in ("e", "r") and listing.primaries[key[0]][0] < issuer_position:
            return (f"issuer is in the keyring, {'expired' if state == 'e' else 'revoked'} at the faked time"
                    " and listed after this certificate; gpg resolves such an issuer only once it has listed it")
    if gpg.validity == "%" and gpg.note == DIGEST_ERROR and ours.status == "good":
        relaxed = sorted("!" if s.note == DIGEST_ERROR else s.validity for s in listing.sigs.get(key, []))
        if (ours.hash_algorithm == SHA1 and ours.created > SHA1_CUTOFF and ours.issuer != key[0]
                and sorted(s.validity for s in weak.sigs.get(key, [])) == relaxed):
            return "third-party SHA-1 signature made after 2019-01-19; good with --allow-weak-key-signatures"
    if (gpg.validity == "%" and gpg.note == CLASS_ERROR and ours.status == "bad"
            and ours.component == "primary" and 0x10 <= ours.sig_type <= 0x13):
        return "user ID certification placed on the primary key, before any user ID; both reject it"
    return None


def compare(listing: GpgListing, weak: GpgListing, ours: dict[Key, list[KeywatchSig]]
            ) -> tuple[Counter[str], Counter[tuple[str, str | None]], list[str]]:
    """(agreements by kind, disagreements by (kind, explanation or None), examples of unexplained ones)."""
    agree: Counter[str] = Counter()
    differ: Counter[tuple[str, str | None]] = Counter()
    examples: list[str] = []
    for key in listing.sigs.keys() | ours.keys():
        theirs, mine = list(listing.sigs.get(key, [])), list(ours.get(key, []))
        for gpg in list(theirs):  # pair equal verdicts first, so a group disagrees only as far as it must
            match = next((m for m in mine if m.status == AGREE.get(gpg.validity)), None)
            if match is not None:
                theirs.remove(gpg)
                mine.remove(match)
                agree[f"gpg {gpg.validity} = keywatch {match.status}"] += 1
        for gpg, sig in zip(theirs, mine):
            why = explain(key, gpg, sig, listing, weak)
            kind = f"gpg {gpg.validity}{f' [{gpg.note}]' if gpg.note else ''} / keywatch {sig.status}"
            differ[(kind, why)] += 1
            if why is None:
                examples.append(f"{kind}: {key} {sig.reason or ''}")
        for gpg in theirs[len(mine):]:
            differ[(f"gpg {gpg.validity} / not in keywatch", None)] += 1
            examples.append(f"only in gpg: {key}")
        for sig in mine[len(theirs):]:
            differ[(f"not in gpg / keywatch {sig.status}", None)] += 1
            examples.append(f"only in keywatch: {key}")
    return agree, differ, examples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--fresh", action="store_true", help="rerun gpg instead of using its cached output")
    args = parser.parse_args()
    keyring = debian_keyring()
    listings = {name: parse_gpg(gpg_output(keyring, options, args.fresh)) for name, options in RUNS.items()}
    ours = keywatch_sigs(keyring)
    unexplained = 0
    for name, listing in listings.items():
        agree, differ, examples = compare(listing, listings["allow-weak-key-signatures"], ours)
        total = sum(len(v) for v in listing.sigs.values())
        print(f"\ngpg {name}: {total} sig/rev records; keywatch: {sum(len(v) for v in ours.values())} signatures")
        for kind, count in agree.most_common():
            print(f"  agree     {count:6}  {kind}")
        for (kind, why), count in differ.most_common():
            print(f"  differ    {count:6}  {kind}: {why or 'UNEXPLAINED'}")
        for example in examples[:10]:
            print(f"    unexplained: {example}")
        unexplained += len(examples)
    print(f"\n{unexplained} unexplained disagreement(s)")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
