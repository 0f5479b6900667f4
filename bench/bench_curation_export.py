"""Curation (with near-dup dedupe) and every export format: rows/s, MB/s, peak RSS.

Run: .venv/bin/python -m bench.bench_curation_export [--quick] [--scale N ...]
`--scale N` runs only the scale cases: curated_sets' curation of one demo deployment-day of N
events (~1 KB texts as in bench_scale; each of the three deployments) beside main's eval split
(contiguous MinHash bands, every pair of a band group compared) and main's eager embedding of
every event, both at min(N, 30k) events: the sizes main's path handles.
Sizes 100k and 1M curated rows of ~1.2 KB (--quick: 10k). Each case runs in a fresh process;
`rss_before_mb` is the process after building its input and `step_peak_mb` the peak RSS during
the measured step alone (VmHWM reset first; the reset also applies to `peak_rss_mb`). For the HF
writer the step peak includes page cache of its memory-mapped scratch Arrow file.
Naive baselines in the same run: stdlib json, pandas to_parquet/to_csv, HF from_pandas, and
datasketch's per-document MinHash.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import numpy as np
import pandas as pd

from bench.common import print_table, run_isolated, synthetic_texts, timed

_POOL = 20_000


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak() -> None:
    # Writing 5 to clear_refs resets VmHWM, so the next reading is this step's own peak.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_since_reset_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def curated_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """~1.2 KB rows: a pooled ~1 KB response and ~200 B prompt, made unique by a row suffix."""
    pool = np.array(synthetic_texts(_POOL, seed=seed, min_bytes=800, max_bytes=1200), dtype=object)
    idx = np.arange(n) % _POOL
    suffix = pd.Series(np.arange(n)).astype(str).to_numpy(dtype=object)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "event_id": "e" + suffix,
            "deployment_id": "dep",
            "model_version_id": "m1",
            "prompt": pd.Series(pool[(idx * 7) % _POOL]).str.slice(0, 200) + " #" + suffix,
            "response": pool[idx] + " #" + suffix,
            "curation_source": rng.choice(["user_edit", "high_quality", "diverse"], n),
            "curation_score": rng.random(n),
            "quality_score": rng.random(n),
            "signal_score": 3.0,
            "role": "sft",
        }
    )


def _out_bytes(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def export_case(fmt: str, n: int) -> dict[str, Any]:
    """One writer on n curated rows: a registry format by its name, or a naive baseline."""
    import datasets

    from feedback_assets.domain.export.registry import WriteOptions, resolve_format

    datasets.disable_progress_bars()
    df = curated_frame(n)
    before = _rss_now_mb()
    _reset_peak()
    tmp = tempfile.mkdtemp(prefix="bench_export_")
    path = os.path.join(tmp, "out")
    naive = {
        "jsonl stdlib json (naive)": lambda: _naive_json(df, path),
        "parquet pandas (naive)": lambda: df.to_parquet(path, index=False),
        "csv pandas (naive)": lambda: df.to_csv(path, index=False),
        "hf from_pandas (naive)": lambda: _naive_hf(df, path),
    }
    try:
        if fmt in naive:
            _, secs = timed(naive[fmt])
        else:
            spec = resolve_format(fmt, roles=["sft"])
            _, secs = timed(spec.write, df, path, WriteOptions(batch_id="bench"))
        step_peak = _peak_since_reset_mb()
        mb = _out_bytes(path) / 2**20
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "case": fmt,
        "rows": n,
        "rows_per_s": round(n / secs),
        "MB_per_s": round(mb / secs, 1),
        "seconds": round(secs, 2),
        "rss_before_mb": round(before),
        "step_peak_mb": round(step_peak),
    }


def _naive_json(df: pd.DataFrame, path: str) -> int:
    import json

    with open(path, "w") as f:
        for p, r, s, v in zip(
            df["prompt"], df["response"], df["curation_source"], df["curation_score"], strict=True
        ):
            f.write(json.dumps({"prompt": p, "response": r, "source": s, "score": v}) + "\n")
    return len(df)


def _naive_hf(df: pd.DataFrame, path: str) -> None:
    from datasets import Dataset

    Dataset.from_pandas(df, preserve_index=False).train_test_split(0.1, seed=0).save_to_disk(path)


def events_frame(n: int, dup_rate: float = 0.05, seed: int = 1) -> pd.DataFrame:
    texts = synthetic_texts(n, seed=seed, min_bytes=800, max_bytes=1200)
    rng = np.random.default_rng(seed)
    # Inject near-duplicates: a copy of an earlier row with its last word changed.
    dup = np.flatnonzero(rng.random(n) < dup_rate)
    dup = dup[dup > 0]
    src = rng.integers(0, dup)
    for i, j in zip(dup, src, strict=True):
        texts[i] = texts[j].rsplit(" ", 1)[0] + " changed."
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "deployment_id": "dep",
            "model_version_id": "m1",
            "prompt": [t[:150] for t in texts],
            "response": texts,
        }
    )


def curation_case(kind: str, n: int) -> dict[str, Any]:
    from feedback_assets.domain.curation.curation import curate, dedupe

    ev = events_frame(n)
    rng = np.random.default_rng(0)
    q = pd.DataFrame({"event_id": ev["event_id"], "score": rng.random(n), "refusal_passed": True})
    k = n // 5
    sig = pd.DataFrame(
        {
            "signal_id": [f"s{i}" for i in range(k)],
            "event_id": ev["event_id"].sample(k, random_state=0).to_numpy(),
            "signal_type": rng.choice(["thumbs_up", "thumbs_down", "copy", "report", "edit"], k),
            "user_id": "u",
            "edited_response": "an edited answer",
            "metadata": "{}",
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
        }
    )
    before = _rss_now_mb()
    _reset_peak()
    rows = n
    if kind == "curate (limit 1000)":
        out, secs = timed(curate, ev, q, sig)
        kept = len(out)
    elif kind == "dedupe all rows (OPH MinHash + datasketch LSH)":
        out, secs = timed(dedupe, ev)
        kept = len(out)
    else:
        rows = min(n, 20_000)
        kept, secs = timed(_naive_dedupe, ev.iloc[:rows])
    return {
        "case": kind,
        "rows": rows,
        "rows_per_s": round(rows / secs),
        "MB_per_s": round(_text_mb(ev.iloc[:rows]) / secs, 1),
        "seconds": round(secs, 2),
        "kept": kept,
        "rss_before_mb": round(before),
        "step_peak_mb": round(_peak_since_reset_mb()),
    }


def _text_mb(df: pd.DataFrame) -> float:
    return float(df["prompt"].str.len().sum() + df["response"].str.len().sum()) / 2**20


def _naive_dedupe(df: pd.DataFrame) -> int:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.85, num_perm=64)
    kept = 0
    for i, (p, r) in enumerate(zip(df["prompt"], df["response"], strict=True)):
        words = (p + "\n" + r).casefold().split()
        m = MinHash(num_perm=64)
        m.update_batch(" ".join(words[j : j + 3]).encode() for j in range(len(words) - 2))
        if not lsh.query(m):
            lsh.insert(str(i), m)
            kept += 1
    return kept


def export_cases() -> tuple[str, ...]:
    """Every sft-role format of the registry (the bench input is curated rows), then baselines."""
    from feedback_assets.domain.export.registry import format_names

    return (
        *format_names(["sft"]),
        "jsonl stdlib json (naive)",
        "parquet pandas (naive)",
        "csv pandas (naive)",
        "hf from_pandas (naive)",
    )


CURATION_CASES = (
    "curate (limit 1000)",
    "dedupe all rows (OPH MinHash + datasketch LSH)",
    "dedupe datasketch per-document MinHash (naive, <=20k rows)",
)


def _scale_window(n: int, deployment_id: str) -> Any:
    from bench.bench_scale import _day_frames
    from feedback_assets.domain.drift.drift_reports import Window
    from feedback_assets.domain.quality.quality import score_batch
    from feedback_assets.domain.quality.quality_rules import QualityConfig

    ev, sg = _day_frames(n, deployment_id, 0, 1_767_225_600_000_000, 86_400_000_000)
    q = score_batch(ev["response"], QualityConfig()).reset_index(drop=True)
    q = pd.concat([ev[["event_id"]].reset_index(drop=True), q], axis=1)
    return Window(ev, q, sg)


def _contiguous_split(prompts: pd.Series) -> int:
    """main's candidate search: contiguous bands of 6 slots, all pairs of each band group
    compared on the full signature. Returns the near-duplicate pairs found (with repeats)."""
    from feedback_assets.domain.curation.dedupe import minhash_signatures, normalize_text
    from feedback_assets.domain.curation.near_duplicates import _block_pairs, _groups, row_hash

    sigs = minhash_signatures(normalize_text(prompts).drop_duplicates().reset_index(drop=True))
    found = 0
    for start in range(0, 60, 6):
        order, starts, lengths = _groups(row_hash(sigs[:, start : start + 6]))
        for g in np.flatnonzero(lengths > 1):
            members = np.sort(order[starts[g] : starts[g] + lengths[g]])
            found += len(_block_pairs(sigs[members], sigs[members], 55, symmetric=True)[0])
    return found


def curation_scale_case(kind: str, n: int, deployment_id: str) -> dict[str, Any]:
    from feedback_assets.domain.curation.curation import CurationConfig
    from feedback_assets.resources.embedder import EmbedderResource
    from feedback_assets.services.curated_sets import curate_window

    window = _scale_window(n, deployment_id)
    embedder = EmbedderResource()
    texts = (window.events["prompt"] + "\n" + window.events["response"]).tolist()
    before = _rss_now_mb()
    _reset_peak()
    cpu = time.process_time()  # CPU seconds too: wall time on a shared box measures the neighbours
    if kind == "curate_window (lazy embeddings)":
        out, secs = timed(curate_window, window, None, CurationConfig(), embed=embedder.embed)
        kept: Any = len(out.curated)
    elif kind == "main's eval split search (contiguous bands)":
        kept, secs = timed(_contiguous_split, window.events["prompt"])
    else:  # main's asset embedded every event before curating
        vectors, secs = timed(embedder.embed, texts)
        kept = f"{vectors.nbytes / 2**20:.0f} MB"
    return {
        "case": kind,
        "deployment": deployment_id,
        "events": n,
        "events_per_s": round(n / secs),
        "seconds": round(secs, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "kept": kept,
        "rss_before_mb": round(before),
        "step_peak_mb": round(_peak_since_reset_mb()),
    }


SCALE_CASES = (
    "curate_window (lazy embeddings)",
    "main's eval split search (contiguous bands)",
    "main's eager embedding of every event",
)


def scale_main(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        for dep in ("support-bot", "code-assistant", "json-extractor"):
            for case in SCALE_CASES:
                size = n if case == SCALE_CASES[0] else min(n, 30_000)
                if case != SCALE_CASES[0] and any(
                    r["case"] == case and r["deployment"] == dep and r["events"] == size
                    for r in rows
                ):
                    continue
                rows.append(
                    run_isolated(
                        "bench.bench_curation_export:curation_scale_case",
                        kind=case,
                        n=size,
                        deployment_id=dep,
                    )
                )
                print_table("curation at scale (so far)", rows[-1:])
    print_table("curation at scale", rows)


def main(argv: list[str]) -> None:
    if "--scale" in argv:
        scale_main([int(v) for v in argv[argv.index("--scale") + 1 :]])
        return
    quick = "--quick" in argv
    sizes = [10_000] if quick else [100_000, 1_000_000]
    export_rows = []
    for n in sizes:
        for case in export_cases():
            if case == "hf from_pandas (naive)" and n > 100_000:
                continue  # peaks at ~6 GB at 1M on a shared 2-core box
            export_rows.append(
                run_isolated("bench.bench_curation_export:export_case", fmt=case, n=n)
            )
            print_table("exports (so far)", export_rows[-1:])
    print_table("exports", export_rows)
    cur_rows = []
    for n in sizes:
        for case in CURATION_CASES:
            if case.startswith("dedupe datasketch") and n > 100_000:
                continue
            cur_rows.append(
                run_isolated("bench.bench_curation_export:curation_case", kind=case, n=n)
            )
            print_table("curation (so far)", cur_rows[-1:])
    print_table("curation", cur_rows)


if __name__ == "__main__":
    main(sys.argv[1:])
