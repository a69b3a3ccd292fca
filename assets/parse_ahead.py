"""Parsing ahead within a run: while the step chunks, embeds and writes one document, the
parser's worker processes already parse the next ones.

Only the parse itself (the worker's work, and the reads that decide it) runs ahead, on threads
that wait for the workers. Everything a run records (the registration, the stored parse, the
state and history, materializations, checks, webhooks) stays on the step's thread, one document
after the other, so a run looks as it did when documents were parsed one at a time, only sooner.
The step takes the documents in order, except that one whose parse is still running does not
hold up those after it whose parses are made (`next_ready`): a slow parse (OCR, a long
document) overlaps the indexing of the quick ones behind it instead of idling the step. A parse
that fails ahead fails its document when the step gets to it, exactly as it would have then.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType

from assets.documents import locate_document
from docingest.ids import sha256_file
from docingest.locations import Location
from docingest.models import ParseResult
from docingest.parsing.runner import parses_in_worker
from docingest.storage import DocumentStore
from resources import ParserResource, SourceResource


@dataclass(frozen=True)
class _Input:
    """What a parse was made from: the step uses it only if registration saw the same."""

    path: str
    sha256: str
    options_hash: str


@dataclass(frozen=True)
class _Parsed:
    made_from: _Input
    outcome: ParseResult | Exception


class ParseAhead:
    """Up to `parser.depth()` documents parsed ahead of the one the step is on."""

    def __init__(self, parser: ParserResource, source: SourceResource, store: DocumentStore):
        self.parser, self.source, self.store = parser, source, store
        self.depth = parser.depth()
        # One thread per parse that may run at once; more would only queue at the workers.
        self._threads = ThreadPoolExecutor(
            parser.concurrent_parses(), thread_name_prefix="docingest-parse-ahead"
        )
        self._ahead: dict[str, Future[_Parsed | None]] = {}
        self._lock = threading.Lock()
        # (sha256, options hash) of the parses started ahead: a copy is not parsed twice.
        self._claimed: set[tuple[str, str]] = set()

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def submit(self, document_ids: Iterable[str]) -> None:
        """Start parsing these documents (those not started yet), in this order."""
        if not self.depth:
            return
        for document_id in document_ids:
            if document_id not in self._ahead:
                self._ahead[document_id] = self._threads.submit(self._parse, document_id)

    def next_ready(self, window: Sequence[str]) -> str:
        """The document of `window` (the next ones, in order) the step goes on with: the first,
        unless its parse is still running ahead while a later one's has been made (or has
        failed, to be raised when taken). While none is ready, waits for the window's parses."""
        while True:
            first = self._ahead.get(window[0])
            if first is None or first.done():
                return window[0]
            for document_id in window[1:]:
                if self._made(self._ahead.get(document_id)):
                    return document_id
            running = [f for d in window if (f := self._ahead.get(d)) is not None and not f.done()]
            wait(running, return_when=FIRST_COMPLETED)

    @staticmethod
    def _made(future: Future[_Parsed | None] | None) -> bool:
        """A parse made ahead: not one with nothing done ahead (cached, or a copy whose first
        is still being parsed, which waits its turn to reuse that parse)."""
        return (
            future is not None
            and future.done()
            and not future.cancelled()
            and future.result() is not None
        )

    def take(
        self, document_id: str, path: Location, sha256: str, options_hash: str
    ) -> ParseResult | None:
        """The document's parse made ahead from this very file and these options (its error
        raised, as the parse would have raised it); None when none was made (the step parses
        it now): not started, served from the parse cache, or the file changed since."""
        future = self._ahead.pop(document_id, None)
        parsed = future.result() if future is not None else None
        if parsed is None or parsed.made_from != _Input(str(path), sha256, options_hash):
            return None
        if isinstance(parsed.outcome, Exception):
            raise parsed.outcome
        return parsed.outcome

    def forget(self, document_id: str) -> None:
        """The step is done with the document: a parse it did not take is dropped."""
        future = self._ahead.pop(document_id, None)
        if future is not None:
            future.cancel()

    def close(self) -> None:
        """Start no more parses. Those running finish in their workers, unwaited: a cancelled
        run stops now, and their results are dropped."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._ahead.clear()

    def _parse(self, document_id: str) -> _Parsed | None:
        """Parse the document as the step would, unless the parse cache has it or another
        document of the window parses the same content; None when there is nothing to do
        ahead. Trouble finding or reading the file is left for the step to classify, where
        registration meets it first."""
        try:
            path = locate_document(document_id, self.source, self.store)
            overrides = self.source.parse_options_for(path)
            options = self.parser.options(overrides)
            made_from = _Input(str(path), sha256_file(path), options.options_hash())
        except Exception:  # the step's registration meets it first, and classifies it
            return None
        content = (made_from.sha256, made_from.options_hash)
        # PyMuPDF is not thread-safe: only parses in worker processes run ahead.
        if not parses_in_worker(options) or self.store.has_parse(*content):
            return None
        with self._lock:
            if content in self._claimed:  # a copy in the window: the step reuses that parse
                return None
            self._claimed.add(content)
        try:
            return _Parsed(made_from, self.parser.parse(path, document_id, overrides))
        except Exception as error:  # raised by `take`, on the step's thread, in order
            return _Parsed(made_from, error)
