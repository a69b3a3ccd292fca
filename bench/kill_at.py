"""Run `docingest` and SIGKILL it (with its process group) at a named point of the code.

    python -m bench.kill_at POINT N -- ingest FOLDER [--strategy ...]

The N-th time (1-based) the run reaches POINT, the whole process group is killed, exactly as
`kill -9` would, so the moments a random kill rarely hits are tried every time:

- `upserted`: a document's new points are written, its stale points not yet deleted;
- `parquet`: a Parquet output is half-written to its temporary file, not yet renamed;
- `indexed`: the points are replaced, the document's state not yet updated;
- `recorded`: the state says indexed, the materialization not yet in Dagster's event log.
"""

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

POINTS = ("upserted", "parquet", "indexed", "recorded")


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.killpg(0, signal.SIGKILL)


def _on_nth(n: int, function: Callable[..., Any], before: bool) -> Callable[..., Any]:
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if before and calls == n:
            _die()
        result = function(*args, **kwargs)
        if not before and calls == n:
            _die()
        return result

    return wrapper


def install(point: str, n: int) -> None:
    """Patch the code so that the n-th pass through `point` kills the process group."""
    import assets.vector_store
    import docingest.locations
    from docingest.vectorstore import VectorStore

    if point == "upserted":
        # delete_stale lists the document's points only after its upserts, to find stale ones.
        VectorStore.document_point_ids = _on_nth(  # type: ignore[method-assign]
            n, VectorStore.document_point_ids, before=True
        )
    elif point == "parquet":
        real = docingest.locations.pq.write_table
        calls = 0

        def half_written(table: Any, where: Any, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            real(table, where, **kwargs)
            if calls == n:
                path = Path(where)
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
                _die()

        docingest.locations.pq.write_table = half_written
    elif point in ("indexed", "recorded"):
        real_record = assets.vector_store.record_stage
        indexed = 0

        def record_stage(store: Any, document_id: str, stage: str, **fields: Any) -> None:
            nonlocal indexed
            indexed += stage == "index"
            if point == "indexed" and indexed == n:
                _die()
            real_record(store, document_id, stage, **fields)
            if point == "recorded" and indexed == n:
                _die()

        assets.vector_store.record_stage = record_stage
    else:
        raise SystemExit(f"unknown point {point!r}; known: {', '.join(POINTS)}")


def main() -> None:
    point, n, *rest = sys.argv[1:]
    if os.getpgrp() != os.getpid():  # kill our own group only, never the caller's
        os.setpgid(0, 0)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    install(point, int(n))
    from pipelines.cli import main as cli

    cli(rest)


if __name__ == "__main__":
    main()
