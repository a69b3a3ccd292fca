"""Handing freed memory back to the operating system between the parts of a long job.

glibc's allocator keeps memory a process has freed for its next allocations instead of
returning it: after each window of pages the layout engine lays out (tens of MB of page text,
images and model activations, freed again), the parse worker's RSS stayed where the window
left it and crept up with the document (1,293 MiB at 1,000 pages, `bench/memory_bench.py`).
`malloc_trim(0)` returns the free heap (160 pages: 475 -> 298 MiB between windows); it takes
milliseconds. Elsewhere (musl, macOS) it is not there and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_free_memory() -> bool:
    """Return the allocator's free memory to the system; whether it could be asked to."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
