"""Mutated certificates never crash the importer: they are imported or refused with a KeywatchError.

Deterministic mutations (seeded) of a real sq-made certificate: bit flips,
truncations, spliced garbage, duplicated and reordered packets.
"""

from __future__ import annotations

import random

import pysequoia
import pytest

from keywatch.errors import KeywatchError
from keywatch.ingest import import_bytes
from keywatch.store import Store


@pytest.fixture(scope="module")
def sample() -> bytes:
    tsk = pysequoia.Tsk.generate("Fuzz <fuzz@example.org>")
    return bytes(tsk.extract_certificate())


def _mutations(data: bytes, count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        buf = bytearray(data)
        kind = rng.randrange(4)
        if kind == 0:
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del buf[rng.randrange(1, len(buf)):]
        elif kind == 2:
            at = rng.randrange(len(buf))
            buf[at:at] = rng.randbytes(rng.randint(1, 40))
        else:
            start = rng.randrange(len(buf))
            buf += buf[start:start + rng.randint(1, 200)]
        yield bytes(buf)


def test_mutated_certificates_never_crash(tmp_path, sample):
    store = Store(tmp_path / "fuzz.db")
    outcomes = {"imported": 0, "refused": 0}
    for number, data in enumerate(_mutations(sample, 400, seed=20261126)):
        try:
            import_bytes(store, data, f"mutant-{number}")
            outcomes["imported"] += 1
        except KeywatchError as exc:
            assert f"mutant-{number}" in str(exc)
            outcomes["refused"] += 1
    store.close()
    # Both paths are exercised: some mutants are still certificates, many are not.
    assert outcomes["imported"] > 0 and outcomes["refused"] > 0


def test_armor_blocks_glued_together_lose_no_key(tmp_path):
    """Two armored certificates with no newline between them: both are read (Sequoia alone reads one)."""
    first = pysequoia.Tsk.generate("First <first@example.org>").extract_certificate()
    second = pysequoia.Tsk.generate("Second <second@example.org>").extract_certificate()
    store = Store(tmp_path / "glued.db")
    summary = import_bytes(store, (str(first) + str(second)).encode(), "KEYS")
    store.close()
    assert sorted(summary.fingerprints) == sorted([first.fingerprint.upper(), second.fingerprint.upper()])
