"""Who would win the evaluation gate in `make demo`: each deployment's tiny-model candidate vs the
traffic stand-ins of its logged model versions, on its frozen eval set.

    .venv/bin/python -m bench.demo_eval_outcome [--seed 7] [--events-per-day 400] [--days 14]

Not a timing bench (not run by `python -m bench`): it replays the demo's traffic into a SQLite
store, curates every deployment-day in order through the product's own `curate_window` (so the
eval split grows as in the backfill), trains a candidate on all sft rows, and answers every eval
prompt with the candidate and with each version's stand-in (`ModelCatalog`, with and without
leaving eval prompts out). A proxy of the gate's scoring, judge disabled: per prompt, token-F1
with the reference answer where one exists, else the heuristic quality score; a difference within
TIE_BAND is a tie; the one-sided sign test gives p(candidate better).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from bench.common import print_table
from feedback_assets.demo import tiny_model
from feedback_assets.demo.served_models import ModelCatalog
from feedback_assets.demo.traffic import TrafficConfig, generate_traffic, opaque_user_id
from feedback_assets.domain.curation.curation import CurationConfig
from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.domain.quality.quality_batch import score_batch
from feedback_assets.domain.quality.quality_rules import QualityConfig
from feedback_assets.domain.records import SIGNAL_TYPES
from feedback_assets.services.curated_sets import curate_window
from feedback_assets.services.windows import WindowSettings, fresh_window
from feedback_assets.store import FeedbackStore
from feedback_assets.store.eval_set import add_splits, eval_set, known_splits

TIE_BAND = 0.05
_WORD = re.compile(r"[a-z0-9]+")


def load_traffic(store: FeedbackStore, config: TrafficConfig) -> None:
    """The demo's valid payloads, stored as the SDK would (opaque user ids, JSON metadata)."""
    events, signals = generate_traffic(config)
    ev = pd.DataFrame([e for e in events if "prompt" in e and e["latency_ms"] >= 0])
    sg = pd.DataFrame(signals)
    sg = sg[sg["signal_type"].isin(SIGNAL_TYPES)]
    sg = sg[(sg["signal_type"] != "edit") | sg["edited_response"].notna()].copy()
    sg["signal_id"] = [f"s{i}" for i in range(len(sg))]
    for frame in (ev, sg):
        frame["metadata"] = frame["metadata"].map(json.dumps)
        frame["user_id"] = frame["user_id"].map(opaque_user_id)
    store.insert_events(ev)
    store.insert_signals(sg)


def curate_days(store: FeedbackStore, deployment: str) -> pd.DataFrame:
    """Every day curated in order, growing the eval split as the loop's backfill does."""
    settings = WindowSettings(QualityConfig(), DriftConfig(), embed=hashing_embed)
    events = store.read_events(deployment_id=deployment)
    days = events["timestamp"].dt.strftime("%Y-%m-%d")
    parts = []
    for day, day_events in events.groupby(days, sort=True):
        window = fresh_window(store, day_events, settings).window
        texts = (window.events["prompt"] + "\n" + window.events["response"]).tolist()
        known = known_splits(store, deployment)
        res = curate_window(window, hashing_embed(texts), CurationConfig(), known)
        add_splits(store, deployment, str(day), res.new_splits)
        parts.append(res.curated)
    return pd.concat(parts, ignore_index=True)


def token_f1(answer: str, reference: str) -> float:
    a, b = Counter(_WORD.findall(answer.lower())), Counter(_WORD.findall(reference.lower()))
    overlap = sum((a & b).values())
    if overlap == 0:
        return float(a == b)
    p, r = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * p * r / (p + r)


def compare(items: pd.DataFrame, cand: list[str], cur: list[str]) -> dict[str, Any]:
    has_ref = items["reference_answer"].notna().to_numpy()
    refs = items["reference_answer"].fillna("").tolist()
    qc = score_batch(pd.Series(cand))["score"].to_numpy()
    qu = score_batch(pd.Series(cur))["score"].to_numpy()
    fc = np.array([token_f1(a, r) for a, r in zip(cand, refs, strict=True)])
    fu = np.array([token_f1(a, r) for a, r in zip(cur, refs, strict=True)])
    diff = np.where(has_ref, fc - fu, qc - qu)
    wins, losses = int((diff > TIE_BAND).sum()), int((diff < -TIE_BAND).sum())
    p = binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue if wins + losses else 1.0
    return {
        "f1 cand/cur": f"{fc[has_ref].mean():.3f}/{fu[has_ref].mean():.3f}",
        "hard quality cand/cur": f"{qc[~has_ref].mean():.3f}/{qu[~has_ref].mean():.3f}",
        "W/T/L": f"{wins}/{len(diff) - wins - losses}/{losses}",
        "p(better)": round(float(p), 4),
    }


def run(config: TrafficConfig, workdir: Path) -> list[dict[str, Any]]:
    store = FeedbackStore(f"sqlite:///{workdir / 'feedback.db'}")
    load_traffic(store, config)
    models = workdir / "models"
    rows: list[dict[str, Any]] = []
    catalogs = {
        "eval left out": ModelCatalog(models, store.url, exclude_eval=True),
        "replays eval": ModelCatalog(models, store.url, exclude_eval=False),
    }
    for dep in store.deployments():
        sft = curate_days(store, dep).query("role == 'sft'")
        items = eval_set(store, dep).items
        prompts = items["prompt"].tolist()
        name = f"{dep}-candidate"
        tiny_model.save(
            tiny_model.fit(sft["prompt"].tolist(), sft["response"].tolist()), models / name
        )
        cand = [catalogs["eval left out"].reply(name, p).content for p in prompts]
        sources = items["source"].value_counts().to_dict()
        versions = sorted(store.read_events(deployment_id=dep)["model_version_id"].unique())
        for version in versions:
            for label, catalog in catalogs.items():
                cur = [catalog.reply(version, p).content for p in prompts]
                rows.append(
                    {
                        "deployment": dep,
                        "sft": len(sft),
                        "eval (edit/approved/hard)": (
                            f"{sources.get('user_edit', 0)}/{sources.get('high_quality', 0)}"
                            f"/{sources.get('hard_example', 0)}"
                        ),
                        "current": version,
                        "stand-in": label,
                        **compare(items, cand, cur),
                    }
                )
    for catalog in catalogs.values():
        catalog.close()
    store.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.demo_eval_outcome")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--events-per-day", type=int, default=400)
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args()
    config = TrafficConfig(
        seed=args.seed,
        events_per_day=args.events_per_day,
        days=args.days,
        end_date=date(2026, 11, 29),
    )
    with tempfile.TemporaryDirectory(prefix="demo_eval_outcome-") as tmp:
        rows = run(config, Path(tmp))
    print_table(f"candidate vs current on the eval set (seed {args.seed})", rows)


if __name__ == "__main__":
    main()
