"""Retrieval quality end to end: docingest (dense, sparse, hybrid) beside two baselines.

Run from the repository root:

    .venv/bin/python -m bench.retrieval_bench --parses DIR [--sets mmlongbench,docugami-sec10q]
        [--cache DIR] [--precisions fp32,int8] [--no-baselines]
        [--out bench/results/retrieval.json]

`--parses DIR` holds `docingest parse --format json` output per set (`DIR/<set>/<stem>.json`):
parsing the 3,336 pages with the layout engine takes ~40 min on 2 cores, so it is done once and
timed separately (`--parse-seconds SET=S` adds it to the set's ingest time).

Pipelines, all on the same PDFs and questions (`../shared/corpus/retrieval/`):
- `bm25_pages`: BM25 over whole PyMuPDF pages (`page.get_text()`).
- `tutorial`: PyMuPDF page text -> LangChain RecursiveCharacterTextSplitter(1000, 200) ->
  all-MiniLM-L6-v2 -> exact cosine.
- `docingest-<mode>`: the pipeline's own chunking defaults over the parse, the embedded text
  `docingest.chunking.embedding_text` makes, the BM25 vectors `docingest.sparse` makes, written
  into the embedded store (`docingest.vectorstore.open_store`) and searched there by mode.

mmlongbench questions do not name their document: each is asked both within its gold document
(a document filter) and over all 46 (`mmlongbench-all`). Scores come from
`../shared/tools/retrieval_score.py`. Embeddings are cached by text under `--cache`, so a
re-run only embeds texts it has not seen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from docingest.vectorstore import DEFAULT_FUSION

CORPUS = Path("../shared/corpus/retrieval")
SCORER = Path("../shared/tools/retrieval_score.py")
SETS = {"mmlongbench": "mmlongbench", "docugami-sec10q": "docugami-sec10q"}
TOP_K = 10

Hit = dict[str, Any]


class EmbeddingCache:
    """Vectors by sha256 of the embedded text, kept in one .npz per model and precision between
    runs."""

    def __init__(self, folder: Path, model: str, precision: str = "fp32") -> None:
        from docingest.embedding import get_embedder

        stem = f"embeddings-{model}" + ("" if precision == "fp32" else f"-{precision}")
        self.path = folder / f"{stem}.npz"
        self.embedder = get_embedder(model, precision=precision)
        if self.embedder.precision != precision:
            raise SystemExit(f"the {precision} model could not be loaded (see the log above)")
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as stored:
                self.vectors = {key: stored[key] for key in stored.files}
        self.stats_path = folder / f"{stem}.stats.json"
        stats = json.loads(self.stats_path.read_text()) if self.stats_path.exists() else {}
        self.computed = int(stats.get("computed", 0))  # over every run: the measured rate
        self.seconds = float(stats.get("seconds", 0.0))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        fresh_texts = {k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}
        missing = sorted(fresh_texts.items())
        if missing:
            started = time.perf_counter()
            for start in range(0, len(missing), 512):
                part = missing[start : start + 512]
                fresh = self.embedder.embed([t for _, t in part])
                self.vectors.update(
                    {k: np.asarray(v, "float32") for (k, _), v in zip(part, fresh, strict=True)}
                )
                self.seconds += time.perf_counter() - started
                self.computed += len(part)
                started = time.perf_counter()
                self.save()  # a long run that is stopped keeps what it embedded
                print(f"  embedded {start + len(part)}/{len(missing)}", file=sys.stderr, flush=True)
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, 1), "float32")

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(self.path.with_suffix(".tmp.npz"), **self.vectors)
        self.path.with_suffix(".tmp.npz").replace(self.path)
        self.stats_path.write_text(json.dumps({"computed": self.computed, "seconds": self.seconds}))


def load_questions(set_name: str) -> list[dict[str, Any]]:
    path = CORPUS / set_name / "questions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def page_texts(pdf: Path) -> list[str]:
    """PyMuPDF's plain page text, as the baselines read it."""
    import pymupdf

    with pymupdf.open(pdf) as doc:
        return [page.get_text() for page in doc]


class SparseIndex:
    """Exact BM25 over in-memory sparse vectors: `docingest.sparse` vectors, corpus IDF."""

    def __init__(self, vectors: Sequence[tuple[list[int], list[float]]]) -> None:
        from scipy import sparse

        rows, cols, values, vocab = [], [], [], {}
        for row, (indices, weights) in enumerate(vectors):
            for index, weight in zip(indices, weights, strict=True):
                rows.append(row)
                cols.append(vocab.setdefault(index, len(vocab)))
                values.append(weight)
        shape = (len(vectors), max(len(vocab), 1))
        self.matrix = sparse.csr_matrix((values, (rows, cols)), shape=shape)
        self.vocab = vocab
        df = np.bincount(cols, minlength=shape[1]) if cols else np.zeros(shape[1])
        n = len(vectors)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query_indices: Iterable[int]) -> np.ndarray:
        columns = [self.vocab[i] for i in set(query_indices) if i in self.vocab]
        if not columns:
            return np.zeros(self.matrix.shape[0])
        part = self.matrix[:, columns] @ self.idf[columns]
        return np.asarray(part).ravel()


def top_hits(scores: np.ndarray, meta: Sequence[Hit], allowed: np.ndarray | None) -> list[Hit]:
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:TOP_K]
    return [meta[i] for i in order if np.isfinite(scores[i])]


def question_scopes(set_name: str, questions: list[dict[str, Any]]) -> dict[str, list[dict]]:
    """Scope name -> questions; mmlongbench is asked within the gold document and over all."""
    if set_name == "mmlongbench":
        return {"mmlongbench-in-doc": questions, "mmlongbench-all": questions}
    return {set_name: questions}


def score(questions_path: Path, results: dict[str, list[Hit]], folder: Path, name: str) -> dict:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"id": q, "hits": h}) + "\n" for q, h in results.items()))
    out = subprocess.run(
        [sys.executable, str(SCORER), str(questions_path), str(path), "--json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)


Searcher = Callable[[dict[str, Any], str | None], list[Hit]]


def run_questions(scope: str, questions: list[dict[str, Any]], search: Searcher) -> dict:
    """Each question's top hits; within-document scopes pass the gold document as a filter."""
    within = scope.endswith("-in-doc")
    return {q["id"]: search(q, q["doc"] if within else None) for q in questions}


def baselines(
    pdfs: list[Path], cache: EmbeddingCache
) -> tuple[dict[str, Searcher], dict[str, float]]:
    """BM25 over pages and the tutorial pipeline over the same PDFs; (searchers, seconds)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from docingest.sparse import Bm25Encoder

    started = time.perf_counter()
    pages: list[tuple[str, int, str]] = []
    for pdf in pdfs:
        pages.extend((pdf.name, n, text) for n, text in enumerate(page_texts(pdf), 1))
    text_seconds = time.perf_counter() - started

    started = time.perf_counter()
    lengths = [max(1, len(t.split())) for _, _, t in pages]
    bm25 = Bm25Encoder(avg_len=float(np.mean(lengths)))
    page_index = SparseIndex([bm25.document(t) for _, _, t in pages])
    page_meta = [{"document": d, "page_start": n, "page_end": n} for d, n, _ in pages]
    page_docs = np.array([d for d, _, _ in pages])
    bm25_seconds = time.perf_counter() - started

    started = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = [(d, n, piece) for d, n, t in pages for piece in splitter.split_text(t)]
    before = cache.seconds
    matrix = cache.embed([c for _, _, c in chunks])
    tutorial_embed = cache.seconds - before
    chunk_meta = [{"document": d, "page_start": n, "page_end": n} for d, n, _ in chunks]
    chunk_docs = np.array([d for d, _, _ in chunks])
    tutorial_seconds = time.perf_counter() - started
    print(f"  tutorial: {len(chunks)} chunks of {len(pages)} pages", file=sys.stderr)

    def bm25_search(q: dict[str, Any], doc: str | None) -> list[Hit]:
        allowed = page_docs == doc if doc else None
        return top_hits(page_index.scores(bm25.query(q["question"])[0]), page_meta, allowed)

    def tutorial_search(q: dict[str, Any], doc: str | None) -> list[Hit]:
        vector = np.asarray(cache.embedder.embed_query(q["question"]), "float32")
        allowed = chunk_docs == doc if doc else None
        return top_hits(matrix @ vector, chunk_meta, allowed)

    seconds = {
        "bm25_pages": text_seconds + bm25_seconds,
        "tutorial": text_seconds + tutorial_seconds,
        "tutorial_embed_cached": tutorial_embed < 0.5 * tutorial_seconds,
    }
    print(f"  tutorial embed {tutorial_embed:.0f} s", file=sys.stderr)
    return {"bm25_pages": bm25_search, "tutorial": tutorial_search}, seconds


def docingest_searchers(
    parse_dir: Path,
    cache: EmbeddingCache,
    modes: list[str],
    fusions: list[str],
    strategy: str | None,
    params: dict[str, str],
    home: Path,
    names: set[str],
    label: str = "docingest",
) -> tuple[dict[str, Searcher], float, float]:
    """Index the stored parses the way the pipeline does; one searcher per mode, named
    `<label>-<mode>`; (searchers, seconds from parse to searchable with embedding counted at
    this run's measured rate, those embedding seconds)."""
    from assets.vector_store import embedding_key, index_schema
    from docingest.chunking import embedding_text
    from docingest.filters import Condition
    from docingest.ids import point_id_for
    from docingest.models import ParseResult
    from docingest.payload import EMBED_KEY, point_payload
    from docingest.search import search
    from docingest.sparse import Bm25Encoder
    from docingest.vectorstore import PointData, VectorStore
    from resources.chunker import ChunkerResource

    name, normalized, _ = ChunkerResource().resolve(strategy, params)
    contextual = bool(normalized.get("contextual_prefix"))
    encoder = Bm25Encoder()
    model = cache.embedder.name
    store = VectorStore(collection="bench", path=str(home))
    chunk_seconds = index_seconds = 0.0
    embedded_texts = 0
    failed = sorted(
        p.name for p in parse_dir.glob("*.error.json") if f"{p.name[:-11]}.pdf" in names
    )
    for path in sorted(parse_dir.glob("*.json")):
        if path.name.endswith(".error.json") or f"{path.stem}.pdf" not in names:
            continue
        parsed = ParseResult.from_dict(json.loads(path.read_text()))
        started = time.perf_counter()
        from docingest.chunking import chunk_document

        chunks = chunk_document(parsed, name, normalized)
        texts = [embedding_text(c, contextual) for c in chunks]
        chunk_seconds += time.perf_counter() - started
        if modes == ["sparse"]:  # BM25 only (ablations): no forward passes needed
            vectors = np.full((len(texts), cache.embedder.dimension), 1.0, "float32")
        else:
            vectors = cache.embed(texts)
            embedded_texts += len(texts)
        started = time.perf_counter()
        store.ensure_collection(
            vector_size=cache.embedder.dimension,
            model_name=model,
            index_keys=index_schema({}),
            precision=cache.embedder.precision,
        )
        points = [
            PointData(
                point_id_for(parsed.document_id, c.chunk_index, c.params_hash),
                vector.tolist(),
                {**point_payload(c, {}, model), EMBED_KEY: embedding_key(model, t)},
                encoder.document(t),
            )
            for c, t, vector in zip(chunks, texts, vectors, strict=True)
        ]
        store.replace_document(parsed.document_id, points)
        index_seconds += time.perf_counter() - started
    rate = cache.computed / cache.seconds if cache.seconds else 0.0
    embed_seconds = embedded_texts / rate if rate else 0.0
    print(
        f"  {label}: {store.count()} points, chunk {chunk_seconds:.0f} s, index "
        f"{index_seconds:.0f} s, embed {embed_seconds:.0f} s at {rate:.1f} texts/s "
        f"({cache.embedder.precision}); failed parses: {failed}",
        file=sys.stderr,
    )

    def searcher(mode: str, fusion: str) -> Searcher:
        def run(q: dict[str, Any], doc: str | None) -> list[Hit]:
            filters = (Condition("document_id", (doc,)),) if doc else ()
            hits = search(
                store, cache.embedder.embed_query, q["question"], mode=mode, top_k=TOP_K,
                filters=filters, encoder=encoder, fusion=fusion,
            )  # fmt: skip
            return [
                {"document": h["document_id"], "page_start": h["page_start"],
                 "page_end": h["page_end"]}
                for h in hits
            ]  # fmt: skip

        return run

    searchers = {f"{label}-{mode}": searcher(mode, fusions[0]) for mode in modes}
    if "hybrid" in modes and len(fusions) > 1:  # one hybrid searcher per fusion, named by it
        del searchers[f"{label}-hybrid"]
        searchers.update({f"{label}-hybrid-{f}": searcher("hybrid", f) for f in fusions})
    return searchers, chunk_seconds + index_seconds + embed_seconds, embed_seconds


def _table(results: dict[str, dict[str, dict]], seconds: dict[str, dict[str, float]]) -> str:
    lines = [
        "| set | pipeline | hit@1 | hit@5 | hit@10 | MRR@10 | recall@5 | doc_hit@5 | ingest s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scope, by_pipeline in results.items():
        set_name = "mmlongbench" if scope.startswith("mmlongbench") else scope
        for name, m in by_pipeline.items():
            recall = f"{m['recall@5']:.3f}" if "recall@5" in m else "-"
            ingest = seconds.get(set_name, {}).get(name.split("-")[0] if "-" in name else name)
            lines.append(
                f"| {scope} | {name} | {m['hit@1']:.3f} | **{m['hit@5']:.3f}** | {m['hit@10']:.3f}"
                f" | {m['mrr@10']:.3f} | {recall} | {m['doc_hit@5']:.3f} | "
                f"{'' if ingest is None else f'{ingest:.0f}'} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parses", type=Path, help="DIR/<set>/<stem>.json from docingest parse")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--cache", type=Path, default=Path("bench/results/retrieval-cache"))
    parser.add_argument("--only-baselines", action="store_true")
    parser.add_argument(
        "--no-baselines", action="store_true", help="only docingest (e.g. precisions compared)"
    )
    parser.add_argument(
        "--precisions",
        default="fp32",
        help="embedding precision(s), e.g. fp32,int8: the same chunks indexed once per precision "
        "(searchers docingest-<mode> for fp32, docingest@<precision>-<mode> for the others)",
    )
    parser.add_argument("--max-pages", type=int, help="only documents of at most N pages")
    parser.add_argument("--modes", default="dense,sparse,hybrid")
    parser.add_argument(
        "--fusions", default=DEFAULT_FUSION, help="hybrid's fusion(s), e.g. rrf,dbsf (each run)"
    )
    parser.add_argument("--strategy", default=None, help="chunking strategy (pipeline default)")
    parser.add_argument("--param", action="append", default=[], help="chunking KEY=VALUE")
    parser.add_argument(
        "--parse-seconds", action="append", default=[], help="SET=S: measured parse time"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/retrieval.json"))
    args = parser.parse_args(argv)
    precisions = args.precisions.split(",")
    caches = {p: EmbeddingCache(args.cache, "all-MiniLM-L6-v2", p) for p in {"fp32", *precisions}}
    cache = caches["fp32"]  # the baselines embed as their users do: the model as trained
    parse_seconds = {k: float(v) for k, _, v in (p.partition("=") for p in args.parse_seconds)}
    results: dict[str, dict[str, dict]] = {}
    seconds: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for set_name in args.sets.split(","):
            pdfs = sorted((CORPUS / set_name / "pdfs").glob("*.pdf"))
            questions = load_questions(set_name)
            if args.max_pages:  # a subset: the documents of at most N pages, their questions
                pdfs = [p for p in pdfs if len(page_texts(p)) <= args.max_pages]
                names = {p.name for p in pdfs}
                questions = [q for q in questions if set(q.get("docs") or [q.get("doc")]) <= names]
            qpath = Path(tmp) / f"{set_name}-questions.jsonl"
            qpath.write_text("".join(json.dumps(q) + "\n" for q in questions))
            print(f"{set_name}: {len(pdfs)} PDFs, {len(questions)} questions", file=sys.stderr)
            searchers: dict[str, Searcher] = {}
            seconds[set_name] = {}
            if not args.no_baselines:
                searchers, seconds[set_name] = baselines(pdfs, cache)
            for precision in precisions if not args.only_baselines else []:
                label = "docingest" if precision == "fp32" else f"docingest@{precision}"
                params = dict(p.partition("=")[::2] for p in args.param)
                ours, ours_seconds, embed_seconds = docingest_searchers(
                    args.parses / set_name, caches[precision], args.modes.split(","),
                    args.fusions.split(","), args.strategy, params,
                    Path(tmp) / set_name / precision, {p.name for p in pdfs}, label,
                )  # fmt: skip
                searchers.update(ours)
                seconds[set_name][label] = ours_seconds + parse_seconds.get(set_name, 0.0)
                seconds[set_name][f"{label} embed"] = embed_seconds
            for scope, scoped in question_scopes(set_name, questions).items():
                results[scope] = {}
                for name, search in searchers.items():
                    hits = run_questions(scope, scoped, search)
                    results[scope][name] = score(qpath, hits, Path(tmp), f"{scope}-{name}")
                print(_table({scope: results[scope]}, seconds), file=sys.stderr, flush=True)
    table = _table(results, seconds)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"results": results, "seconds": seconds, "argv": argv or sys.argv[1:]}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
