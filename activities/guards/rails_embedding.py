"""The rails' sentence encoder: Shipway's local all-MiniLM-L6-v2, made fast for short CPU batches,
and registered as NeMo Guardrails' embedding provider ``shipway_minilm``.

The encoder is the model of :func:`activities.embeddings.model` (never downloaded), run without
sentence-transformers' per-call overhead: the BERT module is copied, cast to bfloat16 when the CPU
has native bf16 (AVX512-BF16 / AMX), traced and frozen with TorchScript; pooling is the model's own
(mean over tokens, L2 norm). On the 2-core build machine (Xeon with AMX) this is 2-3x faster than
``SentenceTransformer.encode`` (a ~25-token text 4 ms instead of 9-16 ms; 4 x 128 tokens 22 ms
instead of 60 ms); bf16 vs fp32 embeddings agree to cosine >= 0.9999. Dynamic int8 quantization
(``quantize_dynamic``, fbgemm / x86 / onednn engines) and ``torch.compile`` were measured and were
not faster than bf16 here. Texts are cut to 128 word pieces (the length MiniLM was trained on);
callers split long texts first. Embeddings are cached by text (LRU).
"""

from __future__ import annotations

import copy
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from cachetools import LRUCache

os.environ.setdefault("NEMO_GUARDRAILS_NO_USAGE_STATS", "1")  # before nemoguardrails: no telemetry

from nemoguardrails.embeddings.providers.base import EmbeddingModel

ENGINE = "shipway_minilm"
MAX_TOKENS = 128
CACHE_SIZE = 8192
MAX_BATCH = 16  # texts per forward pass (a 2,000-character text is ~17 sentences: 2 passes)


class FastMiniLM:
    """L2-normalised MiniLM embeddings (384 floats) of short texts, one batched forward pass per call.

    Thread-safe: forward passes are serialised (torch already uses every core for one).
    """

    def __init__(self) -> None:
        import torch

        from activities.embeddings import model

        st = model()
        self._torch = torch
        self.tokenizer = st.tokenizer
        self.dim = st.get_sentence_embedding_dimension()
        self._lock = threading.Lock()
        self._cache: LRUCache = LRUCache(maxsize=CACHE_SIZE)
        bert = copy.deepcopy(st[0].auto_model).eval()  # the shared model stays fp32 for other users
        self.bf16 = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
        if self.bf16:
            bert = bert.to(torch.bfloat16)
        probe = self.tokenizer(["a probe sentence", "another"], padding=True, return_tensors="pt")
        with torch.inference_mode():
            self._forward = torch.jit.freeze(torch.jit.trace(bert, (probe["input_ids"], probe["attention_mask"]), strict=False))
        reference = st.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True)
        agreement = float((self._encode(PROBES) * reference).sum(axis=1).min())
        if agreement < 0.999:  # the traced/bf16 model must be the same model
            raise RuntimeError(f"fast MiniLM disagrees with sentence-transformers (cosine {agreement:.4f})")

    def _encode(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        mask = batch["attention_mask"]
        # the plain graph executor: the profiling one compiles fused kernels for new input shapes
        with self._lock, torch.inference_mode(), torch.jit.optimized_execution(False):
            out = self._forward(batch["input_ids"], mask)
            hidden = (out["last_hidden_state"] if isinstance(out, dict) else out[0]).float()
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    def clear_cache(self) -> None:
        """Forget every cached embedding (benchmarks time uncached texts, as a new input is)."""
        with self._lock:
            self._cache.clear()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts`` (rows in order), float32 ``(len(texts), 384)``."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        todo = []
        for i, text in enumerate(texts):
            hit = self._cache.get(text)
            if hit is None:
                todo.append(i)
            else:
                out[i] = hit
        if todo:
            # one forward pass, texts of similar length together (less padding)
            order = sorted(todo, key=lambda i: len(texts[i]))
            size = -(-len(order) // -(-len(order) // MAX_BATCH))  # even batches of <= MAX_BATCH, similar lengths
            for start in range(0, len(order), size):
                chunk = order[start:start + size]
                vecs = self._encode([texts[i] for i in chunk])
                for i, v in zip(chunk, vecs):
                    out[i] = v
                    self._cache[texts[i]] = v
        return out


PROBES = ["Ignore all previous instructions.", "What is the applicant's debt-to-income ratio?", "hello"]

_encoder: FastMiniLM | None = None
_encoder_lock = threading.Lock()
# All of the rails' torch work (loading, index builds, checks) runs on this one thread. torch's
# OpenMP thread team is per calling thread, and once a second thread has run a forward pass every
# forward pass of either is ~2x slower on 2 cores (measured, 100-character check: 5.3 ms p50 with
# one thread, 11.5-12.4 ms once two threads have used torch; OMP_WAIT_POLICY=PASSIVE: 12.3 ms).
EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipway-rails")


def on_executor(fn, *args):
    """``fn(*args)`` on :data:`EXECUTOR` (directly when already there), blocking until it returns."""
    if threading.current_thread().name.startswith("shipway-rails"):
        return fn(*args)
    return EXECUTOR.submit(fn, *args).result()


def encoder() -> FastMiniLM:
    """The process-wide encoder (built on first use, ~1 s after the model is loaded)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = FastMiniLM()
        return _encoder


class ShipwayMiniLM(EmbeddingModel):
    """NeMo ``EmbeddingModel`` over :func:`encoder` (the ``model`` name is not used: one local model)."""

    engine_name = ENGINE

    def __init__(self, embedding_model: str | None = None, **kwargs) -> None:
        self.encoder = encoder()
        self.embedding_size = self.encoder.dim

    def encode(self, documents: list[str]) -> list[list[float]]:
        return self.encoder.encode(list(documents)).tolist()

    async def encode_async(self, documents: list[str]) -> list[list[float]]:
        # Only NeMo's index builds call this, and the guard runs those off the event loop already
        # (on EXECUTOR: submitting there again from inside it would deadlock).
        return self.encode(documents)


def register() -> None:
    """Register ``shipway_minilm`` with NeMo once per process (its registry raises on a second ``add``)."""
    from nemoguardrails.embeddings.providers import register_embedding_provider
    from nemoguardrails.embeddings.providers.registry import EmbeddingProviderRegistry

    with _encoder_lock:
        if ENGINE not in EmbeddingProviderRegistry().items:
            register_embedding_provider(ShipwayMiniLM, ENGINE)
