"""The ONNX backend: exported once, checked against torch, the same vectors, reused."""

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docingest import onnx_model
from docingest.cores import available_cores
from docingest.embedding import DEFAULT_MODEL, _load_minilm, _load_minilm_onnx, _minilm_path
from docingest.onnx_model import (
    MIN_INT8_PROBE_COSINE,
    OnnxSentenceModel,
    cache_key,
    int8_files,
    load_onnx,
)
from tests.conftest import CORPUS

TEXTS = [
    "Inspect the turbine blades every spring.",
    "Which errors are retryable?",
    "Un texte en français, avec des accents.",
    "word " * 600,  # beyond the 256 word pieces the model reads
]

RETRIEVAL = CORPUS.parents[1] / "retrieval"
DOC = "mmlongbench/pdfs/2303.05039v2.pdf"  # 9 pages of a real paper: text, tables, figures
# int8 against fp32 on real chunks (bench/embed_bench.py measures min ~0.98, mean ~0.99).
MIN_REAL_COSINE = 0.97
MEAN_REAL_COSINE = 0.985

# These tests load the real model (torch and its ONNX export) to compare their vectors.
pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def torch_model() -> Any:
    return _load_minilm()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_export_matches_torch_and_is_reused(torch_model: Any, cache: Path) -> None:
    model = load_onnx(_minilm_path(), cache, 256, lambda: torch_model)
    assert isinstance(model, OnnxSentenceModel)
    ours = model.encode(TEXTS)
    theirs = np.asarray(torch_model.encode(TEXTS, normalize_embeddings=True))
    assert ours.shape == theirs.shape == (4, 384)
    assert float((ours * theirs).sum(axis=1).min()) > 0.9999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)

    exported = cache / cache_key() / "model.onnx"
    stamp = exported.stat().st_mtime_ns

    def no_reference() -> Any:
        raise AssertionError("a verified export must load without the torch model")

    again = load_onnx(_minilm_path(), cache, 256, no_reference)
    assert exported.stat().st_mtime_ns == stamp
    assert np.allclose(again.encode(TEXTS[:1]), ours[:1], atol=1e-6)
    assert again.token_counts(["hello world", "word " * 600]) == [4, 602]
    # Each run on its caller's thread alone; one caller per core.
    assert again._session.get_session_options().intra_op_num_threads == 1
    assert again.callers == available_cores()


def test_an_export_that_disagrees_is_refused(tmp_path: Path, torch_model: Any) -> None:
    class Wrong:
        def encode(self, texts: list[str], **_: Any) -> np.ndarray:
            vectors = np.random.default_rng(0).normal(size=(len(texts), 384))
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    with pytest.raises(RuntimeError, match="disagrees"):
        load_onnx(_minilm_path(), tmp_path, 256, Wrong)
    assert not (tmp_path / cache_key() / "verified.json").exists()


def test_each_text_runs_alone_on_one_caller_per_core_and_vectors_do_not_change(
    cache: Path, torch_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every text goes to the model on its own, unpadded, and several callers run texts at
    once; the vectors are those of one caller and those of the torch model."""
    import pymupdf

    from tests.conftest import corpus_pdf

    with pymupdf.open(corpus_pdf("01030000000001.pdf")) as doc:
        words = doc[0].get_text().split()
    # Real text cut into pieces from a few words to past the model's window.
    texts = [" ".join(words[i : i + 4 + 37 * (i % 9)]) for i in range(0, 120, 3)]
    texts += [" ".join(words[i : i + 6]) for i in range(0, 240, 6)]
    model = load_onnx(_minilm_path(), cache, 256, lambda: torch_model)
    runs: list[tuple[tuple[int, ...], str]] = []
    pooled = model._pooled

    def recording(ids: np.ndarray) -> np.ndarray:
        runs.append((ids.shape, threading.current_thread().name))
        return pooled(ids)

    monkeypatch.setattr(model, "_pooled", recording)
    model.callers = 2
    together = model.encode(texts, batch_size=32)
    assert len(runs) == len(texts) and {shape[0] for shape, _ in runs} == {1}
    counts = model.token_counts(texts)
    assert sorted(shape[1] for shape, _ in runs) == sorted(min(n, 256) for n in counts)
    assert max(counts) > 256  # some texts fill the window (and are cut there)
    assert len({thread for _, thread in runs}) == 2
    model.callers = 1
    alone = model.encode(texts, batch_size=1)
    assert np.allclose(together, alone, atol=1e-6)
    reference = torch_model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert (together * reference).sum(axis=1).min() > 0.9999


# --- int8 ---------------------------------------------------------------------------------


def test_int8_is_derived_verified_and_reused(
    torch_model: Any, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fp32 = load_onnx(_minilm_path(), cache, 256, lambda: torch_model)
    model = load_onnx(_minilm_path(), cache, 256, lambda: torch_model, "int8")
    assert model.precision == "int8" and fp32.precision == "fp32"
    target, verdict_file = int8_files(cache / cache_key())
    verdict = json.loads(verdict_file.read_text())
    assert verdict["ok"] and verdict["min_cosine"] >= MIN_INT8_PROBE_COSINE == verdict["floor"]
    assert target.stat().st_size < (cache / cache_key() / "model.onnx").stat().st_size / 3
    ours, theirs = model.encode(TEXTS), fp32.encode(TEXTS)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > MIN_INT8_PROBE_COSINE and cosine.max() < 0.99999  # near, not equal
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)

    stamp = target.stat().st_mtime_ns

    def no_build(*_: Any) -> None:
        raise AssertionError("a verified int8 model must load without being built again")

    monkeypatch.setattr(onnx_model, "quantize_int8", no_build)
    again = load_onnx(_minilm_path(), cache, 256, lambda: torch_model, "int8")
    assert target.stat().st_mtime_ns == stamp and again.precision == "int8"
    assert np.allclose(again.encode(TEXTS), ours, atol=1e-6)
    assert not list((cache / cache_key()).glob(".int8-*"))  # no work folder left behind


def test_a_refused_int8_model_falls_back_to_fp32(
    torch_model: Any,
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed verification is kept (no process builds it again) and the embedder loads fp32,
    saying so in the log."""
    load_onnx(_minilm_path(), cache, 256, lambda: torch_model)  # the fp32 export, verified
    home = tmp_path / "home"
    folder = home / "models" / DEFAULT_MODEL / cache_key()
    folder.mkdir(parents=True)
    for name in ("model.onnx", "verified.json"):  # this home's export: the verified one
        (folder / name).symlink_to(cache / cache_key() / name)
    monkeypatch.setattr(onnx_model, "MIN_INT8_PROBE_COSINE", 1.01)  # nothing can pass
    with pytest.raises(RuntimeError, match="disagrees with fp32"):
        load_onnx(_minilm_path(), home / "models" / DEFAULT_MODEL, 256, lambda: torch_model, "int8")
    target, verdict_file = int8_files(folder)
    assert not target.exists()
    assert json.loads(verdict_file.read_text())["ok"] is False

    def no_build(*_: Any) -> None:
        raise AssertionError("a refused int8 model must not be built again")

    monkeypatch.setattr(onnx_model, "quantize_int8", no_build)
    monkeypatch.setenv("DOCINGEST_HOME", str(home))
    with caplog.at_level(logging.WARNING, logger="docingest.embedding"):
        model = _load_minilm_onnx("int8")
    assert model.precision == "fp32"
    assert "int8 embedding model unavailable" in caplog.text and "refused" in caplog.text
    assert np.allclose(model.encode(TEXTS[:2]), torch_model.encode(TEXTS[:2]), atol=1e-4)


def test_int8_agrees_with_fp32_on_real_chunks(torch_model: Any, cache: Path) -> None:
    """The pipeline's default chunks of a real filing and a real report: int8 vectors stay
    near fp32's (floors below what bench/embed_bench.py measures), and rank like them."""
    from docingest.chunking import embedding_text
    from docingest.parsing import ParseOptions, parse_file
    from resources.chunker import ChunkerResource

    chunker = ChunkerResource()
    settings = chunker.resolve()
    texts: list[str] = []
    for pdf in (RETRIEVAL / "docugami-sec10q/pdfs/2022 Q3 AAPL.pdf", RETRIEVAL / DOC):
        if not pdf.exists():
            pytest.fail(f"the shared corpus is missing {pdf}")
        parsed = parse_file(pdf, document_id=pdf.name, options=ParseOptions(engine="fast"))
        contextual = bool(settings.params.get("contextual_prefix"))
        texts += [embedding_text(c, contextual) for c in chunker.chunk(parsed, settings)]
    assert len(texts) > 100
    fp32 = load_onnx(_minilm_path(), cache, 256, lambda: torch_model)
    int8 = load_onnx(_minilm_path(), cache, 256, lambda: torch_model, "int8")
    ours, theirs = int8.encode(texts), fp32.encode(texts)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= MIN_REAL_COSINE and cosine.mean() >= MEAN_REAL_COSINE
    # Each chunk, used as a query against the others: the same nearest neighbour mostly
    # (measured 0.835 of 267 chunks; a 10-Q's table chunks have near twins, so ties flip).
    same = (ours @ ours.T - 2 * np.eye(len(texts))).argmax(axis=1) == (
        theirs @ theirs.T - 2 * np.eye(len(texts))
    ).argmax(axis=1)
    assert same.mean() >= 0.8
