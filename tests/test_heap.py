"""Freed memory goes back to the system when asked (docingest/heap.py): measured on the RSS of
a fresh interpreter after freeing many small objects, which glibc would otherwise keep. (In the
test process itself the figure depends on what earlier tests left in the heap: the garbage may
land in holes they freed, below the top, where there was nothing to return.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

MIB = 1 << 20
_MEASURE = """
import gc, json
import psutil
from docingest.heap import release_free_memory

process = psutil.Process()
# ~200 MiB in blocks of 1 KiB (from malloc, not Python's small-object arenas: what a layout
# window's C libraries leave behind), then a survivor at the top of the heap, which keeps glibc
# from shrinking it on its own.
garbage = [bytes(1024) + n.to_bytes(4) for n in range(200_000)]
keep = [bytes(1024) for _ in range(10)]
del garbage
gc.collect()
before = process.memory_info().rss
released = release_free_memory()
after = process.memory_info().rss
print(json.dumps({"released": released, "before": before, "after": after, "kept": len(keep)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_returns_to_the_system() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE], capture_output=True, text=True, timeout=120, check=True
    )
    figures = json.loads(result.stdout)
    assert figures["released"] and figures["kept"] == 10
    before, after = figures["before"], figures["after"]
    assert before - after > 50 * MIB, (before // MIB, after // MIB)
