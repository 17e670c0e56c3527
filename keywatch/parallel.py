"""Spreading CPU-bound work over the machine's cores with forked workers.

Forked workers inherit the parent's memory, so large inputs (a parsed
keyring, an issuer index) reach them without pickling; only the small task
descriptions go out and the results come back. Where fork is unavailable,
or the work is small, it runs in-process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_SHARED: dict = {}


def _call(task):
    func, item = _SHARED["func"], task
    return func(item)


def fork_map(func: Callable[[T], R], items: Sequence[T], *, parallel: bool = True) -> Iterator[R]:
    """Results of `func(item)` in order; `func` may be a closure over anything."""
    workers = min(os.cpu_count() or 1, len(items), 8)
    if not parallel or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(func, items)
        return
    _SHARED["func"] = func
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(_call, items)
    finally:
        _SHARED.clear()


def worker_count() -> int:
    return min(os.cpu_count() or 1, 8)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a block without Python's cyclic garbage collector; workers forked inside inherit the pause.

    Bulk work here allocates millions of small objects that reference counting
    frees (parsed packets, row tuples) and holds a large heap (the input, an
    issuer index): the collector would traverse that heap again and again
    for cycles it does not contain — a fifth of an import's Python time —
    and, in forked workers, copy every page it touches.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
