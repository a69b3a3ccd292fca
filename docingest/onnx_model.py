"""A sentence-transformers BERT model run by onnxruntime: the same vectors, less CPU.

The ONNX graph is exported once from the local weights (torch is installed for that) into a
cache folder, checked against the torch model on probe sentences, and reused by every later
process. Inference needs only onnxruntime, the `tokenizers` library and numpy. `OnnxSentenceModel`
answers the part of SentenceTransformer's interface that `Embedder` uses.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from docingest.cores import available_cores

# Bump when the export changes; part of the cache key with the library versions.
EXPORT_VERSION = "1"
_PROBES = (
    "Which errors are retryable?",
    "Re-chunking reads the stored parse and never parses again.",
    "Le modèle lit au plus 256 pièces de mots ; le reste est coupé.",
    " ".join(["A long text that runs past the model's window."] * 60),
)
MIN_PROBE_COSINE = 0.9999
# Word pieces (padding included) in one batch the model runs: 8 texts at the 256-piece window.
MAX_BATCH_TOKENS = 2048


class OnnxSentenceModel:
    """Mean-pooled, optionally normalized BERT embeddings from an exported ONNX graph."""

    def __init__(self, onnx_path: Path, model_dir: Path, max_seq_length: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = available_cores()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No spin-waiting between operators: in a run the parse workers keep the same cores
        # busy, and spinning threads took their time (`docingest ingest`, 60 documents: 35-37 s
        # without spinning, 40-44 s with; embedding alone: no difference).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.max_seq_length = max_seq_length
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer.enable_padding()
        self._dimension = int(self._session.get_outputs()[0].shape[-1])

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text before truncation (what the model would have to read)."""
        self.tokenizer.no_truncation()
        try:
            return [sum(e.attention_mask) for e in self.tokenizer.encode_batch(list(texts))]
        finally:
            self.tokenizer.enable_truncation(max_length=self.max_seq_length)

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        **_: Any,
    ) -> np.ndarray:
        """One vector per text; texts are sorted by length so batches pad little.

        A batch holds up to `batch_size` texts and at most `MAX_BATCH_TOKENS` word pieces,
        padding included: the model's activations grow with the batch's rows times its length
        squared (attention), and ONNX Runtime keeps the largest it needed for the session's
        life. 32 texts at the 256-piece window took ~800 MB here; under the budget, ~100 MB.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            group = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in group])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            rows = max(1, MAX_BATCH_TOKENS // ids.shape[1])
            for first in range(0, len(group), rows):
                part = slice(first, first + rows)
                # Padding past the part's longest text is masked out anyway: cut it.
                width = int(mask[part].sum(axis=1).max())
                pooled = self._pooled(ids[part, :width], mask[part, :width])
                if normalize_embeddings:
                    pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
                out[group[part]] = pooled
        return out

    def _pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The mean of the token embeddings the mask keeps, one row per text."""
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled: np.ndarray = (hidden * weights).sum(axis=1) / np.clip(
            weights.sum(axis=1), 1e-9, None
        )
        return pooled


def export_onnx(model_dir: Path, target: Path) -> None:
    """Export the transformer of a sentence-transformers folder to ONNX (token embeddings)."""
    import torch
    from transformers import AutoModel

    class TokenEmbeddings(torch.nn.Module):
        """The transformer with keyword inputs and one output, as the export wants it."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = TokenEmbeddings().eval()
    sample = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on opsets and tracing
            torch.onnx.export(
                model,
                (sample, sample, torch.zeros_like(sample)),
                tmp,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "last_hidden_state": axes,
                },
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, target)  # concurrent exporters: the last complete file wins
    finally:
        Path(tmp).unlink(missing_ok=True)


def cache_key() -> str:
    """Export version and library versions, read without importing torch."""
    from importlib.metadata import version

    return f"v{EXPORT_VERSION}-torch{version('torch')}-ort{version('onnxruntime')}"


def load_onnx(
    model_dir: Path,
    cache_dir: Path,
    max_seq_length: int,
    reference: Callable[[], Any],
) -> OnnxSentenceModel:
    """The ONNX model for `model_dir`. The first process exports it and checks it against
    `reference()` (the torch model) on probe sentences; later ones load it without torch.
    Raises RuntimeError when the two disagree, so callers fall back to torch."""
    folder = cache_dir / cache_key()
    target, verified = folder / "model.onnx", folder / "verified.json"
    if target.exists() and verified.exists():
        return OnnxSentenceModel(target, model_dir, max_seq_length)
    export_onnx(model_dir, target)
    model = OnnxSentenceModel(target, model_dir, max_seq_length)
    ours = model.encode(list(_PROBES))
    theirs = np.asarray(reference().encode(list(_PROBES), normalize_embeddings=True))
    cosine = float((ours * theirs).sum(axis=1).min())
    if cosine < MIN_PROBE_COSINE:
        raise RuntimeError(f"ONNX export disagrees with torch (min cosine {cosine:.6f})")
    verified.write_text(json.dumps({"min_cosine": cosine, "probes": len(_PROBES)}))
    return model
