"""The :class:`Embedder` protocol and the normalisation every embedder applies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Embedder", "l2_normalise"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors, so a dot product is a cosine.

    Contract for implementations:

    - ``embed`` returns an array of shape ``(len(texts), dim)``, dtype ``float32``,
      each row L2-normalised (an all-zero row stays zero); an empty ``texts`` gives
      shape ``(0, dim)``.
    - The same text gives the same vector on every call (no sampling), so vectors may
      be cached on disk under :attr:`name`.
    - ``embed`` may block for a while (a model runs on the CPU): call it from a worker
      thread in async code. It must be safe to call from several threads.
    """

    @property
    def name(self) -> str:
        """Identity of the model and its version; part of every cache key built on it."""
        ...

    @property
    def dim(self) -> int:
        """Length of each vector."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed a batch of texts.

        Args:
            texts: The texts, in order.

        Returns:
            A ``(len(texts), dim)`` float32 array of unit-length rows.
        """
        ...


def l2_normalise(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """Rows scaled to unit L2 length, as float32 (all-zero rows stay zero).

    Args:
        vectors: A 2-D array.

    Returns:
        A new float32 array of the same shape.
    """
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out: NDArray[np.float32] = np.zeros_like(matrix)
    np.divide(matrix, norms, out=out, where=norms > 0)
    return out
