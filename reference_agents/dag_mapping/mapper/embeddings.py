"""Dense retrieval over code chunks with the local all-MiniLM-L6-v2 (``activities.embeddings``,
never downloaded): cosine similarity of a plan node's description to each chunk's text."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from reference_agents.dag_mapping.code_index.model import CodeChunk
from reference_agents.dag_mapping.plans.model import PlanNode

Encoder = Callable[[list[str]], np.ndarray]
"""Texts -> L2-normalised embeddings, one row per text (float32, ``len(texts) x dim``)."""

MAX_CHUNK_CHARS = 600  # MiniLM reads 256 word pieces, about this much code; the rest is cut anyway


def minilm_encoder() -> Encoder:
    """The repository's MiniLM loader (:func:`activities.embeddings.model`) as an :data:`Encoder`.
    Raises FileNotFoundError when no model folder is installed or configured."""
    from activities.embeddings import model

    encoder = model()

    def encode(texts: list[str]) -> np.ndarray:
        return encoder.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)

    return encode


def node_text(node: PlanNode) -> str:
    """A plan node as a sentence for the encoder: kind, tables, columns, constants, aggregates."""
    parts = [node.kind.value]
    for label, values in (
        ("tables", node.tables),
        ("columns", node.columns),
        ("constants", node.constants),
        ("aggregates", node.aggregates),
    ):
        if values:
            parts.append(f"{label} {' '.join(values)}")
    return "; ".join(parts)


class DenseIndex:
    """Embeddings of ``chunks`` (their text, first :data:`MAX_CHUNK_CHARS` characters) by
    ``encoder``; :meth:`scores` are cosine similarities in [-1, 1], aligned with ``chunks``.
    Node descriptions are embedded once each (kept by text), in batches by :meth:`prepare`."""

    def __init__(self, chunks: Sequence[CodeChunk], encoder: Encoder):
        self.chunks = list(chunks)
        self._encoder = encoder
        texts = [chunk.text[:MAX_CHUNK_CHARS] for chunk in self.chunks]
        self._vectors = encoder(texts) if texts else np.zeros((0, 0), dtype=np.float32)
        self._queries: dict[str, np.ndarray] = {}

    def prepare(self, nodes: Iterable[PlanNode]) -> None:
        """Embed, in one batch, the descriptions of ``nodes`` not embedded yet."""
        missing = list(dict.fromkeys(t for t in map(node_text, nodes) if t not in self._queries))
        if missing:
            self._queries.update(zip(missing, self._encoder(missing)))

    def scores(self, node: PlanNode) -> np.ndarray:
        """Cosine similarity of :func:`node_text` of ``node`` to every chunk (float array)."""
        if not self.chunks:
            return np.zeros(0)
        self.prepare([node])
        return (self._vectors @ self._queries[node_text(node)]).astype(np.float64)
