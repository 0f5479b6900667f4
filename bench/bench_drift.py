"""Drift speed: all statistical tests on N vs N events, embedding drift on 10k vs 10k texts,
beside a naive per-event Python KS (the original's approach) and Evidently's DataDriftPreset.

    .venv/bin/python -m bench.bench_drift [--quick]

Evidently does not import with pandas 3, so it runs in the peers' environment (.venv-peers, made
on first use from bench/peers-requirements.txt) as a subprocess on the same frames saved as Parquet.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import peers
from bench.common import print_table, run_isolated, synthetic_texts, timed

NUMERIC = ("prompt_length", "response_length", "token_count", "latency_ms", "quality_score")
CATEGORICAL = ("model_version_id", "format_kind")
MIX, MIX_SHIFTED = [0.7, 0.2, 0.1], [0.5, 0.4, 0.1]
VERSIONS = np.array(["v1", "v2", "v3"], dtype=object)
FORMATS = np.array(["plain", "markdown", "json"], dtype=object)
BINARY = ("refusal_rate", "length_pass_rate", "thumbs_down_rate", "regenerate_rate")


def _frame(n: int, seed: int, shifted: bool) -> pd.DataFrame:
    """Per-event feature columns; the current window gets three real shifts and one tiny one."""
    rng = np.random.default_rng(seed)
    resp_scale = 1.3 if shifted else 1.0
    prompt = rng.poisson(120, n).astype(np.float64)
    response = np.floor(rng.lognormal(5.5, 0.5, n) * resp_scale)
    latency = rng.gamma(4.0, 100.0, n) * (1.02 if shifted else 1.0)  # tiny: KS-visible at 1M only
    return pd.DataFrame(
        {
            "prompt_length": prompt,
            "response_length": response,
            "token_count": np.floor((prompt + response) / 4),
            "latency_ms": latency,
            "quality_score": rng.beta(8, 2, n),
            "model_version_id": rng.choice(VERSIONS, n, p=MIX_SHIFTED if shifted else MIX),
            "format_kind": rng.choice(FORMATS, n, p=[0.6, 0.3, 0.1]),
            "refusal_rate": (rng.random(n) < (0.15 if shifted else 0.05)).astype(np.float64),
            "length_pass_rate": (rng.random(n) < 0.95).astype(np.float64),
            "thumbs_down_rate": (rng.random(n) < 0.04).astype(np.float64),
            "regenerate_rate": (rng.random(n) < 0.06).astype(np.float64),
        }
    )  # fmt: skip


def _features(frame: pd.DataFrame) -> Any:
    from feedback_assets.domain.drift.drift_features import Features

    return Features(
        size=len(frame),
        numeric={c: frame[c].to_numpy(np.float64) for c in NUMERIC},
        categorical={c: frame[c].to_numpy(object) for c in CATEGORICAL},
        binary={c: frame[c].to_numpy(np.float64) for c in BINARY},
        types=dict.fromkeys((*NUMERIC, *CATEGORICAL, *BINARY), "statistical"),
    )


def case_stats(n: int) -> dict[str, Any]:
    from feedback_assets.domain.drift.drift import DriftConfig, compare_features

    ref, cur = _features(_frame(n, 1, False)), _features(_frame(n, 2, True))
    compare_features(_features(_frame(2000, 3, False)), _features(_frame(2000, 4, True)))  # warm
    report, secs = timed(compare_features, ref, cur, DriftConfig())
    verdicts = {r.feature: r.drifted for r in report.results}
    return {
        "case": f"feedback-loop: {len(verdicts)} tests",
        "n_per_window": n,
        "seconds": round(secs, 3),
        "events_per_s": round(2 * n / secs),
        "verdicts": json.dumps(verdicts),
    }


def _naive_ks(a: list[float], b: list[float]) -> float:
    """The original's style: plain lists, a per-event loop over the merged sorted values."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] <= x:
            i += 1
        while j < len(b) and b[j] <= x:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    return d


def case_naive(n: int) -> dict[str, Any]:
    ref, cur = _frame(n, 1, False), _frame(n, 2, True)
    a, b = ref["prompt_length"].tolist(), cur["prompt_length"].tolist()
    d, secs = timed(_naive_ks, a, b)
    return {
        "case": "naive Python KS, prompt_length only",
        "n_per_window": n,
        "seconds": round(secs, 3),
        "events_per_s": round(2 * n / secs),
        "verdicts": f"D={d:.4f} (1 feature)",
    }


def case_embedding(n: int) -> dict[str, Any]:
    from feedback_assets.domain.drift.drift import DriftConfig
    from feedback_assets.domain.drift.embedding import hashing_embed
    from feedback_assets.domain.drift.embedding_drift import mmd_test, top_terms

    ref_texts = synthetic_texts(n, seed=1)
    cur_texts = synthetic_texts(n, seed=2)
    topic = " kubernetes helm chart rollout ingress"
    cur_texts = [t + topic if i % 5 == 0 else t for i, t in enumerate(cur_texts)]  # 20% topic mix
    start = time.perf_counter()
    e_ref, e_cur = hashing_embed(ref_texts), hashing_embed(cur_texts)
    t_embed = time.perf_counter() - start
    outcome = mmd_test(e_ref, e_cur, DriftConfig())
    terms = top_terms(ref_texts, cur_texts, k=5)
    secs = time.perf_counter() - start
    return {
        "case": "embedding drift (hashing embed + MMD + top terms)",
        "n_per_window": n,
        "seconds": round(secs, 3),
        "events_per_s": round(2 * n / secs),
        "verdicts": f"embed {t_embed:.2f}s, p={outcome.p_value:.2g}, top: "
        + ",".join(t["term"] for t in terms["current"][:4]),
    }


EVIDENTLY_SCRIPT = r"""
import json, resource, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
num, cat = json.loads(sys.argv[3]), json.loads(sys.argv[4])
for c in cat:
    ref[c] = ref[c].astype(str); cur[c] = cur[c].astype(str)
dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
start = time.perf_counter()
snap = Report([DataDriftPreset()]).run(Dataset.from_pandas(cur, data_definition=dd),
                                        Dataset.from_pandas(ref, data_definition=dd))
out = snap.dict()
secs = time.perf_counter() - start
verdicts = {}
for m in out["metrics"]:
    name = str(m.get("metric_name", ""))
    if name.startswith("ValueDrift("):
        col = name.split("column=")[1].split(",")[0].rstrip(")")
        thr = float(name.split("threshold=")[1].split(",")[0].rstrip(")"))
        method = name.split("method=")[1].split(",")[0] if "method=" in name else ""
        val = float(m["value"])
        drifted = val < thr if "p_value" in method or "test" in method.lower() else val >= thr
        verdicts[col] = {"value": val, "method": method, "drifted": drifted}
print(json.dumps({"seconds": secs, "verdicts": verdicts,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def evidently_row(n: int, ours: dict[str, bool]) -> dict[str, Any]:
    base = {"case": "Evidently 0.7.23 DataDriftPreset", "n_per_window": n}
    evidently_py = peers.python()
    if evidently_py is None:
        return {**base, "verdicts": f"evidently: unavailable ({peers.ensure()})"}
    with tempfile.TemporaryDirectory() as tmp:
        ref_p, cur_p = Path(tmp) / "ref.parquet", Path(tmp) / "cur.parquet"
        _frame(n, 1, False).to_parquet(ref_p)
        _frame(n, 2, True).to_parquet(cur_p)
        script = Path(tmp) / "ev.py"
        script.write_text(EVIDENTLY_SCRIPT)
        cat = [*CATEGORICAL, *BINARY]
        args = [
            str(evidently_py),
            str(script),
            str(ref_p),
            str(cur_p),
            json.dumps(NUMERIC),
            json.dumps(cat),
        ]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1][:160]
        return {**base, "verdicts": f"evidently: unavailable ({reason})"}
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    theirs = {c: v["drifted"] for c, v in got["verdicts"].items()}
    agree = sum(theirs.get(c) == v for c, v in ours.items())
    return {
        **base,
        "seconds": round(got["seconds"], 3),
        "events_per_s": round(2 * n / got["seconds"]),
        "peak_rss_mb": round(got["peak_rss_mb"], 1),
        "verdicts": f"agree {agree}/{len(ours)}: " + json.dumps(theirs),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
    parser.add_argument("--no-evidently", action="store_true")
    args = parser.parse_args(argv)
    n = 20_000 if args.quick else 1_000_000
    n_emb = 1_000 if args.quick else 10_000
    ours = run_isolated("bench.bench_drift:case_stats", n=n)
    rows = [ours, run_isolated("bench.bench_drift:case_naive", n=n)]
    if not args.no_evidently:
        rows.append(evidently_row(n, json.loads(ours["verdicts"])))
    print_table(f"Statistical drift tests, {n:,} vs {n:,} events", rows)
    emb = run_isolated("bench.bench_drift:case_embedding", n=n_emb)
    print_table(f"Embedding drift, {n_emb:,} vs {n_emb:,} texts", [emb])
    if any("seconds" in r for r in rows[2:]):
        print(f"\nspeed-up vs Evidently: {rows[2]['seconds'] / ours['seconds']:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
