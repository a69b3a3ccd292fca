"""Per-document files under one base directory: Parquet for pages and chunks, JSON for state.

Layout (readable by pandas or DuckDB without this project):
  sources/<stem>.json         the registered file: path, sha256, size, mime, metadata
  parsed/<stem>.parquet       one row per page; fragments as a list of structs
  chunks/<stem>.parquet       one row per chunk (the chunk record of DESIGN.md)
  state/<stem>.json           the latest outcome per stage, for `docingest status`
Every write goes to a temporary file in the same directory and is renamed over the target, so
no reader ever sees a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from docingest.errors import ErrorCode
from docingest.ids import file_stem_for
from docingest.models import BBox, Chunk, Fragment, PageResult, ParseResult

_META_KEY = b"docingest"

_FRAGMENT = pa.struct(
    [
        ("type", pa.string()),
        ("content", pa.string()),
        ("html", pa.string()),
        ("level", pa.int8()),
        ("x0", pa.float32()),
        ("y0", pa.float32()),
        ("x1", pa.float32()),
        ("y1", pa.float32()),
    ]
)
PAGES_SCHEMA = pa.schema(
    [
        ("document_id", pa.string()),
        ("sha256", pa.string()),
        ("options_hash", pa.string()),
        ("page_number", pa.int32()),
        ("width", pa.float32()),
        ("height", pa.float32()),
        ("markdown", pa.string()),
        ("ocr", pa.bool_()),
        ("status", pa.string()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
        ("fragments", pa.list_(_FRAGMENT)),
        ("label", pa.string()),
    ]
)
_BOX = pa.struct(
    [
        ("page", pa.int32()),
        ("x0", pa.float32()),
        ("y0", pa.float32()),
        ("x1", pa.float32()),
        ("y1", pa.float32()),
    ]
)
CHUNKS_SCHEMA = pa.schema(
    [
        ("chunk_id", pa.string()),
        ("document_id", pa.string()),
        ("chunk_index", pa.int32()),
        ("text", pa.string()),
        ("token_count", pa.int32()),
        ("page_start", pa.int32()),
        ("page_end", pa.int32()),
        ("bboxes", pa.list_(_BOX)),
        ("headings", pa.list_(pa.string())),
        ("fragment_types", pa.list_(pa.string())),
        ("strategy", pa.string()),
        ("params_hash", pa.string()),
        ("page_labels", pa.list_(pa.string())),
    ]
)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # The rename is what makes the write atomic for readers and for a killed process; no
        # fsync: these small records are rebuilt by the next run after a power loss.
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_table(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DocumentStore:
    """Reads and writes the per-document files under `base_dir`."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)

    def _path(self, kind: str, document_id: str, suffix: str) -> Path:
        return self.base_dir / kind / f"{file_stem_for(document_id)}{suffix}"

    def parsed_path(self, document_id: str) -> Path:
        return self._path("parsed", document_id, ".parquet")

    def chunks_path(self, document_id: str) -> Path:
        return self._path("chunks", document_id, ".parquet")

    # -- JSON records -----------------------------------------------------------------------
    def write_json(self, kind: str, document_id: str, record: dict[str, Any]) -> Path:
        path = self._path(kind, document_id, ".json")
        atomic_write_bytes(path, json.dumps(record, sort_keys=True, default=str).encode())
        return path

    def read_json(self, kind: str, document_id: str) -> dict[str, Any] | None:
        path = self._path(kind, document_id, ".json")
        try:
            return dict(json.loads(path.read_text()))
        except FileNotFoundError:
            return None

    def iter_json(self, kind: str, *, excluding: Collection[str] = ()) -> Iterator[dict[str, Any]]:
        """Every record of `kind`, except those of the documents in `excluding`, which are not
        even read (the sensor's orphan check knows every listed file is still there)."""
        folder = self.base_dir / kind
        if not folder.is_dir():
            return
        skipped = {f"{file_stem_for(document_id)}.json" for document_id in excluding}
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json") or name in skipped:
                continue
            path = folder / name
            try:
                yield dict(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue  # a record removed or replaced while listing: the next listing has it

    # -- parsed pages -----------------------------------------------------------------------
    def write_parse_result(self, result: ParseResult) -> Path:
        rows = [_page_row(result, page) for page in result.pages]
        table = pa.Table.from_pylist(rows, schema=PAGES_SCHEMA)
        header = {k: v for k, v in result.to_dict().items() if k not in ("pages", "markdown")}
        table = table.replace_schema_metadata({_META_KEY: json.dumps(header, default=str)})
        path = self.parsed_path(result.document_id)
        _atomic_write_table(path, table)
        # Content-addressed index: a renamed or copied file finds this parse by its hash.
        self.write_json(
            "parse_index", _content_key(result.sha256, result.options_hash),
            {"document_id": result.document_id},
        )  # fmt: skip
        return path

    def find_parse(self, sha256: str, options_hash: str) -> ParseResult | None:
        """A stored parse of the same content with the same options, under any document id."""
        entry = self.read_json("parse_index", _content_key(sha256, options_hash))
        if entry is None:
            return None
        header = self.read_parse_header(entry["document_id"])
        if (
            not header
            or header.get("sha256") != sha256
            or header.get("options_hash") != options_hash
        ):
            return None  # that document changed since; its old parse is gone
        return self.read_parse_result(entry["document_id"])

    def read_parse_result(self, document_id: str) -> ParseResult:
        table = pq.read_table(self.parsed_path(document_id))
        header = json.loads((table.schema.metadata or {})[_META_KEY])
        pages = [_page_from_row(row) for row in table.to_pylist()]
        markdown = "\n\n".join(p.markdown for p in pages if p.markdown.strip())
        result = ParseResult.from_dict({**header, "pages": [], "markdown": markdown})
        result.pages = pages
        return result

    def read_parse_header(self, document_id: str) -> dict[str, Any] | None:
        path = self.parsed_path(document_id)
        if not path.exists():
            return None
        metadata = pq.read_schema(path).metadata or {}
        return dict(json.loads(metadata[_META_KEY])) if _META_KEY in metadata else None

    # -- chunks -----------------------------------------------------------------------------
    def write_chunks(
        self, document_id: str, chunks: Sequence[Chunk], params: dict[str, Any] | None = None
    ) -> Path:
        """The chunk records, with the strategy parameters that made them in the file footer."""
        table = pa.Table.from_pylist([c.to_dict() for c in chunks], schema=CHUNKS_SCHEMA)
        table = table.replace_schema_metadata({_META_KEY: json.dumps(params or {}, default=str)})
        path = self.chunks_path(document_id)
        _atomic_write_table(path, table)
        return path

    def read_chunk_params(self, document_id: str) -> dict[str, Any]:
        metadata = pq.read_schema(self.chunks_path(document_id)).metadata or {}
        return dict(json.loads(metadata[_META_KEY])) if _META_KEY in metadata else {}

    def read_chunks(self, document_id: str) -> list[Chunk]:
        table = pq.read_table(self.chunks_path(document_id))
        return [Chunk.from_dict(row) for row in table.to_pylist()]

    # -- removal ----------------------------------------------------------------------------
    def delete_document(self, document_id: str) -> list[Path]:
        removed = []
        for path in (
            self.parsed_path(document_id),
            self.chunks_path(document_id),
            self._path("sources", document_id, ".json"),
            self._path("state", document_id, ".json"),
            self._path("classification", document_id, ".json"),
        ):
            if path.exists():
                path.unlink()
                removed.append(path)
        return removed


def _content_key(sha256: str, options_hash: str) -> str:
    return f"{sha256}-{options_hash}"


def _page_row(result: ParseResult, page: PageResult) -> dict[str, Any]:
    error = page.error or {}
    return {
        "document_id": result.document_id,
        "sha256": result.sha256,
        "options_hash": result.options_hash,
        "page_number": page.page_number,
        "width": page.width,
        "height": page.height,
        "markdown": page.markdown,
        "ocr": page.ocr,
        "status": page.status,
        "error_code": error.get("code"),
        "error_message": error.get("message"),
        "label": page.label,
        "fragments": [
            {
                "type": f.type,
                "content": f.content,
                "html": f.html,
                "level": f.level,
                "x0": f.bbox.x0,
                "y0": f.bbox.y0,
                "x1": f.bbox.x1,
                "y1": f.bbox.y1,
            }
            for f in page.fragments
        ],
    }


def _page_from_row(row: dict[str, Any]) -> PageResult:
    error = None
    if row["error_code"]:
        code = ErrorCode(row["error_code"])
        error = {"code": code.value, "message": row["error_message"], "retryable": code.retryable}
    return PageResult(
        page_number=row["page_number"],
        width=row["width"],
        height=row["height"],
        markdown=row["markdown"],
        ocr=row["ocr"],
        status=row["status"],
        error=error,
        label=row.get("label"),  # absent in parses stored before labels
        fragments=[
            Fragment(
                type=f["type"],
                content=f["content"],
                html=f["html"],
                level=f["level"],
                bbox=BBox(f["x0"], f["y0"], f["x1"], f["y1"]),
            )
            for f in row["fragments"]
        ],
    )
