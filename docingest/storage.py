"""Per-document files under one base directory: Parquet for pages and chunks, JSON for state.

Layout (readable by pandas or DuckDB without this project):
  sources/<stem>.json         the registered file: path, sha256, size, mime, metadata
  parsed/<stem>.parquet       one row per page; fragments as a list of structs
  chunks/<stem>.parquet       one row per chunk (the chunk record of DESIGN.md)
  state/<stem>.json           the latest outcome per stage, for `docingest status`
The base is a local folder or an object-store prefix (`s3://bucket/prefix`, same layout;
docingest.locations). Every write is atomic: a temporary file renamed over the target on disk,
one PUT per object on a store, so no reader ever sees a half-written file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import pyarrow as pa

from docingest.errors import ErrorCode
from docingest.ids import file_stem_for
from docingest.locations import (
    Location,
    is_local,
    location,
    read_bytes,
    read_parquet,
    read_parquet_metadata,
    write_bytes_atomic,
    write_parquet_atomic,
)
from docingest.models import BBox, Chunk, Fragment, PageResult, ParseResult
from docingest.paths import data_location

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


class DocumentStore:
    """Reads and writes the per-document files under `base_dir` (a folder or a `UPath`)."""

    def __init__(self, base_dir: Location) -> None:
        self.base_dir = base_dir

    def _path(self, kind: str, document_id: str, suffix: str) -> Location:
        return self.base_dir / kind / f"{file_stem_for(document_id)}{suffix}"

    def parsed_path(self, document_id: str) -> Location:
        return self._path("parsed", document_id, ".parquet")

    def chunks_path(self, document_id: str) -> Location:
        return self._path("chunks", document_id, ".parquet")

    # -- JSON records -----------------------------------------------------------------------
    def write_json(self, kind: str, document_id: str, record: dict[str, Any]) -> Location:
        path = self._path(kind, document_id, ".json")
        write_bytes_atomic(path, json.dumps(record, sort_keys=True, default=str).encode())
        return path

    def read_json(self, kind: str, document_id: str) -> dict[str, Any] | None:
        path = self._path(kind, document_id, ".json")
        try:
            return dict(json.loads(read_bytes(path)))
        except FileNotFoundError:
            return None

    def iter_json(self, kind: str, excluding: Collection[str] = ()) -> Iterator[dict[str, Any]]:
        """Every record of `kind`, except those of the documents in `excluding`, which are not
        read at all (on an object store, a GET saved per record)."""
        folder = self.base_dir / kind
        if is_local(folder) and not folder.is_dir():
            return  # an object-store prefix without objects lists as empty
        skipped = {f"{file_stem_for(document_id)}.json" for document_id in excluding}
        if is_local(folder):
            # Names first, paths only for the records read (the sensor excludes every listed
            # file on every tick: 100,000 names, a handful of records).
            names = sorted(
                n for n in os.listdir(folder) if n.endswith(".json") and n not in skipped
            )
            paths: list[Location] = [folder / name for name in names]
        else:
            paths = [p for p in sorted(folder.glob("*.json"), key=str) if p.name not in skipped]
        for path in paths:
            try:
                yield dict(json.loads(read_bytes(path)))
            except (OSError, ValueError):
                continue  # a record removed or replaced while listing: the next listing has it

    # -- parsed pages -----------------------------------------------------------------------
    def write_parse_result(self, result: ParseResult) -> Location:
        rows = [_page_row(result, page) for page in result.pages]
        table = pa.Table.from_pylist(rows, schema=PAGES_SCHEMA)
        header = {k: v for k, v in result.to_dict().items() if k not in ("pages", "markdown")}
        table = table.replace_schema_metadata({_META_KEY: json.dumps(header, default=str)})
        path = self.parsed_path(result.document_id)
        write_parquet_atomic(path, table)
        # Content-addressed index: a renamed or copied file finds this parse by its hash.
        self.write_json(
            "parse_index", _content_key(result.sha256, result.options_hash),
            {"document_id": result.document_id},
        )  # fmt: skip
        return path

    def _parsed_as(self, sha256: str, options_hash: str) -> str | None:
        """The document whose stored parse is of this content with these options, if any."""
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
        return str(entry["document_id"])

    def has_parse(self, sha256: str, options_hash: str) -> bool:
        """Whether `find_parse` would find one (without reading its pages)."""
        return self._parsed_as(sha256, options_hash) is not None

    def find_parse(self, sha256: str, options_hash: str) -> ParseResult | None:
        """A stored parse of the same content with the same options, under any document id."""
        document_id = self._parsed_as(sha256, options_hash)
        return None if document_id is None else self.read_parse_result(document_id)

    def read_parse_result(self, document_id: str) -> ParseResult:
        table = read_parquet(self.parsed_path(document_id))
        header = json.loads((table.schema.metadata or {})[_META_KEY])
        pages = [_page_from_row(row) for row in table.to_pylist()]
        markdown = "\n\n".join(p.markdown for p in pages if p.markdown.strip())
        result = ParseResult.from_dict({**header, "pages": [], "markdown": markdown})
        result.pages = pages
        return result

    def read_parse_header(self, document_id: str) -> dict[str, Any] | None:
        try:
            metadata = _footer_metadata(self.parsed_path(document_id))
        except FileNotFoundError:
            return None
        return dict(json.loads(metadata[_META_KEY])) if _META_KEY in metadata else None

    # -- chunks -----------------------------------------------------------------------------
    def write_chunks(
        self, document_id: str, chunks: Sequence[Chunk], params: dict[str, Any] | None = None
    ) -> Location:
        """The chunk records, with the strategy parameters that made them in the file footer."""
        table = pa.Table.from_pylist([c.to_dict() for c in chunks], schema=CHUNKS_SCHEMA)
        table = table.replace_schema_metadata({_META_KEY: json.dumps(params or {}, default=str)})
        path = self.chunks_path(document_id)
        write_parquet_atomic(path, table)
        return path

    def read_chunk_params(self, document_id: str) -> dict[str, Any]:
        metadata = _footer_metadata(self.chunks_path(document_id))
        return dict(json.loads(metadata[_META_KEY])) if _META_KEY in metadata else {}

    def read_chunks(self, document_id: str) -> list[Chunk]:
        table = read_parquet(self.chunks_path(document_id))
        return [Chunk.from_dict(row) for row in table.to_pylist()]

    # -- removal ----------------------------------------------------------------------------
    def delete_document(self, document_id: str) -> list[Location]:
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


def _footer_metadata(path: Location) -> dict[bytes, bytes]:
    return read_parquet_metadata(path).schema.to_arrow_schema().metadata or {}


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


def default_store() -> DocumentStore:
    """The store of this environment (`$DOCINGEST_DATA_URL`, else `$DOCINGEST_HOME`), for the
    commands that read it outside a run; object-store credentials come from the environment."""
    return DocumentStore(location(data_location()))
