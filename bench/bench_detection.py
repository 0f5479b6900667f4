"""Detection quality: PII recall and precision per entity and locale, and drift power and
false-positive rate at 300 current vs 600 reference events.

    .venv/bin/python -m bench.bench_detection [--quick] [--seed N] [--misses]

PII: `bench.pii_corpus` builds labelled sentences with Faker in six locales (phones in each
region's written formats, extensions included) and a look-alike set (ids, versions,
timestamps, dates, prices, ISBNs, hashes). A PII sample is recalled when its value is gone
and exactly its own marker took its place; precision counts every marker, look-alikes included.

Drift: the demo generator's streams. Reference 600 events, current 300; the whole detector
(per-feature tests on independent units, embedding MMD, novelty share; weighted Holm across
all of them, as detect_drift_frames and the drift sensor run it) and the novelty test alone.
Contamination: (a) a mixed-kind deployment with that share of its traffic on topics it never
had (`topic_shift`); (b) support-bot traffic whose texts are, for that share of events,
code-assistant prompts and answers (another domain). FPR: the same with no contamination.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from bench.bench_drift_calibration import make_reference, quality_frame, test_window
from bench.common import print_table
from bench.pii_corpus import LOCALES, Sample, lookalike_samples, pii_samples
from bench.pii_corpus_text import (
    address_samples,
    capitalized_lookalikes,
    name_samples,
    oov_name_samples,
)
from feedback_assets.demo.traffic import generate_stream
from feedback_assets.domain.drift.drift import DriftConfig, embedding_texts
from feedback_assets.domain.drift.novelty import novelty_test
from feedback_assets.domain.pii.sanitize import PiiRule, pii_rules, sanitize_column

T0 = datetime(2026, 1, 1, tzinfo=UTC)
N_REF, N_CUR = 600, 300
LEVELS = (0.05, 0.10, 0.20)
TRIALS = 200  # null and contaminated splits per scenario and level
SCENARIOS = ("new topics (mixed deployment)", "other domain (support-bot + code)")


# ---------------------------------------------------------------- PII


def _judge(
    samples: list[Sample], rules: tuple[PiiRule, ...] = ()
) -> list[tuple[Sample, Counter[str], bool]]:
    """(sample, markers in its output, recalled) for each sample: one vectorized pass.

    Names and addresses are recalled when none of the value's words is left (a title such as
    `Dr.` is not part of the value) and only markers of their own entity were placed."""
    out, _ = sanitize_column([s.text for s in samples], rules)
    rows = []
    for s, text in zip(samples, out.to_pylist(), strict=True):
        marks = Counter(m for m in _MARKERS if m in text for _ in range(text.count(m)))
        if s.entity in ("PERSON", "ADDRESS"):
            left = [
                w
                for w in _WORD.findall(s.value)
                if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text)
            ]
            recalled = not left and set(marks) == {f"[{s.entity}]"}
        else:
            recalled = (
                bool(s.entity) and s.value not in text and marks == Counter([f"[{s.entity}]"])
            )
        rows.append((s, marks, recalled))
    return rows


_MARKERS = (
    "[PHONE]", "[EMAIL]", "[CREDIT_CARD]", "[IBAN]", "[IP]", "[SSN]", "[SECRET]", "[PERSON]",
    "[ADDRESS]",
)  # fmt: skip
_WORD = re.compile(r"[^\W_]{2,}")


def pii_tables(per_entity: int, lookalikes: int, seed: int = 7) -> None:
    judged = [r for region in LOCALES for r in _judge(pii_samples(region, per_entity, seed=seed))]
    judged += _judge(lookalike_samples(lookalikes, seed=seed))
    recall: dict[tuple[str, str], list[int]] = {}
    marks_by_entity: Counter[str] = Counter()
    true_marks: Counter[str] = Counter()
    for s, marks, ok in judged:
        for m, c in marks.items():
            marks_by_entity[m.strip("[]")] += c
        if s.entity:
            hit = recall.setdefault((s.entity, s.locale), [0, 0])
            hit[0] += ok
            hit[1] += 1
            true_marks[s.entity] += min(marks[f"[{s.entity}]"], 1)
    entities = sorted({e for e, _ in recall})
    rows = []
    for e in entities:
        row: dict[str, Any] = {"entity": e}
        for region in LOCALES:
            got, n = recall.get((e, region), (0, 0))
            row[f"recall {region}"] = round(got / n, 4) if n else "-"
        row["precision"] = round(true_marks[e] / max(marks_by_entity[e], 1), 4)
        row["markers"] = marks_by_entity[e]
        rows.append(row)
    kept = sum(not marks for s, marks, _ in judged if not s.entity)
    print_table(
        f"PII recall per entity and locale ({per_entity} samples each), precision over all "
        f"markers; look-alikes kept {kept}/{lookalikes}",
        rows,
    )


def optional_tables(
    per_entity: int, lookalikes: int, seed: int = 7, show_misses: bool = False
) -> None:
    """PERSON and ADDRESS (FEEDBACK_PII_STAGES=person,address), and what the stages cost the
    rest: look-alike retention and precision over every marker, with both stages on."""
    rules = pii_rules(None, "person,address")
    judged = []
    for region in LOCALES:
        judged += _judge(name_samples(region, per_entity, seed=seed), rules)
        judged += _judge(address_samples(region, per_entity, seed=seed), rules)
        judged += _judge(pii_samples(region, per_entity // 4, seed=seed), rules)
    oov = _judge(oov_name_samples(per_entity, seed=seed), rules)
    looks = _judge(lookalike_samples(lookalikes, seed=seed), rules)
    caps = _judge(capitalized_lookalikes(lookalikes, seed=seed), rules)
    if show_misses:  # the samples behind the recall and precision figures, to read
        for s, marks, ok in judged + looks:
            if (s.entity in ("PERSON", "ADDRESS") and not ok) or (not s.entity and marks):
                print(f"miss {s.entity or 'look-alike'} {s.locale}: {s.text!r} -> {dict(marks)}")
    rows = []
    for entity in ("PERSON", "ADDRESS"):
        row: dict[str, Any] = {"entity": entity}
        for region in LOCALES:
            hits = [ok for s, _, ok in judged if s.entity == entity and s.locale == region]
            row[f"recall {region}"] = round(sum(hits) / len(hits), 4)
        placed = sum(m[f"[{entity}]"] for _, m, _ in judged + looks)
        wrong = sum(m[f"[{entity}]"] for s, m, _ in judged + looks if s.entity != entity)
        row["precision"] = round(1 - wrong / max(placed, 1), 4)
        row["false markers"] = f"{wrong}/{placed}"
        row["on capitalized texts"] = sum(m[f"[{entity}]"] for _, m, _ in caps)
        rows.append(row)
    print_table(
        f"Optional stages on: recall per locale ({per_entity} samples each, Faker seed {seed}); "
        "precision over the markers placed on all entity samples and the look-alikes; false "
        f"markers on {len(caps)} PII-free texts dense with capitalized words",
        rows,
    )
    kept = sum(not m for _, m, _ in looks)
    kept_caps = sum(not m for _, m, _ in caps)
    print(
        f"look-alikes kept {kept}/{len(looks)}; capitalized PII-free texts kept "
        f"{kept_caps}/{len(caps)}; invented names outside the gazetteer: recall "
        f"{sum(ok for _, _, ok in oov) / len(oov):.3f} (half after a title or `my name is`: "
        f"{sum(ok for s, _, ok in oov if not s.text.endswith('invoice.')) / max(1, sum(not s.text.endswith('invoice.') for s, _, _ in oov)):.3f})"
    )


# ---------------------------------------------------------------- drift


def _current(scenario: int, seed: int, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    start = T0 + timedelta(days=2)
    if scenario == 0:
        return generate_stream(
            N_CUR, seed=seed, deployment_id="calib", topic_shift=share, start=start
        )
    k = round(N_CUR * share)
    ev, sg = generate_stream(N_CUR, seed=seed, deployment_id="support-bot", start=start)
    if k:
        # Only the texts change: the last k events ask and get code-assistant prompts and
        # answers (ids, versions, latencies and signals stay support-bot's).
        other, _ = generate_stream(
            k, seed=seed + 50_000, deployment_id="code-assistant", start=start
        )
        ev = ev.copy()
        for col in ("prompt", "response"):
            ev.loc[ev.index[-k:], col] = other[col].to_numpy()
    return ev, sg


def _texts(events: pd.DataFrame, seed: int) -> list[str]:
    return embedding_texts(events, 2000, seed) or []


def drift_table(trials: int) -> None:
    rows = []
    for scenario, name in enumerate(SCENARIOS):
        dep = "calib" if scenario == 0 else "support-bot"
        refs = []
        for s in range(trials):
            ev, sg = generate_stream(N_REF, seed=s, deployment_id=dep, start=T0)
            refs.append((make_reference(ev, sg), _texts(ev, 0)))
        for share in (0.0, *LEVELS):
            full = alone = 0
            causes: Counter[str] = Counter()
            for s, (ref, ref_texts) in enumerate(refs):
                ev, sg = _current(scenario, 10_000 + s, share)
                drifted, cause = test_window(ref, ev, sg)
                full += drifted
                causes.update([cause] if drifted else [])
                alone += novelty_test(ref_texts, _texts(ev, 1), DriftConfig(seed=s)).p_value < 0.05
            rows.append(
                {
                    "scenario": name,
                    "contamination": f"{share:.0%}",
                    "trials": trials,
                    "detector": round(full / trials, 3),
                    "novelty alone": round(alone / trials, 3),
                    "target": "FPR <= 0.05"
                    if share == 0
                    else ("power >= 0.9" if share == 0.05 else ""),
                    "top causes": ", ".join(f"{k} x{v}" for k, v in causes.most_common(2)),
                }
            )
    print_table(f"Drift: {N_CUR} current vs {N_REF} reference events (0% row = FPR)", rows)


def main(quick: bool = False, seed: int = 7, misses: bool = False) -> None:
    t0 = time.perf_counter()
    pii_tables(per_entity=60 if quick else 400, lookalikes=300 if quick else 3000, seed=seed)
    optional_tables(60 if quick else 400, 300 if quick else 3000, seed, misses)
    drift_table(trials=4 if quick else TRIALS)
    print(
        f"\ntotal {time.perf_counter() - t0:.1f}s; quality source for drift: {quality_frame.__module__}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
    parser.add_argument("--seed", type=int, default=7, help="Faker seed of the PII samples")
    parser.add_argument("--misses", action="store_true", help="print the optional stages' misses")
    args = parser.parse_args()
    main(args.quick, args.seed, args.misses)
    sys.exit(0)
