"""Hostile and broken inputs: each has one documented outcome, reached within the limits.

`CASES` is the README's "Hostile inputs" table. Every input is parsed the way the pipeline
parses (in an isolated worker, under a time and an address-space limit) and must come out
parsed with the expected page count, or as the expected classified error with its retryable
flag. Then all of them go through one real ingestion beside a good document, which must come
out exactly as it would alone.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import ParseResult
from docingest.parsing import ParseOptions, ParserPool
from docingest.search import search_points
from docingest.state import read_state
from docingest.storage import DocumentStore
from pipelines.ingest import ingest_folder
from resources import ParserResource
from tests.hardening import corpus

TIMEOUT_S = 60.0
MEMORY_LIMIT_MB = 2048
GOOD_LINES = [
    "The staff cafeteria menu for the spring term.",
    "On Tuesdays the cafeteria serves lentil soup with fresh bread.",
    "On Fridays it serves grilled fish, and vegetarian curry every day.",
]
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def _bytes(make: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(make())


def _sparse(size: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(size)  # a hole: over the size limit without writing 100 MiB

    return write


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Path], None]
    outcome: int | ErrorCode  # pages parsed, or the error
    engine: str = "fast"
    options: dict[str, Any] = field(default_factory=dict)
    contains: str | None = None  # in the markdown
    never: str | None = None  # neither in the markdown nor in the error message
    pipeline: bool = True  # also in the end-to-end run (default options, fast engine)

    @property
    def id(self) -> str:
        return f"{self.name}-{self.engine}" + ("-" + "-".join(self.options) if self.options else "")


CASES = [
    # Broken or mislabelled files.
    Case("truncated.pdf", _bytes(corpus.truncated), ErrorCode.CORRUPT_FILE),
    Case("empty.pdf", _bytes(lambda: b""), ErrorCode.CORRUPT_FILE),
    Case(
        "text-named.pdf", _bytes(lambda: b"plain words\n" * 50), ErrorCode.FILE_TYPE_NOT_SUPPORTED
    ),
    Case("gif-named.pdf", _bytes(lambda: GIF), ErrorCode.FILE_TYPE_NOT_SUPPORTED),
    # Read as Word by its content; this one's document part is not WordprocessingML.
    Case("word-named.pdf", _bytes(corpus.docx_like), ErrorCode.CORRUPT_FILE),
    Case("pdf-named.docx", _bytes(corpus.good_pdf), 1, contains="good neighbour"),
    Case("pdf-named.txt", _bytes(corpus.good_pdf), 1, contains="good neighbour"),
    Case("oversize.pdf", _sparse(101 * 1024 * 1024), ErrorCode.FILE_SIZE_TOO_LARGE),
    # Encryption: without, with a wrong and with the right password (ours and pypdf's files).
    Case("encrypted.pdf", _bytes(corpus.encrypted), ErrorCode.PASSWORD_PROTECTED_FILE),
    Case(
        "encrypted-wrong.pdf",
        _bytes(corpus.encrypted),
        ErrorCode.PASSWORD_PROTECTED_FILE,
        options={"password": "wrong-password-e2c5"},
        never="wrong-password-e2c5",
        pipeline=False,
    ),
    Case(
        "encrypted-right.pdf",
        _bytes(corpus.encrypted),
        1,
        options={"password": corpus.PASSWORD},
        contains="Behind a password",
        never=corpus.PASSWORD,
        pipeline=False,
    ),
    Case(
        "crazyones-encrypted-256.pdf",
        _bytes(lambda: corpus.real("crazyones-encrypted-256.pdf")),
        1,
        options={"password": "password"},
        contains="The Crazy Ones",
        pipeline=False,
    ),
    Case(
        "r2-user-password.pdf",
        _bytes(lambda: corpus.real("r2-user-password.pdf")),
        ErrorCode.PASSWORD_PROTECTED_FILE,
    ),
    # Structure: no pages, cycles, nesting far deeper than any real file.
    Case("zero-pages.pdf", _bytes(corpus.zero_pages), ErrorCode.CORRUPT_FILE),
    Case("cyclic-toc.pdf", _bytes(lambda: corpus.real("cyclic-toc.pdf")), ErrorCode.CORRUPT_FILE),
    Case("cyclic-kids.pdf", _bytes(corpus.cyclic_kids), ErrorCode.CORRUPT_FILE),
    Case(
        "cyclic-kids.pdf",
        _bytes(corpus.cyclic_kids),
        ErrorCode.CORRUPT_FILE,
        engine="layout",
        pipeline=False,
    ),
    Case("cyclic-parent.pdf", _bytes(corpus.cyclic_parent), 1, contains=corpus.TEXT),
    # MuPDF cannot load the over-deep page object: a page without text, so a document without
    # any (CORRUPT_FILE, "MuPDF could not read the pages' content"), not an empty success.
    Case("deep-arrays.pdf", _bytes(corpus.deep_arrays), ErrorCode.CORRUPT_FILE),
    Case(
        "deep-arrays.pdf",
        _bytes(corpus.deep_arrays),
        ErrorCode.CORRUPT_FILE,
        engine="layout",
        pipeline=False,
    ),
    Case("deep-dicts.pdf", _bytes(corpus.deep_dicts), ErrorCode.CORRUPT_FILE),
    Case("content-stream-errors.pdf", _bytes(lambda: corpus.real("content-stream-errors.pdf")), 4),
    # Repaired by MuPDF, and no text left in it.
    Case(
        "fuzzed.pdf",
        _bytes(lambda: corpus.real("pikepdf-fuzz-378014596.pdf")),
        ErrorCode.CORRUPT_FILE,
    ),
    # Active content and odd resources: read as text, never run or unpacked.
    Case("javascript.pdf", _bytes(corpus.javascript), 1, contains=corpus.TEXT, never="alert"),
    Case(
        "javascript.pdf",
        _bytes(corpus.javascript),
        1,
        engine="layout",
        contains=corpus.TEXT,
        never="alert",
        pipeline=False,
    ),
    Case(
        "attachments.pdf", _bytes(corpus.embedded_file), 1, contains="attachments", never="rm -rf"
    ),
    Case("broken-font.pdf", _bytes(corpus.broken_font), 1, contains=corpus.TEXT),
    # Size: enormous pages, decompression bombs, thousands of pages.
    Case("page-14400pt.pdf", _bytes(lambda: corpus.huge_mediabox(14_400)), 1, contains=corpus.TEXT),
    Case(
        "page-14400pt.pdf",
        _bytes(lambda: corpus.huge_mediabox(14_400)),
        1,
        engine="layout",
        pipeline=False,
    ),
    Case(
        "page-10000000pt.pdf",
        _bytes(lambda: corpus.huge_mediabox(10_000_000)),
        1,
        contains=corpus.TEXT,
    ),
    Case(
        "page-10000000pt.pdf",
        _bytes(lambda: corpus.huge_mediabox(10_000_000)),
        ErrorCode.CORRUPT_FILE,
        engine="layout",
        pipeline=False,
    ),
    # OCR'd, subsampled, ~200 MB; a uniform image holds no text: CORRUPT_FILE.
    Case("image-bomb-1gib.pdf", _bytes(corpus.image_bomb), ErrorCode.CORRUPT_FILE),
    Case(
        "image-bomb-1gib.pdf",
        _bytes(corpus.image_bomb),
        ErrorCode.CORRUPT_FILE,  # pymupdf4llm: "bad image data", after ~11 s and ~1.2 GB
        engine="layout",
        pipeline=False,
    ),
    Case(
        "image-bomb-60000px.pdf",
        _bytes(lambda: corpus.image_bomb(60_000, 16 << 20)),
        ErrorCode.CORRUPT_FILE,
    ),
    Case(
        "image-bomb-60000px.pdf",
        _bytes(lambda: corpus.image_bomb(60_000, 16 << 20)),
        ErrorCode.CORRUPT_FILE,
        engine="layout",
        pipeline=False,
    ),
    Case("png-bomb.png", _bytes(corpus.png_bomb), ErrorCode.FAILED_TO_CONVERT_TO_PDF),
    Case(
        "pages-3000.pdf",
        _bytes(lambda: corpus.many_pages(3000)),
        3000,
        contains="Page 3000",
        pipeline=False,  # parsed in a second; embedding its 160 chunks would take 12 more
    ),
    Case(
        "pages-3000.pdf",
        _bytes(lambda: corpus.many_pages(3000)),
        3000,
        engine="layout",
        options={"max_pages": 5},  # the rest are "skipped" pages, counted
        pipeline=False,
    ),
    # Last: the worker it kills takes the layout model with it.
    Case(
        "pages-3000.pdf",
        _bytes(lambda: corpus.many_pages(3000)),
        ErrorCode.PARSE_TIMEOUT,
        engine="layout",
        options={"timeout_s": 3.0, "timeout_per_page_s": 0.0},  # no allowance per page
        pipeline=False,
    ),
]


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    pool = ParserPool(workers=1, memory_limit_mb=MEMORY_LIMIT_MB)
    yield pool
    pool.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_input_has_its_documented_outcome(
    case: Case, pool: ParserPool, tmp_path: Path
) -> None:
    path = tmp_path / case.name
    case.write(path)
    options = ParseOptions(
        engine=case.engine,
        isolate=True,
        **{"timeout_s": TIMEOUT_S, **case.options},
    )
    started = time.perf_counter()
    try:
        outcome: ParseResult | DocIngestError = pool.parse(path, case.name, options)
    except DocIngestError as error:
        outcome = error
    elapsed = time.perf_counter() - started
    assert elapsed < options.timeout_s + 10  # the limit holds (killing a worker takes a moment)
    if isinstance(case.outcome, ErrorCode):
        assert isinstance(outcome, DocIngestError), f"parsed, expected {case.outcome}"
        assert outcome.code is case.outcome, outcome.message
        assert outcome.retryable is case.outcome.retryable
        text = outcome.message
    else:
        assert isinstance(outcome, ParseResult), f"{outcome}"
        assert outcome.page_count == case.outcome
        parsed = case.options.get("max_pages", case.outcome)
        assert outcome.usage["pages"] == parsed and outcome.usage["failed_pages"] == 0
        text = outcome.markdown
        if case.contains:
            assert case.contains in text
    if case.never:
        assert case.never not in text


PIPELINE_CASES = {case.name: case for case in CASES if case.pipeline}


@pytest.mark.slow
def test_hostile_inputs_beside_a_good_document(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """One ingestion of every input, with the pipeline's defaults (fast engine): each hostile
    file gets its outcome and the good neighbour is indexed as if it were alone."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    for case in PIPELINE_CASES.values():
        case.write(folder / case.name)
    good = "good.pdf"
    (folder / good).write_bytes(corpus.good_pdf(GOOD_LINES))
    parser = ParserResource(engine="fast", timeout_s=TIMEOUT_S, memory_limit_mb=MEMORY_LIMIT_MB)

    started = time.perf_counter()
    summary = ingest_folder(instance, folder, overrides={"parser": parser})
    elapsed = time.perf_counter() - started

    store = DocumentStore(home)
    for name, case in PIPELINE_CASES.items():
        state = read_state(store, name)
        if isinstance(case.outcome, ErrorCode):
            assert state.status == "failed", (name, state)
            assert state.error.code == case.outcome.value, (name, state.error)
            assert state.error.retryable is case.outcome.retryable
        else:
            assert state.status == "succeeded", (name, state)
            assert state.pages == case.outcome
    failing = sum(isinstance(c.outcome, ErrorCode) for c in PIPELINE_CASES.values())
    assert (summary.failed, summary.succeeded) == (failing, len(PIPELINE_CASES) - failing + 1)
    assert read_state(store, good).status == "succeeded"
    (hit,) = search_points("which soup does the cafeteria serve on Tuesdays", top_k=1)
    assert hit["document_id"] == good
    # Every failure is a property of its file: nothing was retried.
    (run,) = instance.get_runs()
    kinds = {
        e.dagster_event.event_type_value for e in instance.all_logs(run.run_id) if e.dagster_event
    }
    assert "STEP_UP_FOR_RETRY" not in kinds
    assert elapsed < 180
