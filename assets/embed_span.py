"""Embedding calls that span documents: small documents' chunks are embedded together.

A document of a few chunks fills a small part of one model batch; one call for the chunks of
several consecutive documents embeds more chunks per second (`bench/batch_span_bench.py`). The
step still takes documents one after the other through their stages. A document's index stage
stops once its chunks are read (`PreparedIndex`) and waits while the next documents go through
their stages up to theirs; then one call embeds the texts of all those waiting, and each writes
its points in turn. The model embeds every text on its own, so the vectors are those of one call
per document; a failed call is made again per document, so one document's bad text fails only
that document.

What the run records stays in document order, as if each document had been indexed before the
next one began: the events of a document that went on while one before it waited (its
materializations and checks, failure, log lines, webhooks) are held and emitted once every
document before it is done, and provenance tags are read as they are emitted. The data and
state files (registration, stored parse, chunks, history) are written when they are made.

Bounds: at most SPAN_DOCUMENTS documents and about SPAN_CHUNKS chunks (texts to embed, or
vectors stored for a re-index) wait at once; a document of more than INDEX_BATCH chunks never
waits (it embeds and writes itself part by part, after the ones before it), nor does one with
SPAN_FULL texts to embed (a full model batch); and none waits for
its neighbours longer than SPAN_WAIT_S, so documents slow to parse (where embedding matters
little) are written about as soon as before. A cancelled run stops at the next document's
cancel check; documents already waiting finish their index stage, as a stage begun always did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import dagster as dg

from assets.vector_store import Embedded, PreparedIndex

SPAN_DOCUMENTS = 16  # documents whose index stage may wait for one embedding call
SPAN_CHUNKS = 64  # chunks waiting that make a call worth it: two model batches
SPAN_WAIT_S = 10.0  # how long a document may wait for the documents after it
# A document with a model batch of texts (the embedder's 32) fills its own batches: it does not
# wait (waiting would only move its embedding out of the overlap with the next parses).
SPAN_FULL = 32

# A document's records, emitted when every document before it is done (checks and webhooks are
# sent, the materializations returned for the step to yield).
Emit = Callable[[], Iterable[dg.AssetMaterialization]]
# What an index stage waiting for vectors is sent back: its vectors, the error the embedding
# raised for it, or None (it embeds its chunks itself).
Reply = Embedded | Exception | None
Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class WaitForVectors:
    """Yielded by a document's stages: its index stage needs vectors for `prepared.to_embed`."""

    prepared: PreparedIndex


DocumentSteps = Generator[Emit | WaitForVectors, Reply, Outcome]


@dataclass
class _Begun(Generic[Outcome]):
    document_id: str
    steps: DocumentSteps[Outcome]
    held: list[Emit] = field(default_factory=list)
    waiting: PreparedIndex | None = None
    since: float = 0.0
    done: bool = False
    outcome: Outcome | None = None


class SpanningIndex(Generic[Outcome]):
    """Runs documents' stages in order, their index stages' embeddings in shared calls."""

    def __init__(self, embed: Callable[[Sequence[list[str]]], Sequence[Reply]]) -> None:
        self.embed = embed
        self.documents, self.chunks, self.wait_s = SPAN_DOCUMENTS, SPAN_CHUNKS, SPAN_WAIT_S
        self.full = SPAN_FULL
        self.begun: list[_Begun[Outcome]] = []  # not done with yet, in document order
        self.finished: list[tuple[str, Outcome]] = []  # in document order

    def begin(
        self, document_id: str, steps: DocumentSteps[Outcome]
    ) -> Generator[dg.AssetMaterialization, None, Outcome | None]:
        """Run the document's stages until they end or wait for vectors; write the documents
        waiting when the bounds say so. Returns the document's outcome once its stages ended
        (its records may still be held), None while it waits."""
        document = _Begun(document_id, steps)
        self.begun.append(document)
        yield from self._advance(document, None)
        waiting = [d for d in self.begun if d.waiting is not None]
        if document.waiting is not None and (
            document.waiting.to_embed is None or len(document.waiting.to_embed) >= self.full
        ):
            # Not small: written now, after those before it (a long one embeds itself).
            yield from self._write(len(self.begun))
            return document.outcome
        chunks = sum(d.waiting.size for d in waiting if d.waiting)
        if document.waiting is not None and len(waiting) > 1 and chunks > self.chunks:
            # It would take the call past its size: those before it go now, it waits.
            yield from self._write(len(self.begun) - 1)
            chunks = document.waiting.size
        first = self.begun[0] if self.begun else None
        if (
            len(self.begun) >= self.documents
            or chunks >= self.chunks
            or (first and first.waiting and time.monotonic() - first.since >= self.wait_s)
        ):
            yield from self._write(len(self.begun))
        return document.outcome

    def finish(self) -> Generator[dg.AssetMaterialization, None, None]:
        """Write every document still waiting, and emit what is held."""
        yield from self._write(len(self.begun))

    def unfinished(self, documents: Sequence[str]) -> list[str]:
        """Those of `documents` whose stages did not end: waiting, interrupted, not begun."""
        ended = {d for d, _ in self.finished} | {d.document_id for d in self.begun if d.done}
        return [d for d in documents if d not in ended]

    def close(self) -> None:
        """Drop what was not written (the run stops): each document's stages end where they
        wait, so their history is recorded."""
        for document in self.begun:
            document.steps.close()
        self.begun.clear()

    def _advance(
        self, document: _Begun[Outcome], reply: Reply
    ) -> Generator[dg.AssetMaterialization, None, None]:
        """Resume the document's stages until they wait for vectors or end; emit its records
        when no document before it is left, hold them otherwise."""
        document.waiting = None
        try:
            item = document.steps.send(reply)
            while True:
                if isinstance(item, WaitForVectors):
                    document.waiting, document.since = item.prepared, time.monotonic()
                    return
                if document is self.begun[0]:
                    yield from item()
                else:
                    document.held.append(item)
                item = next(document.steps)
        except StopIteration as stop:
            document.done, document.outcome = True, stop.value
        yield from self._front()

    def _front(self) -> Generator[dg.AssetMaterialization, None, None]:
        """Emit what the first documents held; let those that ended go."""
        while self.begun:
            first = self.begun[0]
            held, first.held = first.held, []
            for emit in held:
                yield from emit()
            if not first.done:
                return
            self.begun.pop(0)
            self.finished.append((first.document_id, first.outcome))  # type: ignore[arg-type]

    def _write(self, count: int) -> Generator[dg.AssetMaterialization, None, None]:
        """One embedding call for the waiting documents among the first `count`; then each
        writes its points, in order."""
        batch = [d for d in self.begun[:count] if d.waiting is not None]
        spanning = [d for d in batch if d.waiting and d.waiting.to_embed is not None]
        replies: dict[int, Reply] = {}
        if spanning:
            texts = [d.waiting.to_embed or [] for d in spanning if d.waiting]
            replies = {id(d): r for d, r in zip(spanning, self.embed(texts), strict=True)}
        for document in batch:
            yield from self._front()  # emits what it held: the documents before it are done
            yield from self._advance(document, replies.get(id(document)))
        yield from self._front()
