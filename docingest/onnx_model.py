"""A sentence-transformers BERT model run by onnxruntime: the same vectors, less CPU.

The ONNX graph is exported once from the local weights (torch is installed for that) into a
cache folder, checked against the torch model on probe sentences, and reused by every later
process. Inference needs only onnxruntime, the `tokenizers` library and numpy. `OnnxSentenceModel`
answers the part of SentenceTransformer's interface that `Embedder` uses.

The int8 variant is derived from that export in the same folder, also once: the BERT graph's
attention, layer norms and GELU fused by onnxruntime's transformer optimizer, then its weights
quantized to int8 per output channel (activations quantized at run time). It is checked against
the fp32 export on the probes (`MIN_INT8_PROBE_COSINE`); a verdict is kept either way, so a
failed build is not retried by every process.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np

from docingest.cores import available_cores

# Bump when the export changes; part of the cache key with the library versions.
EXPORT_VERSION = "1"
# Bump when the int8 recipe changes; part of the int8 file names (the export's folder is kept).
QUANTIZE_VERSION = "1"
Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "int8")
_PROBES = (
    "Which errors are retryable?",
    "Re-chunking reads the stored parse and never parses again.",
    "Le modèle lit au plus 256 pièces de mots ; le reste est coupé.",
    " ".join(["A long text that runs past the model's window."] * 60),
)
MIN_PROBE_COSINE = 0.9999
# The int8 model against the fp32 export on the probes. Quantized weights move a vector a little
# (min 0.98x, mean 0.99x on real chunks, bench/embed_bench.py); a broken recipe lands far lower.
MIN_INT8_PROBE_COSINE = 0.98


# How the model runs (bench/embed_bench.py): each text on its own, several texts at once on one
# thread each. One text per run pads nothing and keeps the model's working memory in a core's
# cache; batches of texts sorted by length (up to 2,048 word pieces, padding included), run on
# every core by the session's own threads, took 2.6x (int8) and 1.9x (fp32) as long on 1,032
# real chunks on 2 cores. With int8 a text's vector also no longer depends on its neighbours
# (activations are quantized per run).
class OnnxSentenceModel:
    """Mean-pooled, optionally normalized BERT embeddings from an exported ONNX graph."""

    def __init__(
        self,
        onnx_path: Path,
        model_dir: Path,
        max_seq_length: int,
        precision: Precision = "fp32",
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        # Each run on the calling thread alone; `callers` threads run texts at once (the
        # session is thread-safe and shares its weights between them).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.callers = available_cores()
        self._threads: ThreadPoolExecutor | None = None
        self._threads_lock = threading.Lock()
        self._session = onnxruntime.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.max_seq_length = max_seq_length
        self.precision = precision
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        self.tokenizer.no_padding()
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
        """One vector per text. Each text runs through the model alone (see the note at the
        top); `callers` threads run texts at once, the longest first, so they end together.
        `batch_size` is SentenceTransformer's argument, of no use here."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        encoded = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))

        def run(indices: Sequence[int]) -> None:
            for i in indices:
                out[i] = self._pooled(np.array([encoded[i]], dtype=np.int64))[0]

        callers = min(self.callers, len(order))
        if callers <= 1:
            run(order)
        else:
            # Every caller takes every n-th text of the longest-first order: even shares.
            shares = [order[k::callers] for k in range(callers)]
            for done in [self._pool().submit(run, share) for share in shares]:
                done.result()
        if normalize_embeddings:
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out

    def _pool(self) -> ThreadPoolExecutor:
        """The `callers` threads, started on the first call that needs them."""
        with self._threads_lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(
                    self.callers, thread_name_prefix="docingest-embed"
                )
            return self._threads

    def _pooled(self, ids: np.ndarray) -> np.ndarray:
        """The mean of the token embeddings, one row per text (the rows unpadded)."""
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        pooled: np.ndarray = hidden.mean(axis=1)
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
    precision: Precision = "fp32",
) -> OnnxSentenceModel:
    """The ONNX model for `model_dir` at `precision`. The first process exports it and checks
    it against `reference()` (the torch model) on probe sentences; later ones load it without
    torch. Raises RuntimeError when the two disagree, so callers fall back to torch; for int8,
    when the int8 model was refused (now or by an earlier process), so callers use fp32."""
    folder = cache_dir / cache_key()
    target, verified = folder / "model.onnx", folder / "verified.json"
    if not (target.exists() and verified.exists()):
        export_onnx(model_dir, target)
        model = OnnxSentenceModel(target, model_dir, max_seq_length)
        ours = model.encode(list(_PROBES))
        theirs = np.asarray(reference().encode(list(_PROBES), normalize_embeddings=True))
        cosine = float((ours * theirs).sum(axis=1).min())
        if cosine < MIN_PROBE_COSINE:
            raise RuntimeError(f"ONNX export disagrees with torch (min cosine {cosine:.6f})")
        _write_atomic(verified, {"min_cosine": cosine, "probes": len(_PROBES)})
        if precision == "fp32":
            return model
    elif precision == "fp32":
        return OnnxSentenceModel(target, model_dir, max_seq_length)
    return _load_int8(model_dir, folder, max_seq_length)


def int8_files(folder: Path) -> tuple[Path, Path]:
    """The int8 model and its verdict (`{"ok", "min_cosine", ...}`) in an export's folder."""
    stem = f"model.int8-q{QUANTIZE_VERSION}"
    return folder / f"{stem}.onnx", folder / f"{stem}.json"


def _load_int8(model_dir: Path, folder: Path, max_seq_length: int) -> OnnxSentenceModel:
    target, verdict_file = int8_files(folder)
    if verdict_file.exists():
        verdict = json.loads(verdict_file.read_text())
        if verdict.get("ok") and target.exists():
            return OnnxSentenceModel(target, model_dir, max_seq_length, "int8")
        if not verdict.get("ok"):
            raise RuntimeError(
                f"the int8 model was refused when it was built: min cosine to fp32 "
                f"{verdict.get('min_cosine')} < {verdict.get('floor')} ({verdict_file})"
            )
    quantize_int8(model_dir, folder / "model.onnx", target)
    model = OnnxSentenceModel(target, model_dir, max_seq_length, "int8")
    fp32 = OnnxSentenceModel(folder / "model.onnx", model_dir, max_seq_length)
    cosine = float((model.encode(list(_PROBES)) * fp32.encode(list(_PROBES))).sum(axis=1).min())
    ok = cosine >= MIN_INT8_PROBE_COSINE
    _write_atomic(
        verdict_file,
        {"ok": ok, "min_cosine": cosine, "floor": MIN_INT8_PROBE_COSINE, "probes": len(_PROBES)},
    )
    if not ok:
        target.unlink(missing_ok=True)
        raise RuntimeError(
            f"the int8 model disagrees with fp32 (min cosine {cosine:.4f} < "
            f"{MIN_INT8_PROBE_COSINE}); refused"
        )
    return model


def quantize_int8(model_dir: Path, source: Path, target: Path) -> None:
    """Derive the int8 model from the fp32 export: fuse the BERT graph (attention, layer norm,
    GELU), then quantize its weights to int8 per output channel; activations are quantized
    dynamically at run time. Written atomically like the export."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((model_dir / "config.json").read_text())
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".int8-"))
    try:
        fused = optimize_model(
            str(source),
            model_type="bert",
            num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
            opt_level=1,
        )
        fused.save_model_to_file(str(work / "fused.onnx"))
        quantize_dynamic(
            work / "fused.onnx",
            work / "int8.onnx",
            weight_type=QuantType.QInt8,
            per_channel=True,
            # Tensors whose type the fused graph leaves unknown are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(work / "int8.onnx", target)  # concurrent builders: the last complete wins
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_atomic(path: Path, record: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json.tmp")
    with os.fdopen(fd, "w") as out:
        json.dump(record, out)
    os.replace(tmp, path)
