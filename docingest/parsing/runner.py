"""parse_file, parse_many: each document parsed in a child process under a time and memory limit.

A file that hangs MuPDF or crashes it fails only itself: the parent waits `timeout_s` for the
child's answer, then kills it (PARSE_TIMEOUT); a child that dies by a signal or runs out of its
address-space limit (`resource.setrlimit(RLIMIT_AS)`) fails the document with CORRUPT_FILE.
Workers are long-lived (the layout model loads once per worker) and replaced after a failure.
"""

from __future__ import annotations

import atexit
import multiprocessing
import queue
import resource
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from docingest.cores import threads_each
from docingest.errors import DocIngestError, ErrorCode
from docingest.models import PageResult, ParseResult
from docingest.parsing.api import parse_bytes
from docingest.parsing.detect import OFFICE_TYPES, TEXT_MIMES, check_size, detect_mime
from docingest.parsing.options import ParseOptions

DEFAULT_WORKERS = 2
_HEAD_BYTES = 8192
_NOT_MUPDF = frozenset({*OFFICE_TYPES, *TEXT_MIMES})
_MIB = 1024 * 1024
PAGES_PER_MESSAGE = 32  # pages a worker sends back in one message


def parse_in_process(path: Path, document_id: str | None, options: ParseOptions) -> ParseResult:
    """Read and parse the file in this process."""
    path = Path(path)
    try:
        # Refuse an oversize file before reading it into memory, and read no more than the
        # limit allows if it grows meanwhile (parse_bytes then refuses it).
        check_size(path.stat().st_size, options.max_file_size_bytes)
        with path.open("rb") as handle:
            data = handle.read(options.max_file_size_bytes + 1)
    except DocIngestError:
        raise
    except OSError as exc:
        raise DocIngestError(
            ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"cannot read {path}: {exc.strerror or exc}"
        ) from exc
    return parse_bytes(
        data,
        document_id=document_id if document_id is not None else path.name,
        source=str(path),
        filename=path.name,
        options=options,
    )


def _share_cores(threads: int) -> None:
    """Run every ONNX session this process creates (the layout model's) on `threads` threads.

    ONNX Runtime starts one thread per core in each session; with one worker per core the
    workers' threads would fight over the cores. PyMuPDF's layout package builds its sessions
    with default options and offers no setting, so the options class is replaced before the
    model loads.
    """
    import onnxruntime

    base = onnxruntime.SessionOptions
    if getattr(base, "_docingest_threads", None) is not None:
        return

    class SessionOptions(base):  # type: ignore[misc, valid-type]
        _docingest_threads = threads

        def __init__(self) -> None:
            super().__init__()
            self.intra_op_num_threads = threads

    onnxruntime.SessionOptions = SessionOptions


def _pages_to_parse(path: Path, options: ParseOptions) -> int:
    """How many pages the parse will cover (0 when the file cannot tell): the time limit grows
    with it. Opening costs milliseconds; any trouble is the parse's to classify."""
    import pymupdf

    try:
        check_size(path.stat().st_size, options.max_file_size_bytes)
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
        if detect_mime(head, path.name) in _NOT_MUPDF:
            # MuPDF would lay out HTML or an Office file only to count its pages. Converted to
            # PDF, a word-processing file has the pages its application last counted.
            if options.office_mode != "convert":
                return 0
            from docingest.parsing.office.convert import expected_pages

            with path.open("rb") as handle:
                return expected_pages(handle.read(options.max_file_size_bytes + 1))
        with pymupdf.open(path) as doc:
            if doc.needs_pass and not (options.password and doc.authenticate(options.password)):
                return 0
            return len(options.page_indexes(doc.page_count))
    except Exception:
        return 0


def _send_result(conn: Connection, result: ParseResult) -> None:
    """The parse without its pages, then its pages `PAGES_PER_MESSAGE` at a time: neither side
    holds the whole parse twice over (as dicts and pickled) beside the parse itself."""
    pages = result.pages
    result.pages = []
    conn.send(("ok", result.to_dict(), len(pages)))
    for start in range(0, len(pages), PAGES_PER_MESSAGE):
        conn.send(("parsed", [page.to_dict() for page in pages[start : start + PAGES_PER_MESSAGE]]))


def _serve(conn: Connection, memory_limit_mb: int, model_threads: int) -> None:
    """The child: parse each (path, document_id, options) it is sent, answer with the result."""
    if model_threads:
        _share_cores(model_threads)
    limit = memory_limit_mb * _MIB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        path, document_id, options = job
        conn.send(("pages", _pages_to_parse(Path(path), options)))
        try:
            _send_result(conn, parse_in_process(Path(path), document_id, options))
        except DocIngestError as exc:
            conn.send(("error", exc.code.value, exc.message))
        except MemoryError:
            message = f"parsing needed more than the memory limit of {memory_limit_mb} MiB"
            conn.send(("error", ErrorCode.CORRUPT_FILE.value, message))


class _Worker:
    """One child process and the pipe to it."""

    def __init__(self, memory_limit_mb: int, model_threads: int = 0) -> None:
        context = multiprocessing.get_context("forkserver")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(child, memory_limit_mb, model_threads),
            daemon=True,
            name="docingest-parser",
        )
        self.process.start()
        child.close()

    def _died(self) -> DocIngestError:
        self.process.join(5)
        code = self.process.exitcode
        self.stop()
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return DocIngestError(
            ErrorCode.CORRUPT_FILE, f"the parser process died on this file ({how})"
        )

    def parse(self, path: Path, document_id: str | None, options: ParseOptions) -> ParseResult:
        try:
            self.conn.send((str(path), document_id, options))
        except (BrokenPipeError, OSError):
            raise self._died() from None
        started = time.monotonic()
        limit = options.timeout_s
        reply = self._reply(limit, limit)
        if reply[0] == "pages":  # the limit grows with the pages to parse
            limit += reply[1] * options.timeout_per_page_s
            reply = self._reply(limit - (time.monotonic() - started), limit)
        if reply[0] == "error":
            raise DocIngestError(ErrorCode(reply[1]), reply[2])
        _, header, page_count = reply
        result = ParseResult.from_dict(header)
        while len(result.pages) < page_count:
            reply = self._reply(limit - (time.monotonic() - started), limit)
            if reply[0] == "error":  # ran out of memory while sending
                raise DocIngestError(ErrorCode(reply[1]), reply[2])
            result.pages.extend(PageResult.from_dict(page) for page in reply[1])
        return result

    def _reply(self, seconds: float, limit: float) -> tuple[Any, ...]:
        """The child's next message within `seconds`; PARSE_TIMEOUT (worker killed) if none."""
        if not self.conn.poll(max(0.0, seconds)):
            self.stop()
            raise DocIngestError(
                ErrorCode.PARSE_TIMEOUT, f"parsing took longer than its limit of {limit:g} s"
            )
        try:
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        return reply

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class ParserPool:
    """Up to `workers` child processes, each parsing one document at a time."""

    def __init__(
        self, workers: int = DEFAULT_WORKERS, memory_limit_mb: int = 4096, model_threads: int = 0
    ) -> None:
        self.workers = max(1, workers)
        self.memory_limit_mb = memory_limit_mb
        self.model_threads = model_threads  # 0: ONNX Runtime's default, one per core
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._started = 0
        self._lock = threading.Lock()
        self._all: list[_Worker] = []

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle.empty() and self._started < self.workers:
                self._started += 1
                worker = _Worker(self.memory_limit_mb, self.model_threads)
                self._all.append(worker)
                return worker
        return self._idle.get()

    def parse(self, path: Path, document_id: str | None, options: ParseOptions) -> ParseResult:
        """Parse one file in a worker; a worker that timed out or died is replaced."""
        worker = self._take()
        try:
            return worker.parse(path, document_id, options)
        finally:
            if worker.alive:
                self._idle.put(worker)
            else:
                with self._lock:
                    self._started -= 1
                    self._all.remove(worker)

    def parse_many(
        self, paths: Iterable[Path], options: ParseOptions
    ) -> Iterator[tuple[Path, ParseResult | DocIngestError]]:
        """(path, result or error) for every path, in input order, all workers busy."""

        def one(path: Path) -> tuple[Path, ParseResult | DocIngestError]:
            try:
                return path, self.parse(path, Path(path).name, options)
            except DocIngestError as error:
                return path, error

        with ThreadPoolExecutor(self.workers) as executor:
            yield from executor.map(one, list(paths))

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            for worker in self._all:
                worker.stop()
            self._all.clear()
            self._started = 0


_POOLS: dict[tuple[int, int, int], ParserPool] = {}
_POOLS_LOCK = threading.Lock()  # a run's parse-ahead threads ask for the pool at the same time


def shared_pool(workers: int, memory_limit_mb: int, model_threads: int = 0) -> ParserPool:
    """One pool per (size, memory limit, model threads) for the whole process, closed at exit."""
    key = (workers, memory_limit_mb, model_threads)
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = ParserPool(workers, memory_limit_mb, model_threads)
            atexit.register(_POOLS[key].close)
        return _POOLS[key]


def parses_in_worker(options: ParseOptions) -> bool:
    """Whether `parse_file` hands this parse to a worker process. A daemonic process (a
    multiprocessing pool child) may not start children: there the file is parsed in-process,
    without the limits."""
    return options.isolate and not multiprocessing.current_process().daemon


def parse_file(
    path: Path,
    *,
    document_id: str | None = None,
    options: ParseOptions = ParseOptions(),  # noqa: B008 - frozen, so a shared default is safe
    workers: int = DEFAULT_WORKERS,
    model_threads: int = 0,
) -> ParseResult:
    """Parse the file at `path` (isolated in one of `workers` worker processes when
    `options.isolate`, its layout model on `model_threads` threads, 0: ONNX Runtime's default);
    id: file name."""
    if not parses_in_worker(options):
        return parse_in_process(path, document_id, options)
    return shared_pool(workers, options.memory_limit_mb, model_threads).parse(
        Path(path), document_id, options
    )


def parse_many(
    paths: Iterable[Path], options: ParseOptions, workers: int = DEFAULT_WORKERS
) -> Iterator[tuple[Path, ParseResult | DocIngestError]]:
    """Parse many files with `workers` isolated processes; (path, result or error) in order.

    The workers parse at the same time, so each one's layout model gets its share of the cores.
    """
    threads = threads_each(workers) if workers > 1 else 0
    pool = ParserPool(workers, options.memory_limit_mb, threads)
    try:
        yield from pool.parse_many(paths, options)
    finally:
        pool.close()
