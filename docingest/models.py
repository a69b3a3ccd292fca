"""The records that flow through the pipeline: parse results, pages, fragments and chunks.

Plain dataclasses with `to_dict`/`from_dict`, so they serialize to the JSON of `docingest parse`
and to the Parquet files of the assets without any Dagster import.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FragmentType = Literal[
    "title",
    "section_header",
    "text",
    "list_item",
    "table",
    "figure",
    "caption",
    "formula",
    "footnote",
    "page_header",
    "page_footer",
]
FRAGMENT_TYPES: tuple[str, ...] = FragmentType.__args__  # type: ignore[attr-defined]
PageStatus = Literal["ok", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class BBox:
    """A box in PDF points, top-left origin."""

    x0: float
    y0: float
    x1: float
    y1: float

    def to_dict(self) -> dict[str, float]:
        return {"x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BBox:
        return cls(float(data["x0"]), float(data["y0"]), float(data["x1"]), float(data["y1"]))


@dataclass(slots=True)
class Fragment:
    """One typed block of a page, in reading order."""

    type: str
    content: str
    bbox: BBox
    level: int | None = None
    html: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "content": self.content,
            "bbox": self.bbox.to_dict(),
            "level": self.level,
            "html": self.html,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fragment:
        return cls(
            type=data["type"],
            content=data["content"],
            bbox=BBox.from_dict(data["bbox"]),
            level=data.get("level"),
            html=data.get("html"),
        )


@dataclass(slots=True)
class PageResult:
    page_number: int  # 1-based
    width: float
    height: float
    markdown: str
    fragments: list[Fragment] = field(default_factory=list)
    ocr: bool = False
    status: str = "ok"
    error: dict[str, Any] | None = None
    label: str | None = None  # the page's printed label ("iv", "12"); None when unknown

    def to_dict(self) -> dict[str, Any]:
        return {
            "page_number": self.page_number,
            "label": self.label,
            "width": self.width,
            "height": self.height,
            "markdown": self.markdown,
            "ocr": self.ocr,
            "status": self.status,
            "error": self.error,
            "fragments": [fragment.to_dict() for fragment in self.fragments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageResult:
        return cls(
            page_number=int(data["page_number"]),
            width=float(data["width"]),
            height=float(data["height"]),
            markdown=data["markdown"],
            fragments=[Fragment.from_dict(f) for f in data.get("fragments") or []],
            ocr=bool(data.get("ocr", False)),
            status=data.get("status", "ok"),
            error=data.get("error"),
            label=data.get("label"),
        )


@dataclass(slots=True)
class ParseResult:
    """What parsing one document produces (the JSON of `docingest parse --format json`)."""

    document_id: str
    source: str
    sha256: str
    mime_type: str
    page_count: int
    engine: str
    options_hash: str
    markdown: str
    pages: list[PageResult]
    options: dict[str, Any] = field(default_factory=dict)  # what made it (never the password)
    usage: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "source": self.source,
            "sha256": self.sha256,
            "mime_type": self.mime_type,
            "page_count": self.page_count,
            "engine": self.engine,
            "options_hash": self.options_hash,
            "options": self.options,
            "markdown": self.markdown,
            "pages": [page.to_dict() for page in self.pages],
            "usage": self.usage,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParseResult:
        return cls(
            document_id=data["document_id"],
            source=data["source"],
            sha256=data["sha256"],
            mime_type=data["mime_type"],
            page_count=int(data["page_count"]),
            engine=data["engine"],
            options_hash=data["options_hash"],
            markdown=data["markdown"],
            pages=[PageResult.from_dict(p) for p in data["pages"]],
            options=dict(data.get("options") or {}),
            usage=dict(data.get("usage") or {}),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(slots=True)
class Chunk:
    """One chunk record: exact text plus its provenance (pages, boxes, headings)."""

    chunk_id: str
    document_id: str
    chunk_index: int
    text: str
    token_count: int
    page_start: int
    page_end: int
    bboxes: list[dict[str, float]]  # [{page, x0, y0, x1, y1}]
    headings: list[str]
    fragment_types: list[str]
    strategy: str
    params_hash: str
    # Printed label of each page from page_start to page_end (None where a page has none);
    # empty when the document has no labels.
    page_labels: list[str | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(
            chunk_id=data["chunk_id"],
            document_id=data["document_id"],
            chunk_index=int(data["chunk_index"]),
            text=data["text"],
            token_count=int(data["token_count"]),
            page_start=int(data["page_start"]),
            page_end=int(data["page_end"]),
            bboxes=[dict(b) for b in data["bboxes"]],
            headings=list(data["headings"]),
            fragment_types=list(data["fragment_types"]),
            strategy=data["strategy"],
            params_hash=data["params_hash"],
            page_labels=list(data.get("page_labels") or []),
        )
