"""Parsing ahead: the next documents' parses run in the workers while the step indexes the one
before them; a slow parse does not hold up the documents behind it; what the run records stays
one document after the other. Real PDFs, the real parser in its
worker processes, a real instance and vector store; the embedding model is the hashing fake
(the overlap is measured, not the model)."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets import embed_span
from assets.documents import register_document
from assets.parse_ahead import ParseAhead
from assets.pipeline import STAGES
from docingest.cores import available_cores
from docingest.errors import DocIngestError
from docingest.models import ParseResult
from docingest.state import Status, read_state
from docingest.storage import DocumentStore
from pipelines.ingest import ingest_folder
from resources import ParserResource, SourceResource, build_resources
from tests.conftest import corpus_pdf
from tests.fakes import FakeEmbedderResource

NAMES = ("a.pdf", "b.pdf", "c.pdf", "d.pdf")
SOURCES = ("01030000000001.pdf", "01030000000002.pdf", "01030000000003.pdf", "01030000000004.pdf")
ENCRYPTED = Path(__file__).parents[1] / "hardening" / "data" / "crazyones-encrypted-256.pdf"
WAIT_S = 3.0  # how long an embedding waits for the second parse to start

_PARSES: dict[str, tuple[float, float]] = {}  # document -> (started, ended), wall clock
_EMBEDDED: list[bool] = []  # per embedding call: whether b.pdf's parse had started by its end
_SECOND_PARSE = threading.Event()


class RecordingParser(ParserResource):
    """The real parser (worker processes); records when each document's parse ran."""

    def parse(self, path: Path, document_id: str, *args: Any, **kwargs: Any) -> ParseResult:
        started = time.time()
        if document_id == NAMES[1]:
            _SECOND_PARSE.set()
        try:
            return super().parse(path, document_id, *args, **kwargs)
        finally:
            _PARSES[document_id] = (started, time.time())


class WaitingEmbedder(FakeEmbedderResource):
    """Embeds only once b.pdf's parse has started, or after WAIT_S: with parsing ahead, a.pdf's
    index cannot finish before the next document's parse began."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        _EMBEDDED.append(_SECOND_PARSE.wait(WAIT_S))
        return super().embed(texts)


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    _PARSES.clear()
    _EMBEDDED.clear()
    _SECOND_PARSE.clear()
    yield


def _uploads(tmp_path: Path, sources: Sequence[Path]) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name, source in zip(NAMES, sources, strict=False):
        shutil.copyfile(source, folder / name)
    return folder


def _materialized(instance: dg.DagsterInstance) -> list[tuple[str, str, float]]:
    """(document, asset, when) of every materialization of the one run, in log order."""
    (run,) = instance.get_runs()
    events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    return [
        (str(m.partition), m.asset_key.to_user_string(), event.timestamp)
        for event in events
        if (m := event.asset_materialization) is not None
    ]


def _taken(materialized: list[tuple[str, str, float]]) -> list[str]:
    """The documents in the order the step took them, checking that the record holds each
    document's assets together, in stage order."""
    taken = list(dict.fromkeys(d for d, _, _ in materialized))
    assert [(d, asset) for d, asset, _ in materialized] == [
        (name, asset) for name in taken for asset in STAGES
    ]
    return taken


def _at(instance: dg.DagsterInstance, asset: str) -> dict[str, float]:
    """When each document's `asset` was materialized."""
    return {d: when for d, name, when in _materialized(instance) if name == asset}


def _indexed_at(instance: dg.DagsterInstance) -> dict[str, float]:
    return _at(instance, "vector_store_entries")


def _ingest_four(
    instance: dg.DagsterInstance, tmp_path: Path, parser: ParserResource, embedder: Any
) -> list[str]:
    """`docingest ingest` of the four real PDFs (all succeed); the documents in the order the
    step took them."""
    folder = _uploads(tmp_path, [corpus_pdf(name) for name in SOURCES])
    summary = ingest_folder(instance, folder, overrides={"parser": parser, "embedder": embedder})
    assert (summary.succeeded, summary.failed) == (4, 0)
    taken = _taken(_materialized(instance))
    assert sorted(taken) == list(NAMES)
    return taken


def test_the_next_parse_runs_while_the_step_indexes_and_the_record_keeps_document_order(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    # Every asset of a document, in stage order, one document after the other: as before.
    parser = RecordingParser(engine="fast", parse_workers=2)
    taken = _ingest_four(instance, tmp_path, parser, WaitingEmbedder())
    assert all(_EMBEDDED), "an embedding waited in vain for the next document's parse"
    indexed = _indexed_at(instance)
    # The overlap: each document's parse started before the one before it was indexed.
    for before, after in itertools.pairwise(taken):
        assert _PARSES[after][0] < indexed[before], (before, after)
    assert set(_PARSES) == set(NAMES)  # each parsed once


class SlowFirstParser(RecordingParser):
    """a.pdf's parse takes SLOW_S longer (a long document, OCR): the rest parse as usual."""

    def parse(self, path: Path, document_id: str, *args: Any, **kwargs: Any) -> ParseResult:
        if document_id == NAMES[0]:
            time.sleep(SLOW_S)
        return super().parse(path, document_id, *args, **kwargs)


SLOW_S = 6.0


def test_a_slow_parse_does_not_hold_up_the_documents_behind_it(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """While a.pdf's parse runs, the step indexes b.pdf and c.pdf (parsed ahead); a.pdf goes
    when its parse is made, then d.pdf. The record keeps each document's assets together."""
    parser = SlowFirstParser(engine="fast", parse_workers=2)
    taken = _ingest_four(instance, tmp_path, parser, FakeEmbedderResource())
    assert taken[0] != "a.pdf"
    # Chunked (its index stage then waits to share an embedding call) before a.pdf's parse
    # ended: the step did not wait for it.
    assert _at(instance, "chunks")[taken[0]] < _PARSES["a.pdf"][1]
    store = DocumentStore(home)
    assert all(read_state(store, name).status is Status.SUCCEEDED for name in NAMES)


def test_without_parsing_ahead_documents_go_one_at_a_time(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: `parse_ahead=0` parses a document only once the one before it is indexed
    (so the first document's embeddings wait WAIT_S for nothing). Embedding calls do not span
    documents here (each document's index stage would wait for the next one's chunks)."""
    monkeypatch.setattr(embed_span, "SPAN_DOCUMENTS", 1)
    folder = _uploads(tmp_path, [corpus_pdf(name) for name in SOURCES[:2]])
    overrides = {
        "parser": RecordingParser(engine="fast", parse_workers=2, parse_ahead=0),
        "embedder": WaitingEmbedder(),
    }
    summary = ingest_folder(instance, folder, overrides=overrides)
    assert summary.succeeded == 2
    assert _EMBEDDED and not _EMBEDDED[0]
    assert _PARSES[NAMES[1]][0] > _indexed_at(instance)[NAMES[0]]


def test_a_failed_parse_ahead_fails_only_its_document(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """b.pdf (a real encrypted PDF, no password) fails in a worker while a.pdf is parsed or
    indexed and c.pdf and d.pdf are parsed ahead: it fails alone, with its own code."""
    sources = [corpus_pdf(SOURCES[0]), ENCRYPTED, corpus_pdf(SOURCES[2]), corpus_pdf(SOURCES[3])]
    folder = _uploads(tmp_path, sources)
    parser = RecordingParser(engine="fast", parse_workers=2, parse_ahead=3)
    overrides = {"parser": parser, "embedder": WaitingEmbedder()}
    summary = ingest_folder(instance, folder, overrides=overrides)
    assert (summary.succeeded, summary.failed) == (3, 1)
    assert list(summary.failures) == ["b.pdf"]

    store = DocumentStore(home)
    failed = read_state(store, "b.pdf")
    assert (failed.status, failed.stage) == (Status.FAILED, "parse")
    assert failed.error is not None and failed.error.code == "PASSWORD_PROTECTED_FILE"
    for name in ("a.pdf", "c.pdf", "d.pdf"):
        assert read_state(store, name).status is Status.SUCCEEDED, name
    materialized = _materialized(instance)
    assert [asset for d, asset, _ in materialized if d == "b.pdf"] == ["source_documents"]
    taken = _taken([m for m in materialized if m[0] != "b.pdf"])
    assert sorted(taken) == ["a.pdf", "c.pdf", "d.pdf"]
    # b.pdf (and those after it) were parsed before a.pdf was indexed.
    indexed = _indexed_at(instance)
    assert all(_PARSES[name][0] < indexed["a.pdf"] for name in ("b.pdf", "c.pdf", "d.pdf"))


class ExplodingParser(ParserResource):
    """A parser with a bug: raises something other than a DocIngestError."""

    def parse(self, path: Path, document_id: str, *args: Any, **kwargs: Any) -> ParseResult:
        raise RuntimeError(f"bug while parsing {document_id}")


def _registered(store: DocumentStore, source: SourceResource, name: str) -> dict[str, Any]:
    register_document(name, source, store)
    record = store.read_json("sources", name)
    assert record is not None
    return record


def test_what_a_parse_ahead_hands_over(home: Path, tmp_path: Path) -> None:
    """The step takes a parse made ahead only from the file and options it registered; an
    exception raised ahead reaches the step as it was raised; a copy is parsed once."""
    folder = _uploads(tmp_path, [corpus_pdf(SOURCES[n]) for n in (0, 0, 1, 2)])
    store, source = DocumentStore(home), SourceResource(root=str(folder))
    parser = RecordingParser(engine="fast", parse_workers=2)
    options_hash = parser.options().options_hash()
    with ParseAhead(parser, source, store) as ahead:
        ahead.submit(["a.pdf"])
        a = _registered(store, source, "a.pdf")
        made = ahead.take("a.pdf", Path(a["path"]), a["sha256"], options_hash)
        assert made is not None and made.sha256 == a["sha256"] and made.page_count == 1
        ahead.submit(["b.pdf", "c.pdf", "d.pdf"])
        # b.pdf is a copy of a.pdf: not parsed a second time (the step reuses a.pdf's parse).
        b = _registered(store, source, "b.pdf")
        assert ahead.take("b.pdf", Path(b["path"]), b["sha256"], options_hash) is None
        # c.pdf changed after its parse ahead began: registration saw other content.
        c = _registered(store, source, "c.pdf")
        assert ahead.take("c.pdf", Path(c["path"]), "0" * 64, options_hash) is None
        # Options other than those it was parsed with: not taken either.
        d = _registered(store, source, "d.pdf")
        assert ahead.take("d.pdf", Path(d["path"]), d["sha256"], "other-options") is None
    assert set(_PARSES) == {"a.pdf", "c.pdf", "d.pdf"}

    with ParseAhead(ExplodingParser(engine="fast"), source, store) as ahead:
        ahead.submit(["c.pdf"])
        with pytest.raises(RuntimeError, match=r"bug while parsing c\.pdf"):
            ahead.take("c.pdf", Path(c["path"]), c["sha256"], options_hash)


def test_in_process_parsing_is_not_run_ahead(home: Path, tmp_path: Path) -> None:
    """PyMuPDF is not thread-safe: with `isolate=False` nothing is parsed on the side."""
    folder = _uploads(tmp_path, [corpus_pdf(name) for name in SOURCES])
    store, source = DocumentStore(home), SourceResource(root=str(folder))
    parser = RecordingParser(engine="fast", isolate=False)
    with ParseAhead(parser, source, store) as ahead:
        ahead.submit(NAMES)
        a = _registered(store, source, "a.pdf")
        options_hash = parser.options().options_hash()
        assert ahead.take("a.pdf", Path(a["path"]), a["sha256"], options_hash) is None
    assert not _PARSES


@pytest.mark.parametrize(
    ("workers", "ahead", "expected"),
    [
        (0, None, ("cores", "cores", "cores")),  # the default: one worker per core
        (4, None, (4, 4, 4)),
        (4, 1, (4, 1, 2)),  # one ahead: the document in hand and the next one parse at once
        (2, 0, (2, 0, 1)),  # no parsing ahead: one parse at a time, as before
        (1, 8, (1, 8, 1)),  # more ahead than workers: they queue for the one worker
    ],
)
def test_worker_counts(workers: int, ahead: int | None, expected: tuple[Any, ...]) -> None:
    parser = ParserResource(parse_workers=workers, parse_ahead=ahead)
    cores = available_cores()
    want = tuple(cores if value == "cores" else value for value in expected)
    assert (parser.workers(), parser.depth(), parser.concurrent_parses()) == want
    # Neither is a parse option: the options hash (and so every stored parse) is unchanged.
    assert parser.options().options_hash() == ParserResource().options().options_hash()


def test_worker_counts_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCINGEST_PARSE_WORKERS", "3")
    monkeypatch.setenv("DOCINGEST_PARSE_AHEAD", "0")
    parser = build_resources()["parser"]
    assert (parser.workers(), parser.depth()) == (3, 0)
    monkeypatch.delenv("DOCINGEST_PARSE_WORKERS")
    monkeypatch.delenv("DOCINGEST_PARSE_AHEAD")
    parser = build_resources()["parser"]
    assert (parser.parse_workers, parser.parse_ahead) == (0, None)


def test_a_parse_error_raised_ahead_keeps_its_code(home: Path, tmp_path: Path) -> None:
    folder = _uploads(tmp_path, [ENCRYPTED] + [corpus_pdf(name) for name in SOURCES[1:]])
    store, source = DocumentStore(home), SourceResource(root=str(folder))
    parser = RecordingParser(engine="fast", parse_workers=2)
    with ParseAhead(parser, source, store) as ahead:
        ahead.submit(["a.pdf"])
        a = _registered(store, source, "a.pdf")
        with pytest.raises(DocIngestError) as raised:
            ahead.take("a.pdf", Path(a["path"]), a["sha256"], parser.options().options_hash())
    assert raised.value.code.value == "PASSWORD_PROTECTED_FILE"
