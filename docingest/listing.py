"""The upload folder as the sensor last saw it, kept under DOCINGEST_HOME rather than in the
sensor's Dagster cursor; and the files the reconcile schedule last checked.

Dagster writes a sensor's cursor into every tick it stores (and keeps ticks for days) and sends
it to the code server on every evaluation; a cursor naming every file (~120 bytes a file, 11 MB
at 100,000 files) would make each idle tick write megabytes into the instance. So the cursor
names a snapshot by its content digest, and the snapshot lives here: written only when the
listing changed, and never removed while the cursor Dagster last committed may still name it.

A snapshot is read from disk once per process: the code server that evaluates the sensor lives
from tick to tick, and keeps the last snapshot it read or wrote (by digest, so what it keeps is
exactly what the file holds). An idle tick then neither reads nor writes 12 MB of JSON.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docingest.ids import short_digest
from docingest.locations import Location, write_bytes_atomic

Listing = dict[str, list[Any]]  # document id -> [size, mtime_ns, sha256, options digest]

# Folder -> (digest, snapshot) last read or written by this process; never mutated by callers.
_KEPT: dict[Path, tuple[str, Mapping[str, list[Any]]]] = {}
_KEPT_LOCK = threading.Lock()


class ListingStore:
    """Snapshots of one upload folder's listing, by content digest."""

    def __init__(self, base_dir: Path, root: Location) -> None:
        # One folder per upload root: two sources sharing a DOCINGEST_HOME keep theirs apart.
        self.folder = Path(base_dir) / "sensor_listings" / short_digest(str(root))

    def load(self, digest: str) -> Mapping[str, list[Any]] | None:
        """The snapshot `digest` names (read-only); None when it is gone (the caller rescans
        the folder)."""
        path = self.folder / f"{digest}.json"
        with _KEPT_LOCK:
            kept = _KEPT.get(self.folder)
        if kept and kept[0] == digest and path.exists():
            return kept[1]
        try:
            listing: Listing = dict(json.loads(path.read_bytes()))
        except FileNotFoundError:
            return None
        self._keep(digest, listing)
        return listing

    def save(
        self,
        listing: Mapping[str, list[Any]],
        *,
        keep: str | None,
        previous: Mapping[str, list[Any]] | None = None,
    ) -> str:
        """Store `listing` (unless it is stored already) and return its digest. Every other
        snapshot except `keep`, the one the committed cursor names, is removed: if Dagster does
        not commit this tick's cursor, the next tick starts again from `keep`. `previous`: the
        snapshot `keep` names, as loaded; when `listing` equals it, it is not serialized
        again (an idle tick's whole cost here is one comparison)."""
        data = None
        if keep and previous is not None and listing == previous:
            digest = keep
        else:
            data = _encode(listing)
            digest = hashlib.sha256(data).hexdigest()[:32]
        path = self.folder / f"{digest}.json"
        if not path.exists():
            write_bytes_atomic(path, _encode(listing) if data is None else data)
        self._keep(digest, listing)
        for old in self.folder.glob("*.json"):
            if old.stem not in (digest, keep):
                old.unlink(missing_ok=True)
        return digest

    def _keep(self, digest: str, listing: Mapping[str, list[Any]]) -> None:
        with _KEPT_LOCK:
            _KEPT[self.folder] = (digest, listing)


def _encode(listing: Mapping[str, list[Any]]) -> bytes:
    return json.dumps(listing, separators=(",", ":")).encode()


class CheckedFiles:
    """What the reconcile schedule last found for each file of one upload folder: its stamp
    (`SourceFile.check_stamp`) and the sha256 of its content then, so that a file is hashed
    again only when its stamp moved; and where an evaluation that ran out of time stopped.
    One file under DOCINGEST_HOME, rewritten by each evaluation (a schedule has no cursor)."""

    def __init__(self, base_dir: Path, root: Location) -> None:
        self.path = Path(base_dir) / "reconcile_checked" / f"{short_digest(str(root))}.json"

    def load(self) -> tuple[dict[str, list[Any]], str]:
        """Document id -> [*stamp, sha256], and the document id to go on from ('' from the
        first). Nothing known (a first evaluation, a lost file) means every file is hashed."""
        try:
            data = json.loads(self.path.read_bytes())
        except (FileNotFoundError, ValueError):
            return {}, ""
        return dict(data.get("files", {})), str(data.get("next", ""))

    def save(self, files: Mapping[str, list[Any]], next_id: str) -> None:
        data = {"v": 1, "next": next_id, "files": files}
        write_bytes_atomic(self.path, json.dumps(data, separators=(",", ":")).encode())
