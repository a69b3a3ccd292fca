"""The upload folder as the sensor last saw it, kept under DOCINGEST_HOME rather than in the
sensor's Dagster cursor.

Dagster writes a sensor's cursor into every tick it stores (and keeps ticks for days) and sends
it to the code server on every evaluation; a cursor naming every file (~120 bytes a file, 11 MB
at 100,000 files) would make each idle tick write megabytes into the instance. So the cursor
names a snapshot by its content digest, and the snapshot lives here: written only when the
listing changed, and never removed while the cursor Dagster last committed may still name it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from docingest.ids import short_digest
from docingest.locations import Location, write_bytes_atomic

Listing = dict[str, list[Any]]  # document id -> [size, mtime_ns, sha256, options digest]


class ListingStore:
    """Snapshots of one upload folder's listing, by content digest."""

    def __init__(self, base_dir: Path, root: Location) -> None:
        # One folder per upload root: two sources sharing a DOCINGEST_HOME keep theirs apart.
        self.folder = Path(base_dir) / "sensor_listings" / short_digest(str(root))

    def load(self, digest: str) -> Listing | None:
        """The snapshot `digest` names; None when it is gone (the caller rescans the folder)."""
        try:
            return dict(json.loads((self.folder / f"{digest}.json").read_bytes()))
        except FileNotFoundError:
            return None

    def save(self, listing: Listing, *, keep: str | None) -> str:
        """Store `listing` (unless it is stored already) and return its digest. Every other
        snapshot except `keep`, the one the committed cursor names, is removed: if Dagster does
        not commit this tick's cursor, the next tick starts again from `keep`."""
        data = json.dumps(listing, separators=(",", ":")).encode()
        digest = hashlib.sha256(data).hexdigest()[:32]
        path = self.folder / f"{digest}.json"
        if not path.exists():
            write_bytes_atomic(path, data)
        for old in self.folder.glob("*.json"):
            if old.stem not in (digest, keep):
                old.unlink(missing_ok=True)
        return digest
