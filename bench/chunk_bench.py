"""Chunking throughput per strategy, and token_size against LangChain's splitter.

Run from the repository root:

    .venv/bin/python -m bench.chunk_bench [--repeat N] [--pages 330] [--refresh]

Two documents, parsed once with the fast engine and cached as JSON under bench/results/:
(a) the 150 odl-bench PDFs, parsed one by one and concatenated into one 150-page parse result;
(b) one 300+ page PDF bound from the corpus pages with PyMuPDF's `insert_pdf` (the corpus
repeated until `--pages` is reached), parsed as one file. For each, every strategy runs with its
default parameters, best of N; then token_size and LangChain's
`RecursiveCharacterTextSplitter.from_tiktoken_encoder(encoding_name="cl100k_base",
chunk_size=512, chunk_overlap=50)` run alternately on the same text, best of N each.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymupdf
from langchain_text_splitters import RecursiveCharacterTextSplitter

from docingest.chunking import STRATEGIES, chunk_document, coverage_of, document_text
from docingest.models import PageResult, ParseResult
from docingest.parsing import ParseOptions, parse_file
from docingest.tokenizer import get_encoding

DEFAULT_CORPUS = Path("../shared/corpus/odl-bench/pdfs")
RESULTS = Path(__file__).resolve().parent / "results"
OPTIONS = ParseOptions(engine="fast", isolate=False)


def _cached(cache: Path, refresh: bool, make: Callable[[], list[ParseResult]]) -> list[ParseResult]:
    if cache.exists() and not refresh:
        return [ParseResult.from_dict(item) for item in json.loads(cache.read_text())]
    results = make()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps([result.to_dict() for result in results]))
    return results


def concatenate(docs: list[ParseResult], document_id: str) -> ParseResult:
    """The documents' pages, renumbered, as one parse result."""
    pages = [
        PageResult(n, p.width, p.height, p.markdown, p.fragments, p.ocr, p.status, p.error)
        for n, p in enumerate((page for doc in docs for page in doc.pages), start=1)
    ]
    return ParseResult(
        document_id=document_id,
        source=document_id,
        sha256=docs[0].sha256,
        mime_type="application/pdf",
        page_count=len(pages),
        engine=docs[0].engine,
        options_hash=docs[0].options_hash,
        markdown="\n\n".join(page.markdown for page in pages),
        pages=pages,
    )


def odl_document(corpus: Path, refresh: bool) -> ParseResult:
    pdfs = sorted(corpus.glob("*.pdf"))
    docs = _cached(
        RESULTS / "chunk_bench_odl_fast.json",
        refresh,
        lambda: [parse_file(pdf, options=OPTIONS) for pdf in pdfs],
    )
    return concatenate(docs, "odl-bench-concatenated")


def book_document(corpus: Path, pages: int, refresh: bool) -> ParseResult:
    """The corpus PDFs bound into one PDF of `pages` pages, parsed as one file."""
    path = RESULTS / f"chunk_bench_book_{pages}.pdf"

    def make() -> list[ParseResult]:
        pdfs = sorted(corpus.glob("*.pdf"))
        book = pymupdf.open()
        while book.page_count < pages:
            for pdf in pdfs:
                with pymupdf.open(pdf) as src:
                    book.insert_pdf(src)
                if book.page_count >= pages:
                    break
        path.parent.mkdir(parents=True, exist_ok=True)
        book.save(path, garbage=3, deflate=True)
        return [parse_file(path, document_id=path.name, options=OPTIONS)]

    return _cached(RESULTS / f"chunk_bench_book_{pages}_fast.json", refresh, make)[0]


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def bench_strategies(doc: ParseResult, repeat: int) -> list[dict[str, Any]]:
    megabytes = len(document_text(doc).encode("utf-8")) / 1e6
    rows = []
    for strategy in STRATEGIES:
        seconds, chunks = best_of(repeat, functools.partial(chunk_document, doc, strategy, {}))
        rows.append(
            {
                "strategy": strategy,
                "chunks": len(chunks),
                "seconds": seconds,
                "chunks_per_s": len(chunks) / seconds,
                "mb_per_s": megabytes / seconds,
                "max_tokens": max(c.token_count for c in chunks),
                "coverage": coverage_of(doc, chunks),
            }
        )
    return rows


def bench_langchain(doc: ParseResult, repeat: int) -> dict[str, Any]:
    """token_size (from the parse result, with provenance) and LangChain (from the text alone,
    strings only), alternating, best of `repeat` each."""
    text = document_text(doc)
    get_encoding("cl100k_base")  # points tiktoken at the BPE files carried offline
    splitter = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name="cl100k_base", chunk_size=512, chunk_overlap=50
    )
    ours, theirs = float("inf"), float("inf")
    ours_count = theirs_count = 0
    for _ in range(repeat):
        seconds, chunks = best_of(1, lambda: chunk_document(doc, "token_size", {}))
        ours, ours_count = min(ours, seconds), len(chunks)
        seconds, parts = best_of(1, lambda: splitter.split_text(text))
        theirs, theirs_count = min(theirs, seconds), len(parts)
    return {
        "docingest_s": ours,
        "langchain_s": theirs,
        "docingest_chunks": ours_count,
        "langchain_chunks": theirs_count,
        "speedup": theirs / ours,
    }


def _print_table(title: str, doc: ParseResult, rows: list[dict[str, Any]]) -> None:
    text = document_text(doc)
    print(f"\n### {title}: {doc.page_count} pages, {len(text.encode()) / 1e6:.2f} MB of text\n")
    print("| strategy | chunks | best s | chunks/s | MB/s | max tokens | coverage |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['strategy']} | {row['chunks']} | {row['seconds']:.3f} | "
            f"{row['chunks_per_s']:,.0f} | {row['mb_per_s']:.2f} | {row['max_tokens']} | "
            f"{row['coverage']:.4f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs per measure")
    parser.add_argument("--pages", type=int, default=330, help="pages of the bound document")
    parser.add_argument("--refresh", action="store_true", help="parse again, ignore the cache")
    parser.add_argument("--out", type=Path, default=RESULTS / "chunk_bench.json")
    args = parser.parse_args()
    get_encoding("cl100k_base")  # loads the BPE file (offline) before any timing
    docs = {
        "odl-bench, 150 PDFs concatenated": odl_document(args.corpus, args.refresh),
        f"{args.pages}-page bound PDF": book_document(args.corpus, args.pages, args.refresh),
    }
    report: dict[str, Any] = {"machine": platform.platform(), "repeat": args.repeat, "runs": {}}
    for title, doc in docs.items():
        rows = bench_strategies(doc, args.repeat)
        versus = bench_langchain(doc, args.repeat)
        report["runs"][title] = {"pages": doc.page_count, "strategies": rows, "langchain": versus}
        _print_table(title, doc, rows)
        print(
            f"\ntoken_size 512/50: {versus['docingest_s']:.3f} s for {versus['docingest_chunks']} "
            f"chunks with provenance; LangChain from_tiktoken_encoder: {versus['langchain_s']:.3f} "
            f"s for {versus['langchain_chunks']} strings; ratio {versus['speedup']:.2f}x"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nreport: {args.out}")


if __name__ == "__main__":
    main()
