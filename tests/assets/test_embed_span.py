"""Embedding calls that span documents (assets/embed_span.py), through real runs: real PDFs,
the real parser (fast engine), a real instance and vector store, a real webhook receiver. The
model is the hashing fake, counted per call, except where the real model's vectors are the
point. "Before" is the same run with SPAN_DOCUMENTS = 1: each document embedded on its own, as
the step did before calls spanned documents."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest

from assets import embed_span, pipeline, vector_store
from assets.pipeline import STAGES
from assets.vector_store import Embedded, embed_together
from docingest.embedding import Embedder, model_spec
from docingest.errors import DocIngestError, ErrorCode
from docingest.models import ParseResult
from docingest.state import Status, read_state
from docingest.storage import DocumentStore
from docingest.vectorstore import close_local_clients
from docingest.webhooks import EVENTS
from pipelines.cancel import cancel_runs
from pipelines.ingest import IngestSummary, ingest_folder
from pipelines.instance import get_instance
from resources import (
    EmbedderResource,
    ParserResource,
    QdrantResource,
    WebhookEndpointConfig,
    WebhookResource,
)
from tests.conftest import CORPUS, build_pdf
from tests.fakes import FakeEmbedderResource, HashingModel
from tests.webhook_server import Receiver, receiver

SMALL = sorted(CORPUS.glob("*.pdf"))[:8]  # real single-page documents: a few chunks each
POISON = "quokkabane"  # a word the failing model cannot embed
LONG_WORD = "zebracorn"  # in every paragraph of the long document, in no small one
# Metadata that measures time, or names the run: differs between any two runs.
_CLOCK = re.compile(r"second|_s$|_ms$|duration|run_id|timestamp|_at$")
RETRY = ("retry", "", "", None)  # in the events: the step failed and is retried

_CALLS: list[list[str]] = []  # the texts of each embedding call, in order


class CountingEmbedder(FakeEmbedderResource):
    """The hashing model behind the real Embedder; records every call's texts."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        _CALLS.append(list(texts))
        return super().embed(texts)


class PoisonModel(HashingModel):
    """Fails on any batch holding a text with POISON, as a model fails on a text it cannot
    take; the Embedder turns that into EMBEDDING_ERROR."""

    def encode(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        if any(POISON in text for text in texts):
            raise ValueError(f"cannot embed a text with {POISON!r}")
        return super().encode(texts, **kwargs)


class PoisonEmbedder(CountingEmbedder):
    def load(self, precision: str | None = None) -> Embedder:
        spec = model_spec(self.model)
        return Embedder(spec, PoisonModel(spec.dimension), batch_size=self.batch_size)


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    _CALLS.clear()
    yield
    _CALLS.clear()


@pytest.fixture
def server() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def _uploads(folder: Path, sources: Sequence[Path]) -> dict[str, Path]:
    folder.mkdir(parents=True)
    names = {}
    for index, source in enumerate(sources):
        name = f"{index:02d}-{source.name}"
        shutil.copyfile(source, folder / name)
        names[name] = folder / name
    return names


@dataclass
class Observed:
    """What a user sees of one ingest, timings and run ids left out."""

    summary: IngestSummary
    events: list[tuple[str, str, str, Any]]  # (kind, document, asset or check, details)
    webhooks: list[tuple[str, str | None]]
    states: dict[str, tuple[Any, ...]]
    points: dict[str, tuple[dict[str, Any], list[float]]]
    provenance_ok: bool


def _timeless(metadata: dict[str, Any], home: Path) -> dict[str, Any]:
    """Metadata without timings, with the home's path (where the data lives) as HOME."""
    return {
        k: v.replace(str(home), "HOME") if isinstance(v, str) else v
        for k, v in metadata.items()
        if not _CLOCK.search(k)
    }


def _observe(
    instance: dg.DagsterInstance, home: Path, summary: IngestSummary, server: Receiver | None
) -> Observed:
    (run,) = instance.get_runs()
    events: list[tuple[str, str, str, Any]] = []
    by_id: dict[int, tuple[str, str]] = {}  # storage id -> (asset, partition) materialized
    latest: dict[tuple[str, str], int] = {}
    provenance_ok = True
    for record in instance.get_records_for_run(run.run_id).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            continue
        if (m := entry.asset_materialization) is not None:
            asset, partition = m.asset_key.to_user_string(), str(m.partition)
            tags = dict(m.tags or {})
            for key, value in tags.items():
                if key.startswith("dagster/input_event_pointer/"):
                    parent = key.rsplit("/", 1)[1]
                    # Names the parent's latest materialization of the same document.
                    provenance_ok &= by_id.get(int(value)) == (parent, partition)
                    provenance_ok &= latest.get((parent, partition)) == int(value)
            by_id[record.storage_id] = (asset, partition)
            latest[asset, partition] = record.storage_id
            pointers = sorted(k for k in tags if "input_event_pointer" in k)
            versions = {k: v for k, v in tags.items() if "data_version" in k}
            metadata = _timeless({k: v.value for k, v in m.metadata.items()}, home)
            events.append(("materialization", partition, asset, (metadata, versions, pointers)))
        elif (o := entry.asset_observation) is not None:
            metadata = {k: v.value for k, v in o.metadata.items()}
            events.append(("observation", str(o.partition), o.asset_key.to_user_string(),
                           _timeless(metadata, home)))  # fmt: skip
        elif event.event_type_value == "STEP_UP_FOR_RETRY":
            events.append(RETRY)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            check = event.event_specific_data
            events.append(("check", str(check.partition), check.check_name,
                           (check.passed, _timeless(dict(check.metadata), home))))  # fmt: skip
    store = DocumentStore(home)
    states = {}
    for document_id in instance.get_dynamic_partitions("documents"):
        state = read_state(store, document_id)
        error = state.error.code if state.error else None
        history = tuple((s.step, s.status) for s in state.history)
        states[document_id] = (state.status, state.stage, state.chunks, state.points, error,
                               history)  # fmt: skip
    webhooks = []
    if server is not None:
        webhooks = [(b["event"], b.get("document_id")) for b in
                    (json.loads(r.body) for r in server.requests)]  # fmt: skip
    with QdrantResource(path=str(home / "qdrant")).open() as vectors:
        records = vectors.all_points(with_vectors=True)
    points = {point_id: (payload, vector) for point_id, payload, vector in records}
    return Observed(summary, events, webhooks, states, points, provenance_ok)


def _ingest(
    home: Path,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: Receiver | None = None,
    **overrides: Any,
) -> Observed:
    """`docingest ingest FOLDER` into a fresh home, in this process."""
    monkeypatch.setenv("DOCINGEST_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    if server is not None:
        server.requests.clear()
        endpoint = WebhookEndpointConfig(url=server.url, events=list(EVENTS))
        overrides["webhooks"] = WebhookResource(endpoints=[endpoint])
    # Documents taken in name order, as the comparisons need: parsing ahead takes them in the
    # order their parses are made (tests/assets/test_parse_ahead.py covers the two together).
    overrides.setdefault("parser", ParserResource(engine="fast", parse_workers=2, parse_ahead=0))
    overrides.setdefault("embedder", CountingEmbedder())
    instance = get_instance()
    try:
        summary = ingest_folder(instance, folder, overrides=overrides)
        return _observe(instance, home, summary, server)
    finally:
        instance.dispose()
        close_local_clients()


def _in_document_order(events: list[tuple[str, str, str, Any]], names: Sequence[str]) -> bool:
    """Every event of a document before any of the next one's, documents in run order."""
    documents = [document for _, document, _, _ in events]
    firsts = list(dict.fromkeys(documents))
    return firsts == [n for n in names if n in firsts] and documents == sorted(
        documents, key=firsts.index
    )


def test_small_documents_share_calls_and_the_run_records_what_it_did_before(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Receiver
) -> None:
    folder = tmp_path / "uploads"
    names = list(_uploads(folder, SMALL))

    monkeypatch.setattr(embed_span, "SPAN_WAIT_S", 600.0)  # no flush by the clock here
    spanning = embed_span.SPAN_DOCUMENTS
    monkeypatch.setattr(embed_span, "SPAN_DOCUMENTS", 1)
    before = _ingest(tmp_path / "before", folder, monkeypatch, server)
    calls_before = list(_CALLS)
    _CALLS.clear()
    monkeypatch.setattr(embed_span, "SPAN_DOCUMENTS", spanning)
    after = _ingest(tmp_path / "after", folder, monkeypatch, server)

    assert after.summary.succeeded == before.summary.succeeded == len(names)
    # One call per document before; now a few calls, of the same texts in the same order.
    assert len(calls_before) == len(names)
    assert 1 <= len(_CALLS) <= len(names) / 4
    assert [t for call in _CALLS for t in call] == [t for call in calls_before for t in call]
    assert max(len(call) for call in _CALLS) <= max(
        embed_span.SPAN_CHUNKS, vector_store.INDEX_BATCH
    )

    # The same points, payloads and vectors.
    assert after.points.keys() == before.points.keys() and len(after.points) > len(names)
    for point_id, (payload, vector) in before.points.items():
        assert after.points[point_id][0] == payload
        assert np.array_equal(after.points[point_id][1], vector)
    # The same events, checks, observations, webhooks and states, one document after the other.
    assert after.events == before.events and RETRY not in after.events
    assert _in_document_order(after.events, names)
    assert [(d, a) for kind, d, a, _ in after.events if kind == "materialization"] == [
        (name, asset) for name in names for asset in STAGES
    ]
    assert after.webhooks == before.webhooks and len(after.webhooks) > 2 * len(names)
    assert after.states == before.states
    assert after.provenance_ok and before.provenance_ok


def test_a_document_whose_embedding_fails_fails_alone(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: Receiver
) -> None:
    """The third of five documents holds a text the model cannot embed: the shared call fails,
    each document is embedded on its own, and only the third fails, with its code, at its
    place in the record."""
    folder = tmp_path / "uploads"
    names = list(_uploads(folder, [SMALL[0], SMALL[1], SMALL[3], SMALL[4]]))
    bad = "01b-bad.pdf"
    build_pdf(folder / bad, [f"<h1>Notes</h1><p>The {POISON} grows on the dunes.</p>"])
    names.insert(2, bad)
    names.sort()
    assert names[2] == bad
    monkeypatch.setattr(embed_span, "SPAN_WAIT_S", 600.0)
    observed = _ingest(home, folder, monkeypatch, server, embedder=PoisonEmbedder())

    assert (observed.summary.succeeded, observed.summary.failed) == (4, 1)
    assert list(observed.summary.failures) == [bad]
    status, stage, *_, error, _history = observed.states[bad]
    assert (status, stage, error) == (Status.FAILED, "index", "EMBEDDING_ERROR")
    for name in names:
        if name != bad:
            assert observed.states[name][0] is Status.SUCCEEDED, name
            assert observed.states[name][3] > 0, name
    # First the call for all five (it failed), then one per document; the step's retries
    # (EMBEDDING_ERROR is retryable) try the bad one again, alone.
    first = _CALLS[0]
    assert any(POISON in text for text in first) and len(first) > 5
    own = _CALLS[1:6]
    assert sum(len(call) for call in own) == len(first)
    assert all(any(POISON in t for t in call) for call in _CALLS[6:])
    # Its failure shows on its index stage, between its neighbours' records.
    assert observed.events.count(RETRY) == 3
    assert _in_document_order(observed.events[: observed.events.index(RETRY)], names)
    observations = [(d, a, m) for kind, d, a, m in observed.events if kind == "observation"]
    assert [(d, a, m["error_code"]) for d, a, m in observations] == [
        (bad, "vector_store_entries", "EMBEDDING_ERROR")
    ] * len(observations)
    outcomes = [(e, d) for e, d in observed.webhooks if e.startswith("ingest.")]
    assert outcomes[:5] == [
        ("ingest.error" if name == bad else "ingest.success", name) for name in names
    ]
    assert {point["document_id"] for point, _ in observed.points.values()} == set(names) - {bad}


_RUN: dict[str, Any] = {}


class CancellingParser(ParserResource):
    """The real parser, in this process; parsing the second document, it cancels the run as
    `docingest cancel` does, while the first waits for its vectors."""

    def parse(self, path: Path, document_id: str, *args: Any, **kwargs: Any) -> ParseResult:
        if document_id.startswith("01-"):
            instance = _RUN["instance"]
            (run,) = instance.get_runs()
            cancel_runs(instance, [run], DocumentStore(_RUN["home"]))
        return super().parse(path, document_id, *args, **kwargs)


def test_a_cancel_stops_the_run_between_documents_and_the_waiting_one_is_written(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "CANCEL_CHECK_INTERVAL_S", 0.0)
    folder = tmp_path / "uploads"
    names = list(_uploads(folder, SMALL[:5]))
    _RUN.update(instance=instance, home=home)
    parser = CancellingParser(engine="fast", isolate=False)  # nothing parsed ahead
    overrides = {"parser": parser, "embedder": CountingEmbedder()}
    summary = ingest_folder(instance, folder, overrides=overrides)
    _RUN.clear()

    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.CANCELED
    assert (summary.succeeded, summary.cancelled, summary.failed) == (1, 4, 0)
    store = DocumentStore(home)
    first = read_state(store, names[0])
    # The first document was waiting for its vectors when the cancel came: its index stage,
    # begun, was finished; nothing after it was indexed.
    assert first.status is Status.SUCCEEDED and first.points == first.chunks > 0
    assert [(s.step, s.status) for s in first.history][-2:] == [
        ("chunk", "succeeded"), ("index", "succeeded")
    ]  # fmt: skip
    assert len(_CALLS) == 1 and len(_CALLS[0]) == first.chunks
    second = read_state(store, names[1])
    assert second.status is Status.CANCELLED
    assert [s.step for s in second.history] == ["source", "parse", "run"]
    for name in names[2:]:
        assert read_state(store, name).status is Status.CANCELLED
    with QdrantResource(path=str(home / "qdrant")).open() as vectors:
        assert vectors.count() == first.points
    indexed = instance.get_materialized_partitions(dg.AssetKey("vector_store_entries"))
    assert indexed == {names[0]}


def test_a_long_document_is_written_alone_in_parts_and_calls_stay_bounded(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With INDEX_BATCH at 6 chunks, a built 8-page document is embedded in parts of its own,
    after the small documents before it and before those after it; no call holds more than
    SPAN_CHUNKS (here 8) texts, and the record keeps document order."""
    monkeypatch.setattr(vector_store, "INDEX_BATCH", 6)
    monkeypatch.setattr(embed_span, "SPAN_CHUNKS", 8)
    monkeypatch.setattr(embed_span, "SPAN_WAIT_S", 600.0)
    folder = tmp_path / "uploads"
    names = list(_uploads(folder, SMALL[:4]))
    paragraph = f"<p>{f'The {LONG_WORD} crosses the salt flats at dawn. ' * 16}</p>"
    pages = [f"<h2>The {LONG_WORD}, part {i}</h2>{paragraph}" for i in range(8)]
    build_pdf(folder / "02-long.pdf", pages)
    names = sorted([*names, "02-long.pdf"])
    observed = _ingest(home, folder, monkeypatch)

    assert observed.summary.succeeded == 5
    long_chunks = observed.states["02-long.pdf"][2]
    assert long_chunks > 6
    kinds = ["long" if any(LONG_WORD in t for t in call) else "small" for call in _CALLS]
    for kind, call in zip(kinds, _CALLS, strict=True):
        assert all((LONG_WORD in t) == (kind == "long") for t in call)
        assert len(call) <= 8
    assert sum(len(c) for k, c in zip(kinds, _CALLS, strict=True) if k == "long") == long_chunks
    assert max(len(c) for k, c in zip(kinds, _CALLS, strict=True) if k == "long") <= 6
    # The long document's calls run together, between the small documents' calls.
    runs = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
    assert runs.count("long") == 1
    assert _in_document_order(observed.events, names)
    for name in names:
        status, _, chunks, points, *_ = observed.states[name]
        assert status is Status.SUCCEEDED and points == chunks > 0, name


@pytest.mark.real_model
def test_spanning_calls_give_the_vectors_of_one_call_per_document() -> None:
    """The real model on real text (odl-bench ground truth cut into ~200-token chunks, as the
    batch span bench does): vectors from one call for many documents equal those of one call
    per document (the model embeds each text on its own; only the batch shapes differ)."""
    from bench.batch_span_bench import documents

    docs = documents(24)
    embedder = EmbedderResource()
    together = embed_together(embedder, docs)
    alone = [embedder.embed(doc) for doc in docs]
    worst = 0.0
    for shared, own in zip(together, alone, strict=True):
        assert not isinstance(shared, Exception)
        worst = max(worst, float(np.abs(np.array(shared.vectors) - np.array(own)).max()))
    assert worst <= 1e-6, worst


def test_a_shared_call_splits_back_per_document_and_fails_per_document() -> None:
    docs = [["alpha one", "alpha two"], [], ["beta"], [f"{POISON} here", "gamma"], ["delta"]]
    together = embed_together(PoisonEmbedder(), docs)
    # The shared call (it failed), then one per document with texts.
    shared_call = [t for doc in docs for t in doc]
    assert [shared_call, *(doc for doc in docs if doc)] == _CALLS
    for doc, shared in zip(docs, together, strict=True):
        if any(POISON in t for t in doc):
            assert isinstance(shared, DocIngestError)
            assert shared.code is ErrorCode.EMBEDDING_ERROR
        else:
            assert isinstance(shared, Embedded)
            assert shared.vectors == FakeEmbedderResource().embed(doc)
    healthy = embed_together(CountingEmbedder(), [["one", "two"], ["three"]])
    assert [len(e.vectors) for e in healthy if isinstance(e, Embedded)] == [2, 1]


# -- the step's driver alone: when documents wait and when they are written ------------------


def _spec(name: str, texts: int | None, fails: bool = False) -> tuple[str, int | None, bool]:
    return name, texts, fails


def _drive(
    specs: Sequence[tuple[str, int | None, bool]],
) -> tuple[list[str], list[list[int]], list[tuple[str, str]]]:
    """Runs documents through SpanningIndex: (what was emitted, in order; the documents'
    text counts per embedding call; the outcomes)."""
    emitted: list[str] = []
    calls: list[list[int]] = []

    def emit(record: str) -> embed_span.Emit:
        def later() -> list[dg.AssetMaterialization]:
            emitted.append(record)
            return []

        return later

    def embed(documents: Sequence[list[str]]) -> list[embed_span.Reply]:
        calls.append([len(d) for d in documents])
        return [Embedded([[0.0]] * len(d), 0.0) for d in documents]

    def stages(name: str, texts: int | None, fails: bool) -> embed_span.DocumentSteps[str]:
        yield emit(f"{name} chunked")
        if fails:
            yield emit(f"{name} failed")
            return "failed"
        to_embed = None if texts is None else [f"{name} {i}" for i in range(texts)]
        prepared = vector_store.PreparedIndex(name, {}, [], 0, None, False, {}, 0.0, to_embed)
        reply = yield embed_span.WaitForVectors(prepared)
        got = "itself" if reply is None else len(reply.vectors)  # type: ignore[union-attr]
        yield emit(f"{name} indexed ({got})")
        return "succeeded"

    spans: embed_span.SpanningIndex[str] = embed_span.SpanningIndex(embed)
    for name, texts, fails in specs:
        for _ in spans.begin(name, stages(name, texts, fails)):
            pass
    for _ in spans.finish():
        pass
    assert not spans.begun
    return emitted, calls, spans.finished


def test_the_driver_emits_in_document_order_and_shares_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embed_span, "SPAN_WAIT_S", 600.0)
    specs = [_spec("a", 2), _spec("b", 3), _spec("c", 1, fails=True), _spec("d", 2)]
    emitted, calls, finished = _drive(specs)
    assert emitted == [
        "a chunked", "a indexed (2)", "b chunked", "b indexed (3)", "c chunked", "c failed",
        "d chunked", "d indexed (2)",
    ]  # fmt: skip
    assert calls == [[2, 3, 2]]
    assert finished == [("a", "succeeded"), ("b", "succeeded"), ("c", "failed"),
                        ("d", "succeeded")]  # fmt: skip


@pytest.mark.parametrize(
    ("bounds", "specs", "expected_calls"),
    [
        # SPAN_CHUNKS reached: a call; one that would pass it goes after the ones before.
        ({"SPAN_CHUNKS": 4}, [("a", 2), ("b", 2), ("c", 3), ("d", 3)], [[2, 2], [3], [3]]),
        # SPAN_DOCUMENTS waiting (or held): a call.
        ({"SPAN_DOCUMENTS": 2}, [("a", 1), ("b", 1), ("c", 1)], [[1, 1], [1]]),
        # No waiting for neighbours: one call per document, as before calls spanned them.
        ({"SPAN_WAIT_S": 0.0}, [("a", 1), ("b", 1), ("c", 1)], [[1], [1], [1]]),
        # A long document (None: it embeds itself) writes the ones before it, then itself.
        ({}, [("a", 1), ("long", None), ("b", 1)], [[1], [1]]),
        # One with a full model batch of texts does not wait: it goes with the ones before it.
        ({"SPAN_FULL": 3}, [("a", 1), ("big", 3), ("b", 1)], [[1, 3], [1]]),
    ],
)
def test_the_driver_bounds(
    monkeypatch: pytest.MonkeyPatch,
    bounds: dict[str, float],
    specs: list[tuple[str, int | None]],
    expected_calls: list[list[int]],
) -> None:
    monkeypatch.setattr(embed_span, "SPAN_WAIT_S", 600.0)
    for name, value in bounds.items():
        monkeypatch.setattr(embed_span, name, value)
    emitted, calls, _ = _drive([_spec(name, texts) for name, texts in specs])
    assert calls == expected_calls
    names = [name for name, _ in specs]
    assert [e.split()[0] for e in emitted] == [n for n in names for _ in range(2)]
    if ("long", None) in specs:
        assert "long indexed (itself)" in emitted


def test_shared_calls_embed_at_the_collections_precision(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection built at int8: the shared calls use the int8 model, not the resource's own
    (fp32) `embed`, and every point says so."""
    folder = tmp_path / "uploads"
    _uploads(folder, SMALL[:4])
    monkeypatch.setattr(embed_span, "SPAN_WAIT_S", 600.0)
    observed = _ingest(home, folder, monkeypatch, embedder=CountingEmbedder(precision="int8"))

    assert (observed.summary.succeeded, observed.summary.failed) == (4, 0)
    assert _CALLS == []  # the fp32 `embed` of the resource was never called
    assert observed.points and {p["embedding_precision"] for p, _ in observed.points.values()} == {
        "int8"
    }
