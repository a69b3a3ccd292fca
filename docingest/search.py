"""Search: a query's dense and BM25 vectors against the store, hits as citable records.

Pure code (no Dagster): `docingest search` and `bench/retrieval_bench.py` both call `search`;
`search_points` is the same against the store this environment is configured for. The CLI's
search imports nothing else (no Dagster, no parser): its start-up is most of its wall time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docingest.errors import ConfigError, DocIngestError
from docingest.filters import PATH_PREFIXES_KEY, Filter, FilterValue, equality_filter
from docingest.paths import docingest_home
from docingest.payload import RESERVED_KEYS
from docingest.sparse import Bm25Encoder
from docingest.vectorstore import (
    DEFAULT_FUSION,
    DEFAULT_MODE,
    DEFAULT_RRF_K,
    Query,
    SearchHit,
    VectorStore,
)

if TYPE_CHECKING:  # the model loads only when a query is embedded
    from docingest.embedding import Embedder

QDRANT_URL_ENV = "QDRANT_URL"
QDRANT_API_KEY_ENV = "QDRANT_API_KEY"
COLLECTION_ENV = "DOCINGEST_COLLECTION"


def hit_record(hit: SearchHit, reserved: frozenset[str]) -> dict[str, Any]:
    """One hit in the `docingest search --json` shape: text, pages, boxes, breadcrumb."""
    p = hit.payload
    return {
        "document_id": p.get("document_id"),
        "chunk_id": p.get("chunk_id"),
        "chunk_index": p.get("chunk_index"),
        "score": hit.score,
        "text": p.get("text", ""),
        "page_start": p.get("page_start"),
        "page_end": p.get("page_end"),
        "page_labels": p.get("page_labels", []),
        "headings": p.get("headings", []),
        "bboxes": p.get("bboxes", []),
        "fragment_types": p.get("fragment_types", []),
        "source": p.get("source"),
        "document_type": p.get("document_type"),
        "page_class": p.get("page_class", []),
        "metadata": {k: v for k, v in p.items() if k not in reserved},
    }


def cited_pages(record: dict[str, Any]) -> str:
    """A hit's pages as the CLI prints them: "3-4", and the printed labels where the document
    has them: "3-4 (p. iii-iv)"."""
    pages = f"{record['page_start']}-{record['page_end']}"
    labels = [label for label in record.get("page_labels") or [] if label]
    if not labels:
        return pages
    printed = labels[0] if labels[0] == labels[-1] else f"{labels[0]}-{labels[-1]}"
    return f"{pages} (p. {printed})"


def widen(store: VectorStore, record: dict[str, Any], context: int) -> None:
    """Add the `context` chunks before and after the hit (`search --context N`): their text
    joined with the hit's in `context_text`, the page range they span in `context_pages`."""
    index, document = record.get("chunk_index"), record.get("document_id")
    if context <= 0 or not isinstance(index, int) or not isinstance(document, str):
        return
    around = store.document_chunks(document, max(0, index - context), index + context)
    if not around:
        return
    record["context_text"] = "\n\n".join(str(p.get("text", "")) for p in around)
    record["context_pages"] = [
        min(int(p.get("page_start", 0)) for p in around),
        max(int(p.get("page_end", 0)) for p in around),
    ]
    record["context_chunks"] = [p.get("chunk_index") for p in around]


def search(
    store: VectorStore,
    embed_query: Callable[[str], Sequence[float]],
    text: str,
    *,
    mode: str = DEFAULT_MODE,
    top_k: int = 5,
    filters: Filter = (),
    rrf_k: int = DEFAULT_RRF_K,
    fusion: str = DEFAULT_FUSION,
    context: int = 0,
    reserved: frozenset[str] = frozenset(),
    encoder: Bm25Encoder | None = None,
) -> list[dict[str, Any]]:
    """The `top_k` best chunks for `text` by `mode` (dense, sparse, or hybrid fused by
    `fusion`: rrf or dbsf)."""
    if not text.strip():
        raise ConfigError("the query is empty")
    if top_k < 1:
        raise ConfigError(f"top_k must be >= 1, got {top_k}")
    if context < 0:
        raise ConfigError(f"context must be >= 0, got {context}")
    dense = embed_query(text) if mode != "sparse" else None
    sparse = (encoder or Bm25Encoder()).query(text) if mode != "dense" else None
    query = Query(dense=dense, sparse=sparse, mode=mode, rrf_k=rrf_k, fusion=fusion)
    hits = store.search(query, top_k=top_k, filters=filters)
    records = [hit_record(hit, reserved) for hit in hits]
    for record in records:
        widen(store, record, context)
    return records


# --- the store this environment is configured for ---------------------------------------


@dataclass(frozen=True)
class StoreSettings:
    """Which store the CLI reads: a Qdrant server when `$QDRANT_URL` is set, else the embedded
    store under `$DOCINGEST_HOME/qdrant`; the collection from `$DOCINGEST_COLLECTION`. The same
    variables `resources.build_resources` binds for Dagster runs."""

    collection: str
    url: str | None = None
    api_key: str | None = None

    @classmethod
    def from_env(cls) -> StoreSettings:
        return cls(
            collection=os.environ.get(COLLECTION_ENV, "documents"),
            url=os.environ.get(QDRANT_URL_ENV) or None,
            api_key=os.environ.get(QDRANT_API_KEY_ENV) or None,
        )

    @property
    def local_path(self) -> Path:
        return docingest_home() / "qdrant"

    def describe(self) -> str:
        """Where the store is, for people; the URL may hold credentials, so not the URL."""
        where = "Qdrant server from $QDRANT_URL" if self.url else f"local {self.local_path}"
        return f"collection {self.collection!r} ({where})"

    @contextmanager
    def open(self) -> Iterator[VectorStore]:
        if self.url:
            store = VectorStore(collection=self.collection, url=self.url, api_key=self.api_key)
        else:
            store = VectorStore(collection=self.collection, path=str(self.local_path))
        with store:
            yield store


Filters = Mapping[str, FilterValue] | Filter | None


def search_points(
    query: str,
    *,
    top_k: int = 5,
    filters: Filters = None,
    mode: str = DEFAULT_MODE,
    rrf_k: int = DEFAULT_RRF_K,
    fusion: str = DEFAULT_FUSION,
    context: int = 0,
) -> list[dict[str, Any]]:
    """The best chunks for the query in the configured store, in the `docingest search --json`
    shape, embedded by the default model (loaded once per process) at the precision of the
    collection's points."""
    with StoreSettings.from_env().open() as store:
        embedder = query_embedder(store)
        return search(
            store,
            embedder.embed_query,
            query,
            mode=mode,
            top_k=top_k,
            filters=equality_filter(filters),
            rrf_k=rrf_k,
            fusion=fusion,
            context=context,
            reserved=RESERVED_KEYS,
        )


def query_embedder(store: VectorStore) -> Embedder:
    """The model that embeds queries against `store`: at the precision its points were
    embedded with, whatever is configured (a query of the other precision would score every
    point a little off); for a collection without points, the configured precision
    (`$DOCINGEST_EMBED_PRECISION`), else the default."""
    from docingest.embedding import PRECISION_ENV, get_embedder, precision_of

    configured = precision_of(os.environ.get(PRECISION_ENV))
    stored = store.stored_embedding()
    if stored is not None:
        return get_embedder(precision=stored[1])
    return get_embedder(precision=configured)


def embedding_model_ready() -> bool:
    """Whether the default model's ONNX export is already under the home (the first search
    or ingest in a new home builds it, which takes a while; the int8 model is derived from it
    in seconds)."""
    from docingest.embedding import DEFAULT_MODEL
    from docingest.onnx_model import cache_key

    return (docingest_home() / "models" / DEFAULT_MODEL / cache_key()).is_dir()


def why_no_hits(filters: Filters) -> str:
    """Why a search found nothing: an empty collection, or filter keys no document has."""
    from docingest.storage import default_store

    registered = list(default_store().iter_json("sources"))
    try:
        with StoreSettings.from_env().open() as store:
            points = store.count()
    except DocIngestError:
        points = -1
    if points == 0:
        return "the collection is empty: ingest documents first (docingest ingest DIR)"
    keys = set(RESERVED_KEYS)
    for record in registered:
        keys.update((record.get("vector_store_metadata") or {}).keys())
    keys.add(PATH_PREFIXES_KEY)
    unknown = sorted({c.key for c in equality_filter(filters)} - keys)
    if unknown:
        return f"no document has the metadata key(s) {', '.join(unknown)}"
    return "no chunk matched" + (" these filters" if filters else "")
