"""Search tool latency: fused (BM25 + MiniLM, RRF) vs BM25 only vs embeddings only, and build time.

Run: ``.venv/bin/python benchmarks/search_tool.py [--docs N] [--queries N]``. One run:

1. generates a deterministic corpus (``random.Random(7)``): ``--docs`` documents (default
   500) of English-like text, each 1,500-3,500 characters, about 2,300 chunks at the
   tool's 800-character chunks with 200 overlap;
2. loads all-MiniLM-L6-v2 (timed apart: a process pays it once);
3. builds the index into a temporary ``cache_dir`` (timed: chunking, embedding every
   chunk, BM25 postings, the DuckDB file), then opens it again from the cache (timed:
   hashing the corpus; in this process the index files are already open, a new
   process also connects to the DuckDB file and loads ``embeddings.npy``);
4. runs ``--queries`` queries (default 200; a few keywords, some with a rare code) in
   each mode, interleaved, plus the same queries through the tool (``ainvoke``:
   validation, a worker thread, JSON-able results), and reports p50/p95.

The baselines, measured in the same run: embedding the query alone (the floor of any
mode that uses embeddings) and each single mode against the fused one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.embeddings import MiniLMEmbedder
from workbench.tools import ToolContext
from workbench.tools.builtin import Document, SearchIndex, search_tool

TOPICS = {
    "billing": "invoice payment refund charge card receipt subscription price discount credit",
    "shipping": "parcel delivery courier warehouse tracking address package route van customs",
    "devices": "sensor firmware battery fan reboot error overheating cable display button",
    "people": "manager team hiring interview salary holiday onboarding review training office",
    "finance": "revenue quarter growth margin forecast budget cost profit investor report",
    "garden": "tomato basil soil water sunlight compost seed harvest pest flower",
}
GLUE = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "on",
    "with",
    "is",
    "was",
    "that",
    "this",
    "it",
    "by",
    "from",
    "at",
    "as",
    "be",
    "are",
]


def make_corpus(docs: int, rng: random.Random) -> list[Document]:
    documents = []
    topics = list(TOPICS)
    for number in range(docs):
        topic = topics[number % len(topics)]
        words = TOPICS[topic].split()
        target = rng.randint(1500, 3500)
        sentences: list[str] = []
        size = 0
        while size < target:
            picked = [rng.choice(words if rng.random() < 0.45 else GLUE) for _ in range(12)]
            if rng.random() < 0.02:
                picked.append(f"code-{rng.randint(1000, 9999)}")
            sentence = " ".join(picked).capitalize() + "."
            sentences.append(sentence)
            size += len(sentence) + 1
        documents.append(
            Document(f"doc-{number:04d}.md", " ".join(sentences), f"doc-{number:04d}.md")
        )
    return documents


def make_queries(n: int, rng: random.Random) -> list[str]:
    queries = []
    for number in range(n):
        words = TOPICS[rng.choice(list(TOPICS))].split()
        query = " ".join(rng.sample(words, 3))
        if number % 4 == 0:
            query += f" code-{rng.randint(1000, 9999)}"
        queries.append(query)
    return queries


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    documents = make_corpus(args.docs, rng)
    queries = make_queries(args.queries, rng)

    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    embedder.load()
    print(f"model load (once per process): {time.perf_counter() - started:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        index = SearchIndex.open(documents, embedder=embedder, cache_dir=tmp)
        build_s = time.perf_counter() - started
        assert index.built
        started = time.perf_counter()
        reopened = SearchIndex.open(documents, embedder=embedder, cache_dir=tmp)
        reuse_s = time.perf_counter() - started
        assert not reopened.built
        chunks = index.chunk_count
        characters = sum(len(d.text) for d in documents)
        print(f"corpus: {len(documents)} documents, {characters:,} characters, {chunks:,} chunks")
        print(
            f"index build: {build_s:.2f} s ({chunks / build_s:.0f} chunks/s, nearly all of it "
            f"embedding); reopen from the cache (hash + open): {reuse_s * 1000:.0f} ms"
        )

        the_tool = search_tool(documents, embedder=embedder, cache_dir=tmp)
        ctx = ToolContext.for_call(execution_id="bench", step=0, call_index=0, side_effects=False)
        timings: dict[str, list[float]] = {
            m: [] for m in ("embed query", "fts", "embedding", "hybrid", "tool")
        }

        async def run_all() -> None:
            for query in queries[:5]:  # warm-up, untimed
                index.search(query, 5)
                await the_tool.ainvoke({"query": query, "k": 5}, ctx, timeout_s=60)
            for query in queries:
                t0 = time.perf_counter()
                embedder.embed([query])
                timings["embed query"].append(time.perf_counter() - t0)
                for mode in ("fts", "embedding", "hybrid"):
                    t0 = time.perf_counter()
                    hits = index.search(query, 5, mode=mode)  # type: ignore[arg-type]
                    timings[mode].append(time.perf_counter() - t0)
                    assert hits, (mode, query)
                t0 = time.perf_counter()
                result = await the_tool.ainvoke({"query": query, "k": 5}, ctx, timeout_s=60)
                timings["tool"].append(time.perf_counter() - t0)
                assert len(result["results"]) == 5

        asyncio.run(run_all())

    print(f"query latency over {chunks:,} chunks, k=5, {len(queries)} queries:")
    print(f"  {'':28} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    labels = {
        "embed query": "MiniLM query embedding only",
        "fts": "BM25 only (numpy)",
        "embedding": "embeddings only",
        "hybrid": "fused (RRF)",
        "tool": "fused, through the tool",
    }
    for key, label in labels.items():
        samples = timings[key]
        print(
            f"  {label:28} {percentile(samples, 0.5) * 1000:8.2f} "
            f"{percentile(samples, 0.95) * 1000:8.2f} {statistics.fmean(samples) * 1000:8.2f}"
        )
    fused = percentile(timings["hybrid"], 0.5)
    print(
        "ratio of p50s: fused / BM25-only "
        f"{fused / percentile(timings['fts'], 0.5):.2f}x, fused / embeddings-only "
        f"{fused / percentile(timings['embedding'], 0.5):.2f}x, fused / query embedding "
        f"{fused / percentile(timings['embed query'], 0.5):.2f}x"
    )


if __name__ == "__main__":
    main()
