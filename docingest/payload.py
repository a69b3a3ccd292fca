"""A chunk's Qdrant payload: the keys the pipeline writes, declared once.

`PointPayload` is the one list. `point_payload` fills it (mypy holds the builder to its keys
and types), and user metadata may not shadow any of them (`RESERVED_KEYS`, derived from it;
`docingest.metadata` refuses such keys, `docingest search` keeps them out of a hit's metadata).
"""

from typing import TYPE_CHECKING, Any, Final, NotRequired, TypedDict

from docingest.filters import path_prefixes
from docingest.models import Chunk

if TYPE_CHECKING:  # classify imports the storage layer; the payload needs only the type
    from docingest.classify import Classification


class PointPayload(TypedDict):
    """The keys the pipeline writes on each chunk's point, beside the document's metadata."""

    document_id: str
    path_prefixes: list[str]  # the folders above the document, for `--filter path^=FOLDER`
    source: str | None
    sha256: str | None
    chunk_id: str
    chunk_index: int
    page_start: int
    page_end: int
    page_labels: list[str | None]
    headings: list[str]
    bboxes: list[dict[str, float]]
    fragment_types: list[str]
    text: str
    strategy: str
    params_hash: str
    embedding_model: str
    # fp32 or int8: set by the store on every point it writes (docingest.vectorstore).
    embedding_precision: NotRequired[str]
    # The embedding cache's key (model and embedded text), added when the point is indexed.
    embedding_key: NotRequired[str]
    # Written when the document was classified (docingest.classify).
    document_type: NotRequired[str | None]
    document_type_score: NotRequired[float | None]
    page_class: NotRequired[list[str]]


RESERVED_KEYS: Final = PointPayload.__required_keys__ | PointPayload.__optional_keys__
EMBED_KEY: Final = "embedding_key"


def point_payload(
    chunk: Chunk,
    registered: dict[str, Any],
    model: str,
    classes: "Classification | None" = None,
) -> dict[str, Any]:
    """A chunk's Qdrant payload: the document's metadata, then what cites the chunk (pages,
    the boxes of its fragments per page, the heading breadcrumb), its exact text and the
    document's classes."""
    written: PointPayload = {
        "document_id": chunk.document_id,
        "path_prefixes": path_prefixes(chunk.document_id),
        "source": registered.get("path"),
        "sha256": registered.get("sha256"),
        "chunk_id": chunk.chunk_id,
        "chunk_index": chunk.chunk_index,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "page_labels": chunk.page_labels,
        "headings": chunk.headings,
        "bboxes": chunk.bboxes,
        "fragment_types": chunk.fragment_types,
        "text": chunk.text,
        "strategy": chunk.strategy,
        "params_hash": chunk.params_hash,
        "embedding_model": model,
    }
    if classes is not None:
        written["document_type"] = classes.document_type
        written["document_type_score"] = classes.score
        written["page_class"] = classes.chunk_classes(chunk.page_start, chunk.page_end)
    return {**(registered.get("vector_store_metadata") or {}), **written}
