"""Freed memory goes back to the system when asked (docingest/heap.py): measured on this
process's RSS after freeing many small objects, which glibc would otherwise keep."""

from __future__ import annotations

import gc
import sys

import psutil
import pytest

from docingest.heap import release_free_memory

MIB = 1 << 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_returns_to_the_system() -> None:
    process = psutil.Process()
    # ~200 MiB in blocks of 1 KiB (from malloc, not Python's small-object arenas: what a
    # layout window's C libraries leave behind), then a survivor at the top of the heap, which
    # keeps glibc from shrinking it on its own.
    garbage = [bytes(1024) + n.to_bytes(4) for n in range(200_000)]
    keep = [bytes(1024) for _ in range(10)]
    del garbage
    gc.collect()
    before = process.memory_info().rss
    assert release_free_memory()
    after = process.memory_info().rss
    assert before - after > 50 * MIB, (before // MIB, after // MIB)
    assert keep
