"""Heuristic quality scoring throughput: vectorized `score_batch` vs a naive per-event loop.

    .venv/bin/python -m bench.bench_quality [--quick]

Sizes: 100k and 1M events of 0.5-2 KB; `--quick` runs 20k only (the smoke test).
The naive baseline is the original library's four checks (JSON / fence format, length,
four refusal phrases, trigram-uniqueness ratio) in a per-event Python loop, measured in the
same run at the first size only (it is linear per event, its rate does not change with n).
The vectorized run does more work (Gopher 2/3/4-gram shares, duplicated lines, a 13-phrase
refusal bank, JSON details per row); the "trigram-only" row sets `extended_repetition=False`,
the closest match to the naive loop's work. Texts are generated per 50k chunk outside the
timed region; peak RSS includes holding one such chunk of texts.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bench.common import print_table, run_isolated, synthetic_texts, timed

CHUNK = 50_000
_ORIGINAL_PHRASES = (
    "i cannot",
    "i can't",
    "i'm unable to",
    "i apologize, but",
    "as an ai",
    "i don't have the ability",
)


def _naive_one(text: str) -> float:
    try:
        json.loads(text)
        fmt = 1.0
    except ValueError:
        fmt = 0.9 if "```" in text else 0.7
    length = 1.0 if 20 <= len(text) <= 4000 else 0.4
    lower = text.lower()
    refusal = 0.0 if any(p in lower for p in _ORIGINAL_PHRASES) else 1.0
    words = text.split()
    if len(words) < 10:
        rep = 0.0
    else:
        tri = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
        rep = len(set(tri)) / len(tri)
    return (fmt + length + refusal + rep) / 4


def _chunks(n: int, seed: int) -> Any:
    for start in range(0, n, CHUNK):
        yield synthetic_texts(min(CHUNK, n - start), seed=seed + start)


def run_naive(n: int, seed: int = 0) -> dict[str, Any]:
    seconds = 0.0
    for texts in _chunks(n, seed):
        _, dt = timed(lambda t=texts: [_naive_one(x) for x in t])
        seconds += dt
    return {
        "case": "naive loop (original 4 checks)",
        "n": n,
        "seconds": seconds,
        "events_per_s": n / seconds,
    }


def run_vectorized(n: int, seed: int = 0, extended: bool = True) -> dict[str, Any]:
    import pyarrow as pa

    from feedback_assets.domain.quality.quality import QualityConfig, score_batch

    config = QualityConfig(extended_repetition=extended)
    seconds = 0.0
    for texts in _chunks(n, seed):
        arr = pa.array(texts, type=pa.large_string())  # batches arrive as Arrow from the store
        _, dt = timed(score_batch, arr, config)
        seconds += dt
    label = "all checks" if extended else "trigram-only repetition"
    return {
        "case": f"score_batch ({label})",
        "n": n,
        "seconds": seconds,
        "events_per_s": n / seconds,
    }


def main(quick: bool = False) -> list[dict[str, Any]]:
    sizes = [20_000] if quick else [100_000, 1_000_000]
    rows = []
    naive_rate = None
    for n in sizes:
        if naive_rate is None:
            naive = run_isolated("bench.bench_quality:run_naive", n=n)
            naive_rate = naive["events_per_s"]
            rows.append({**naive, "speedup": 1.0})
        for extended in (True, False):
            vec = run_isolated("bench.bench_quality:run_vectorized", n=n, extended=extended)
            rows.append({**vec, "speedup": vec["events_per_s"] / naive_rate})
    print_table("quality heuristics: events/s (naive measured at the first size only)", rows)
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
