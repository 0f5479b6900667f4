"""Drift calibration on the demo generator's streams: false-positive rate per window on no-drift
streams, power on injected shifts, detection delay after a change point.

    .venv/bin/python -m bench.bench_drift_calibration [--quick]

Each stream's reference is its first REF events (features and embeddings computed once); then
consecutive windows of WINDOW events are tested against it, as the drift sensor would.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from bench.common import print_table
from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.drift.drift import (
    DriftConfig,
    build_features,
    compare_features,
    embedding_texts,
    independent_units,
)
from feedback_assets.domain.drift.embedding import hashing_embed

REF = 2000
WINDOW = 500
CONFIG = DriftConfig(categorical_metadata_fields=("source", "locale"))
SHIFTS: dict[str, dict[str, float]] = {
    "topic mix 20%": {"topic_shift": 0.2},
    "response length +30%": {"response_length_factor": 1.3},
    "refusal rate +10 pts": {"refusal_rate_delta": 0.10},
}
_REFUSAL = r"(?i)\b(i'm sorry|i am sorry|i cannot|i can't|unable to help|as an ai)\b"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def quality_frame(events: pd.DataFrame) -> pd.DataFrame:
    """Refusal flags for the windows (domain.quality's score_batch when present)."""
    score_batch = _score_batch()
    if score_batch is not None:
        scored = score_batch(events["response"].reset_index(drop=True))
        if isinstance(scored, pd.DataFrame) and "refusal_passed" in scored.columns:
            return scored.assign(event_id=events["event_id"].to_numpy())
    refused = pl.Series(events["response"].astype(str).tolist()).str.contains(_REFUSAL)
    return pd.DataFrame({"event_id": events["event_id"], "refusal_passed": ~refused.to_numpy()})


@dataclass
class Reference:
    features: Any
    embeddings: np.ndarray
    texts: list[str]


def _texts(events: pd.DataFrame) -> list[str]:
    return embedding_texts(events, CONFIG.embedding_max_samples, CONFIG.seed) or []


def make_reference(events: pd.DataFrame, signals: pd.DataFrame) -> Reference:
    texts = _texts(events)
    # As detect_drift_frames (the drift_reports asset): per-feature tests on independent units.
    feats = build_features(independent_units(events), quality_frame(events), signals, CONFIG)
    return Reference(feats, hashing_embed(texts), texts)


def test_window(ref: Reference, events: pd.DataFrame, signals: pd.DataFrame) -> tuple[bool, str]:
    texts = _texts(events)
    feats = build_features(independent_units(events), quality_frame(events), signals, CONFIG)
    report = compare_features(
        ref.features, feats, CONFIG, ref.embeddings, hashing_embed(texts), ref.texts, texts
    )
    top = max((r for r in report.results if r.drifted), key=lambda r: r.score, default=None)
    return report.drifted, "" if top is None else f"{top.feature} ({top.test})"


def _windows(
    events: pd.DataFrame, signals: pd.DataFrame
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    out = []
    for i in range(0, len(events) - WINDOW + 1, WINDOW):
        ev = events.iloc[i : i + WINDOW]
        out.append((ev, signals[signals["event_id"].isin(ev["event_id"])]))
    return out


def stream(seed: int, n: int, start: datetime, **shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate_stream(n, seed=seed, start=start, **shift)


def run(n_streams: int, windows_per_stream: int, power_windows: int, delay_streams: int) -> None:
    t_start = time.perf_counter()
    refs: dict[int, Reference] = {}
    fp_rows: list[dict[str, Any]] = []
    fired = total = 0
    fp_causes: Counter[str] = Counter()
    for s in range(n_streams):
        ev, sg = stream(s, REF + windows_per_stream * WINDOW, T0)
        refs[s] = make_reference(ev.iloc[:REF], sg[sg["event_id"].isin(ev["event_id"].iloc[:REF])])
        for w_ev, w_sg in _windows(ev.iloc[REF:], sg):
            drifted, cause = test_window(refs[s], w_ev, w_sg)
            fired += drifted
            total += 1
            fp_causes.update([cause] if drifted else [])
    fp_rows.append(
        {
            "stream": "no drift",
            "windows": total,
            "alarms": fired,
            "rate": round(fired / total, 4),
            "target": "<= 0.05",
            "ok": fired / total <= 0.05,
            "alarm causes": ", ".join(f"{k} x{v}" for k, v in fp_causes.most_common(3)),
        }
    )
    print_table(f"False-positive rate per window ({WINDOW} events vs {REF} reference)", fp_rows)

    power_rows = []
    later = T0 + timedelta(days=2)
    for name, shift in SHIFTS.items():
        hits = total = 0
        causes: Counter[str] = Counter()
        for s in range(n_streams):
            ev, sg = stream(10_000 + s, power_windows * WINDOW, later, **shift)
            for w_ev, w_sg in _windows(ev, sg):
                drifted, cause = test_window(refs[s], w_ev, w_sg)
                hits += drifted
                total += 1
                causes.update([cause] if drifted else [])
        power_rows.append(
            {
                "shift": name,
                "windows": total,
                "detected": hits,
                "power": round(hits / total, 4),
                "target": ">= 0.95",
                "ok": hits / total >= 0.95,
                "detected by": ", ".join(f"{k} x{v}" for k, v in causes.most_common(2)),
            }
        )
    print_table("Power on injected shifts (per window)", power_rows)

    delay_rows = []
    pre, post = 4, 4
    befores: list[tuple[Reference, int]] = []
    for s in range(delay_streams):
        ev0, sg0 = stream(20_000 + s, REF + pre * WINDOW, T0)
        ref = make_reference(ev0.iloc[:REF], sg0[sg0["event_id"].isin(ev0["event_id"].iloc[:REF])])
        early = sum(test_window(ref, e, g)[0] for e, g in _windows(ev0.iloc[REF:], sg0))
        befores.append((ref, early))
    for name, shift in SHIFTS.items():
        delays: list[int] = []
        for s, (ref, _) in enumerate(befores):
            ev1, sg1 = stream(30_000 + s, post * WINDOW, T0 + timedelta(days=1), **shift)
            after = [test_window(ref, e, g)[0] for e, g in _windows(ev1, sg1)]
            delays.append(after.index(True) if True in after else post)
        delay_rows.append(
            {
                "shift": name,
                "change points": delay_streams,
                "median delay (windows)": float(np.median(delays)),
                "max delay (windows)": max(delays),
                "alarms in the pre-change windows": f"{sum(e for _, e in befores)}/{pre * delay_streams}",
                "target": "<= 1",
                "ok": max(delays) <= 1,
            }
        )
    print_table("Detection delay after a change point (0 = first window after it)", delay_rows)
    print(f"\ntotal {time.perf_counter() - t_start:.1f}s; quality source: {_quality_source()}")


def _score_batch() -> Any:
    try:
        from feedback_assets.domain.quality.quality import score_batch
    except Exception:  # another engineer's module, possibly mid-edit: fall back to the regex
        return None
    return score_batch


def _quality_source() -> str:
    if _score_batch() is None:
        return "bench refusal regex (domain.quality not importable)"
    return "domain.quality.score_batch (refusal_passed)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a few windows only (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        run(n_streams=1, windows_per_stream=4, power_windows=4, delay_streams=1)
    else:
        run(n_streams=4, windows_per_stream=50, power_windows=25, delay_streams=5)


if __name__ == "__main__":
    sys.exit(main())
