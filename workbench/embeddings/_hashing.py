"""``HashingEmbedder``: a deterministic test fake with no semantics and no dependencies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from workbench.embeddings._protocol import l2_normalise

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """A **test fake**: signed feature hashing of lower-cased words into ``dim`` buckets.

    It knows nothing about meaning: two texts are close only when they share words
    (``"car"`` and ``"automobile"`` are unrelated to it). Use it in unit tests that need
    an :class:`~workbench.embeddings.Embedder` but not semantics (chunking, caching,
    fusion plumbing); use :class:`~workbench.embeddings.MiniLMEmbedder` for anything
    that retrieves for real. Deterministic across processes and platforms (BLAKE2b, not
    Python's salted ``hash``), thread-safe, and instant.

    Args:
        dim: Length of each vector.
    """

    def __init__(self, dim: int = 64) -> None:
        if dim < 1:
            raise ValueError("dim must be at least 1")
        self._dim = dim

    @property
    def name(self) -> str:
        """``hashing-test-fake/<dim>``."""
        return f"hashing-test-fake/{self._dim}"

    @property
    def dim(self) -> int:
        """Length of each vector."""
        return self._dim

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed a batch of texts (see the class docstring: no semantics).

        Args:
            texts: The texts, in order.

        Returns:
            A ``(len(texts), dim)`` float32 array of unit-length rows (zero for a text
            with no words).
        """
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.casefold()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dim] += 1.0 if value >> 63 else -1.0
        return l2_normalise(out)
