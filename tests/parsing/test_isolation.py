"""Parsing in worker processes: results, time limit, a dying worker, parse_many."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pymupdf
import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing import ParseOptions, ParserPool, parse_file, parse_many

FAST = ParseOptions(engine="fast", isolate=True)


@pytest.fixture(scope="module")
def pool() -> object:
    pool = ParserPool(workers=1)
    yield pool
    pool.close()


def _pdf(tmp_path: Path, name: str, text: str) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 100), text, fontsize=12)
    path = tmp_path / name
    doc.save(path)
    return path


def test_a_long_parse_comes_back_in_parts_whole_and_in_order() -> None:
    """A worker sends a parse's pages a few at a time (never the whole parse pickled at once):
    a real 49-page filing comes back as the in-process parse."""
    path = Path(__file__).resolve().parents[3] / (
        "shared/corpus/retrieval/docugami-sec10q/pdfs/2023 Q1 NVDA.pdf"
    )
    if not path.exists():
        pytest.fail(f"the shared corpus is missing {path}")
    isolated = parse_file(path, document_id="nvda", options=FAST)
    here = parse_file(path, document_id="nvda", options=ParseOptions(engine="fast"))
    assert isolated.page_count == len(isolated.pages) == 49 > 32  # runner.PAGES_PER_MESSAGE
    ours, theirs = isolated.to_dict(), here.to_dict()
    for parse in (ours, theirs):
        del parse["usage"]["timings"]
    assert ours == theirs


def test_isolated_parse_matches_in_process(tmp_path: Path) -> None:
    path = _pdf(tmp_path, "a.pdf", "Isolated parsing works.")
    isolated = parse_file(path, document_id="a", options=FAST)
    here = parse_file(path, document_id="a", options=ParseOptions(engine="fast"))
    assert isolated.to_dict()["pages"] == here.to_dict()["pages"]
    assert isolated.options_hash == here.options_hash  # the limits do not change the output


def test_errors_cross_the_process_boundary(tmp_path: Path, pool: ParserPool) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n% nothing else\n")
    with pytest.raises(DocIngestError) as info:
        pool.parse(bad, "bad", FAST)
    assert info.value.code == ErrorCode.CORRUPT_FILE


def test_timeout_kills_the_worker(tmp_path: Path, pool: ParserPool) -> None:
    path = _pdf(tmp_path, "slow.pdf", "Takes longer than a microsecond.")
    with pytest.raises(DocIngestError) as info:
        pool.parse(
            path,
            "slow",
            ParseOptions(engine="fast", isolate=True, timeout_s=1e-6, timeout_per_page_s=0.0),
        )
    assert info.value.code == ErrorCode.PARSE_TIMEOUT and info.value.retryable
    assert "Takes longer" in pool.parse(path, "slow", FAST).markdown  # a fresh worker


def test_a_worker_killed_by_a_signal_fails_only_its_document(
    tmp_path: Path, pool: ParserPool
) -> None:
    path = _pdf(tmp_path, "crash.pdf", "Crash victim.")
    worker = pool._take()
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.join(5)
    with pytest.raises(DocIngestError) as info:
        worker.parse(path, "crash", FAST)
    assert info.value.code == ErrorCode.CORRUPT_FILE and "signal 9" in info.value.message
    with pool._lock:
        pool._started -= 1
        pool._all.remove(worker)
    assert "Crash victim." in pool.parse(path, "crash", FAST).markdown


def test_memory_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b"many words on a line\n" * 2_000_000)  # ~40 MiB of text
    options = ParseOptions(engine="fast", isolate=True, memory_limit_mb=64)
    [(_, outcome)] = list(parse_many([path], options, workers=1))
    assert isinstance(outcome, DocIngestError)
    assert outcome.code == ErrorCode.CORRUPT_FILE and "memory" in outcome.message


def test_parse_many_keeps_order_and_isolates_failures(tmp_path: Path) -> None:
    paths = [_pdf(tmp_path, f"d{i}.pdf", f"Document number {i}.") for i in range(3)]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n% broken\n")
    results = list(parse_many([paths[0], broken, *paths[1:]], FAST, workers=2))
    assert [p for p, _ in results] == [paths[0], broken, *paths[1:]]
    outcomes = [r for _, r in results]
    assert isinstance(outcomes[1], DocIngestError)
    texts = [r.markdown for r in outcomes if not isinstance(r, DocIngestError)]
    assert texts == [f"Document number {i}." for i in range(3)]


def _parse_in_daemon(path: str, queue: object) -> None:
    result = parse_file(Path(path), options=FAST)
    queue.put(result.markdown)  # type: ignore[attr-defined]


def test_a_daemonic_process_parses_in_process(tmp_path: Path) -> None:
    import multiprocessing

    path = _pdf(tmp_path, "daemon.pdf", "Parsed inside a daemon.")
    context = multiprocessing.get_context("forkserver")
    queue = context.Queue()
    child = context.Process(target=_parse_in_daemon, args=(str(path), queue), daemon=True)
    child.start()
    assert queue.get(timeout=60) == "Parsed inside a daemon."
    child.join(10)


def test_the_time_limit_grows_with_the_pages(tmp_path: Path, pool: ParserPool) -> None:
    doc = pymupdf.open()
    for index in range(20):
        doc.new_page().insert_text((72, 72), f"Page {index} of a long report.", fontsize=14)
    path = tmp_path / "long.pdf"
    doc.save(path)
    pool.parse(path, "warm", ParseOptions(engine="fast", isolate=True))  # a started worker
    # OCR makes each page take ~0.1 s: over a 0.3 s limit, within 0.3 s + 20 x 1 s.
    slow = {"engine": "fast", "isolate": True, "ocr_mode": "force", "timeout_s": 0.3}
    with pytest.raises(DocIngestError) as caught:
        pool.parse(path, "long", ParseOptions(**slow, timeout_per_page_s=0.0))
    assert caught.value.code == ErrorCode.PARSE_TIMEOUT
    assert "limit of 0.3 s" in caught.value.message
    pool.parse(path, "warm", ParseOptions(engine="fast", isolate=True))  # replaces the killed one
    result = pool.parse(path, "long", ParseOptions(**slow, timeout_per_page_s=1.0))
    assert result.page_count == 20 and result.usage["ocr_pages"] == 20
