"""docingest.search: query vectors by mode, citations in each hit, context widening."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docingest.errors import ConfigError
from docingest.filters import parse_filters
from docingest.ids import point_id_for
from docingest.search import search
from docingest.sparse import Bm25Encoder
from docingest.vectorstore import PointData, VectorStore, close_local_clients

TEXTS = [
    "The board approved a dividend of two dollars per share.",
    "Tariffs on imported steel raised the cost of goods sold.",
    "Revenue grew twelve percent in the Americas segment.",
    "Litigation over the patent remains pending in Delaware.",
]


def _embed(text: str) -> list[float]:
    """A stand-in embedding: which of four topics the text mentions."""
    words = ("dividend", "tariff", "revenue", "litigation")
    raw = [1.0 + 5.0 * (w in text.lower()) for w in words]
    norm = sum(x * x for x in raw) ** 0.5
    return [x / norm for x in raw]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    encoder = Bm25Encoder()
    with VectorStore(path=str(tmp_path / "qdrant")) as vectors:
        vectors.ensure_collection(vector_size=4, model_name="m")
        points = [
            PointData(
                point_id_for("r.pdf", i, "h"),
                _embed(text),
                {
                    "chunk_id": f"c{i}",
                    "chunk_index": i,
                    "text": text,
                    "page_start": i + 1,
                    "page_end": i + 1,
                    "headings": ["Annual report", f"Section {i}"],
                    "bboxes": [{"page": i + 1, "x0": 1.0, "y0": 2.0, "x1": 3.0, "y1": 4.0}],
                    "fragment_types": ["text"],
                    "team": "finance",
                },
                encoder.document(text),
            )
            for i, text in enumerate(TEXTS)
        ]
        vectors.replace_document("r.pdf", points)
        yield vectors
    close_local_clients()


@pytest.mark.parametrize(
    ("mode", "fusion"), [("dense", "rrf"), ("sparse", "rrf"), ("hybrid", "rrf"), ("hybrid", "dbsf")]
)
def test_every_mode_finds_the_passage_and_cites_it(
    store: VectorStore, mode: str, fusion: str
) -> None:
    (hit, *_) = search(
        store, _embed, "steel tariff costs", mode=mode, fusion=fusion, reserved=frozenset()
    )
    assert hit["text"] == TEXTS[1]
    assert (hit["page_start"], hit["page_end"], hit["chunk_index"]) == (2, 2, 1)
    assert hit["headings"] == ["Annual report", "Section 1"]
    assert hit["bboxes"] == [{"page": 2, "x0": 1.0, "y0": 2.0, "x1": 3.0, "y1": 4.0}]


def test_context_widens_a_hit_to_its_neighbours(store: VectorStore) -> None:
    (hit,) = search(store, _embed, "revenue growth", top_k=1, context=1, mode="dense")
    assert hit["chunk_index"] == 2
    assert hit["context_chunks"] == [1, 2, 3]
    assert hit["context_pages"] == [2, 4]
    assert hit["context_text"] == "\n\n".join(TEXTS[1:4])


def test_filters_and_metadata(store: VectorStore) -> None:
    hits = search(
        store, _embed, "dividend", filters=parse_filters(["page>=3"]), reserved=frozenset({"text"})
    )
    assert hits and all(h["page_start"] >= 3 for h in hits)
    assert hits[0]["metadata"]["team"] == "finance" and "text" not in hits[0]["metadata"]


@pytest.mark.parametrize(
    ("query", "options"),
    [("  ", {}), ("x", {"top_k": 0}), ("x", {"context": -1}), ("x", {"fusion": "max"})],
)
def test_bad_requests_are_config_errors(store: VectorStore, query: str, options: dict) -> None:
    with pytest.raises(ConfigError):
        search(store, _embed, query, **options)
