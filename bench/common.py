"""Shared benchmark helpers: isolated runs with peak RSS, timing, tables, synthetic text.

Each case runs in a fresh spawned process so its peak RSS is its own.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

_WORDS = [
    "the",
    "model",
    "answer",
    "request",
    "customer",
    "order",
    "account",
    "invoice",
    "deploy",
    "cluster",
    "latency",
    "python",
    "function",
    "return",
    "value",
    "error",
    "stack",
    "trace",
    "database",
    "query",
    "index",
    "table",
    "schema",
    "migration",
    "service",
    "endpoint",
    "token",
    "budget",
    "quality",
    "review",
    "summary",
    "report",
    "weekly",
    "meeting",
    "product",
    "feature",
    "release",
    "bug",
    "fix",
    "test",
    "coverage",
    "pipeline",
    "data",
    "training",
    "export",
    "metric",
    "dashboard",
    "please",
    "could",
    "you",
    "explain",
    "how",
    "why",
    "when",
    "where",
    "which",
    "example",
    "step",
    "first",
    "then",
    "finally",
]


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_texts(
    n: int, seed: int = 0, min_bytes: int = 500, max_bytes: int = 2000, pii_rate: float = 0.1
) -> list[str]:
    """Realistic-enough prose of 0.5-2 KB, with PII and PII look-alikes sprinkled in."""
    rng = np.random.default_rng(seed)
    words = np.array(_WORDS)
    pii = [
        "mail me at jane.doe@example.com",
        "call +1 (415) 555-0134",
        "card 4111 1111 1111 1111",
        "ssn 123-45-6789",
        "server 10.2.3.44",
        "key sk-abcdefghijklmnopqrstuvwxyz012345",
    ]
    lookalikes = ["order 1234567890123", "ts 1732924800123", "v2.13.27", "$1,299.99", "2026-11-30"]
    out: list[str] = []
    lengths = rng.integers(min_bytes, max_bytes, size=n)
    for i in range(n):
        n_words = max(1, int(lengths[i]) // 7)
        body = " ".join(words[rng.integers(0, len(words), size=n_words)])
        extra = lookalikes[i % len(lookalikes)]
        if rng.random() < pii_rate:
            extra += " " + pii[i % len(pii)]
        out.append(f"{body} {extra}.")
    return out


def _child(target: str, kwargs: dict[str, Any], queue: Any) -> None:
    module_name, fn_name = target.split(":")
    fn = getattr(importlib.import_module(module_name), fn_name)
    result = dict(fn(**kwargs))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    queue.put(result)


def run_isolated(target: str, **kwargs: Any) -> dict[str, Any]:
    """Run `module:function(**kwargs)` in a fresh process; return its dict plus peak_rss_mb."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(target, kwargs, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(dict.fromkeys(k for r in rows for k in r))
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    print(f"\n## {title}")
    print(" | ".join(c.ljust(widths[c]) for c in cols))
    print("-+-".join("-" * widths[c] for c in cols))
    for r in rows:
        print(" | ".join(_fmt(r.get(c)).ljust(widths[c]) for c in cols))
    sys.stdout.flush()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)
