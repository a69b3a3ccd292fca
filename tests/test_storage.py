"""Per-document Parquet and JSON files: round trips, plain-pandas readability, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from docingest.errors import ErrorCode
from docingest.ids import chunk_id_for
from docingest.models import BBox, Chunk, Fragment, PageResult, ParseResult
from docingest.storage import CHUNKS_SCHEMA, PAGES_SCHEMA, DocumentStore

DOCUMENT_ID = "reports/annual report 2024.pdf"


def _page_one() -> PageResult:
    fragments = [
        Fragment("title", "# Annual report", BBox(72.0, 50.0, 540.0, 80.5), level=1),
        Fragment("section_header", "## Revenue", BBox(72.0, 100.0, 300.0, 112.25), level=2),
        Fragment("text", "Revenue grew by 12.5 % — très bien.", BBox(72.0, 120.0, 540.0, 160.0)),
        Fragment("list_item", "- first point", BBox(80.0, 170.0, 540.0, 182.0)),
        Fragment(
            "table",
            "| a | b |\n|---|---|\n| 1 | 2 |",
            BBox(72.0, 200.0, 540.0, 260.0),
            html="<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>",
        ),
        Fragment("figure", "", BBox(72.0, 300.0, 300.0, 500.0)),
        Fragment("caption", "Figure 1: growth", BBox(72.0, 505.0, 300.0, 517.0)),
        Fragment("page_footer", "1", BBox(300.0, 770.0, 312.0, 782.0)),
    ]
    markdown = "\n\n".join(f.content for f in fragments if f.content)
    return PageResult(1, 612.0, 792.0, markdown, fragments, ocr=False, status="ok")


def _error_page(number: int, code: ErrorCode) -> PageResult:
    error = {"code": code.value, "message": f"page {number}: broken", "retryable": code.retryable}
    return PageResult(number, 595.5, 842.0, "", [], ocr=True, status="error", error=error)


def _parse_result(pages: list[PageResult], document_id: str = DOCUMENT_ID) -> ParseResult:
    return ParseResult(
        document_id=document_id,
        source=f"/data/uploads/{document_id}",
        sha256="ab" * 32,
        mime_type="application/pdf",
        page_count=len(pages),
        engine="pymupdf4llm",
        options_hash="0123456789abcdef",
        # The document markdown is the non-empty page markdowns, as the parser builds it.
        markdown="\n\n".join(p.markdown for p in pages if p.markdown.strip()),
        pages=pages,
        usage={"pages": len(pages), "ocr_pages": 1, "timings": {"parse_s": 0.5}},
        metadata={"team": "legal", "year": 2024, "tags": ["a", "b"]},
    )


def _chunks(document_id: str = DOCUMENT_ID, count: int = 3) -> list[Chunk]:
    return [
        Chunk(
            chunk_id=chunk_id_for(document_id, i, "p1"),
            document_id=document_id,
            chunk_index=i,
            text=f"chunk {i} text — ünïcode",
            token_count=10 + i,
            page_start=i + 1,
            page_end=i + 2,
            bboxes=[
                {"page": i + 1, "x0": 72.0, "y0": 12.5, "x1": 540.0, "y1": 700.25},
                {"page": i + 2, "x0": 0.0, "y0": 0.0, "x1": 612.0, "y1": 100.5},
            ],
            headings=["Annual report", "Revenue"] if i else [],
            fragment_types=["section_header", "text", "table"],
            strategy="hierarchical",
            params_hash="p1",
        )
        for i in range(count)
    ]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


PARSE_CASES: dict[str, list[PageResult]] = {
    "ok-and-error": [_page_one(), _error_page(2, ErrorCode.CORRUPT_FILE)],
    "retryable-error": [_error_page(1, ErrorCode.INTERNAL_ERROR), _page_one()],
    "skipped-page": [_page_one(), PageResult(2, 612.0, 792.0, "", [], status="skipped")],
    "no-pages": [],
}


@pytest.mark.parametrize("pages", PARSE_CASES.values(), ids=PARSE_CASES.keys())
def test_parse_result_round_trip(tmp_path: Path, pages: list[PageResult]) -> None:
    store = DocumentStore(tmp_path)
    result = _parse_result(pages)
    path = store.write_parse_result(result)
    assert path == store.parsed_path(DOCUMENT_ID)
    assert store.read_parse_result(DOCUMENT_ID).to_dict() == result.to_dict()


def test_parse_header(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    assert store.read_parse_header(DOCUMENT_ID) is None
    result = _parse_result([_page_one(), _error_page(2, ErrorCode.OCR_ERROR)])
    store.write_parse_result(result)
    expected = {k: v for k, v in result.to_dict().items() if k not in ("pages", "markdown")}
    assert store.read_parse_header(DOCUMENT_ID) == expected


def test_parsed_pages_read_by_plain_pandas(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    store.write_parse_result(_parse_result([_page_one(), _error_page(2, ErrorCode.CORRUPT_FILE)]))
    frame = pd.read_parquet(store.parsed_path(DOCUMENT_ID))
    assert list(frame.columns) == PAGES_SCHEMA.names
    assert frame["page_number"].tolist() == [1, 2]
    assert frame["status"].tolist() == ["ok", "error"]
    assert frame["error_code"].tolist()[1] == "CORRUPT_FILE"
    assert set(frame["document_id"]) == {DOCUMENT_ID}
    fragments = list(frame["fragments"].iloc[0])
    assert [f["type"] for f in fragments][:5] == [
        "title",
        "section_header",
        "text",
        "list_item",
        "table",
    ]
    assert fragments[4]["html"].startswith("<table>")


def test_chunks_round_trip(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    chunks = _chunks()
    assert store.write_chunks(DOCUMENT_ID, chunks) == store.chunks_path(DOCUMENT_ID)
    assert [c.to_dict() for c in store.read_chunks(DOCUMENT_ID)] == [c.to_dict() for c in chunks]


def test_empty_chunks_round_trip(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    store.write_chunks(DOCUMENT_ID, [])
    assert store.read_chunks(DOCUMENT_ID) == []


def test_chunks_read_by_plain_pandas(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    store.write_chunks(DOCUMENT_ID, _chunks())
    frame = pd.read_parquet(store.chunks_path(DOCUMENT_ID))
    assert list(frame.columns) == CHUNKS_SCHEMA.names
    assert frame["chunk_index"].tolist() == [0, 1, 2]
    assert frame["token_count"].tolist() == [10, 11, 12]
    assert list(frame["headings"].iloc[1]) == ["Annual report", "Revenue"]
    assert dict(frame["bboxes"].iloc[0][0]) == {
        "page": 1,
        "x0": 72.0,
        "y0": 12.5,
        "x1": 540.0,
        "y1": 700.25,
    }


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    for _ in range(2):  # the second round replaces existing files
        store.write_parse_result(_parse_result([_page_one()]))
        store.write_chunks(DOCUMENT_ID, _chunks())
        store.write_json("state", DOCUMENT_ID, {"status": "pending"})
    stem = "reports%2Fannual%20report%202024.pdf"
    result = _parse_result([_page_one()])
    assert _files(tmp_path) == [
        f"chunks/{stem}.parquet",
        f"parse_index/{result.sha256}-{result.options_hash}.json",
        f"parsed/{stem}.parquet",
        f"state/{stem}.json",
    ]


def test_failing_parquet_write_keeps_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DocumentStore(tmp_path)
    store.write_chunks(DOCUMENT_ID, _chunks(count=2))
    before = _files(tmp_path)

    def boom(*args: Any, **kwargs: Any) -> None:
        Path(args[1]).write_bytes(b"half a parquet file")  # as a crash mid-write would leave it
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        store.write_chunks(DOCUMENT_ID, _chunks(count=5))
    monkeypatch.undo()
    assert _files(tmp_path) == before
    assert len(store.read_chunks(DOCUMENT_ID)) == 2


def test_failing_json_write_keeps_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DocumentStore(tmp_path)
    store.write_json("state", DOCUMENT_ID, {"status": "succeeded"})
    before = _files(tmp_path)

    def boom(src: str, dst: str) -> None:
        raise OSError("io error")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="io error"):
        store.write_json("state", DOCUMENT_ID, {"status": "failed"})
    monkeypatch.undo()
    assert _files(tmp_path) == before
    assert store.read_json("state", DOCUMENT_ID) == {"status": "succeeded"}


def _write_everything(store: DocumentStore, document_id: str) -> None:
    store.write_parse_result(_parse_result([_page_one()], document_id))
    store.write_chunks(document_id, _chunks(document_id))
    store.write_json("sources", document_id, {"path": document_id})
    store.write_json("state", document_id, {"status": "succeeded"})


def test_delete_document_removes_exactly_its_files(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    others = ["a.pdf.v2", "a", "x/a.pdf", "a pdf"]  # names sharing a prefix with "a.pdf"
    for document_id in others:
        _write_everything(store, document_id)
    before = _files(tmp_path)
    _write_everything(store, "a.pdf")
    removed = store.delete_document("a.pdf")
    assert sorted(str(p.relative_to(tmp_path)) for p in removed) == [
        "chunks/a.pdf.parquet",
        "parsed/a.pdf.parquet",
        "sources/a.pdf.json",
        "state/a.pdf.json",
    ]
    assert _files(tmp_path) == before
    for document_id in others:
        assert len(store.read_chunks(document_id)) == 3
    assert store.delete_document("a.pdf") == []


def test_delete_document_with_only_some_files(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    store.write_json("sources", "b.pdf", {"path": "b.pdf"})
    assert [p.name for p in store.delete_document("b.pdf")] == ["b.pdf.json"]
    assert _files(tmp_path) == []


JSON_IDS = [
    "plain.pdf",
    ".hidden.pdf",
    "nested/dir/a.pdf",
    "space name.pdf",
    "r%C3%A9sum%C3%A9.pdf",
    "long/" + "z" * 300,
    "wait.%2E.pdf",
]


def test_iter_json_returns_every_valid_record(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    for document_id in JSON_IDS:
        store.write_json("state", document_id, {"document_id": document_id, "n": 1})
    (tmp_path / "state" / "notes.txt").write_text("not a record")
    (tmp_path / "state" / ".plain.pdf.json.abc.tmp").write_text("{")
    records = list(store.iter_json("state"))
    assert sorted(r["document_id"] for r in records) == sorted(JSON_IDS)
    assert records == list(store.iter_json("state"))  # stable order


def test_iter_json_skips_unreadable_records(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    store.write_json("state", "good.pdf", {"document_id": "good.pdf"})
    (tmp_path / "state" / "torn.json").write_text('{"document_id": ')
    assert list(store.iter_json("state")) == [{"document_id": "good.pdf"}]


def test_iter_json_of_missing_kind_is_empty(tmp_path: Path) -> None:
    assert list(DocumentStore(tmp_path / "nothing").iter_json("state")) == []


def test_json_round_trip_and_missing(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    assert store.read_json("sources", DOCUMENT_ID) is None
    record = {"path": "/x y/z.pdf", "size": 3, "metadata": {"k": [1, 2]}}
    path = store.write_json("sources", DOCUMENT_ID, record)
    assert store.read_json("sources", DOCUMENT_ID) == record
    assert json.loads(path.read_text()) == record


def test_iter_json_excluding_reads_only_the_other_records(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    for document_id in JSON_IDS:
        store.write_json("sources", document_id, {"document_id": document_id})
    kept = ["plain.pdf", "long/" + "z" * 300]
    records = store.iter_json("sources", excluding=set(JSON_IDS) - set(kept))
    assert sorted(r["document_id"] for r in records) == sorted(kept)
