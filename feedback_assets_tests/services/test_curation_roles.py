"""Property: for any events, signals and quality, an sft row is an answer users approved and its
prompt is nowhere near the eval set; pairs and KTO rows never carry a held-out prompt either."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback_assets.domain.curation.curation import CurationConfig
from feedback_assets.domain.curation.dedupe import minhash_signatures, normalize_text
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.training_exports import training_frames
from feedback_assets.domain.records import SIGNAL_TYPES
from feedback_assets.services.curated_sets import curate_window

TS = pd.Timestamp("2026-01-01", tz="UTC")
VOCAB = [f"tok{i}" for i in range(4000)]
BASES = [" ".join(np.random.default_rng(s).choice(VOCAB, 80)) for s in range(6)]
ANSWERS = [" ".join(np.random.default_rng(100 + s).choice(VOCAB, 40)) for s in range(8)]
CONFIG = CurationConfig(limit=20, eval_share=0.5, min_quality_score=0.8, min_judge_score=0.8)


def prompt_text(base: int, variant: int) -> str:
    text = BASES[base]
    if variant == 1:  # a near-duplicate
        return " ".join(text.split()[:-1] + ["changed"])
    if variant == 2:  # equal after normalization
        return text.upper().replace(" ", "  ")
    return text


event_st = st.tuples(
    st.integers(0, 5),  # base prompt
    st.integers(0, 2),  # variant
    st.integers(0, 7),  # answer
    st.sampled_from([None, 0.2, 0.5, 0.79, 0.8, 0.95]),  # quality (None: not scored)
    st.sampled_from([None, 0.5, 0.85]),  # judge score
)
signal_st = st.tuples(
    st.integers(0, 30), st.sampled_from(SIGNAL_TYPES), st.integers(0, 3), st.integers(0, 2)
)
day_st = st.tuples(st.lists(event_st, min_size=1, max_size=25), st.lists(signal_st, max_size=40))


def window(day: int, spec: tuple[list, list]) -> Window:
    evs, sigs = spec
    events = pd.DataFrame(
        {
            "event_id": [f"d{day}-e{i}" for i in range(len(evs))],
            "deployment_id": "dep",
            "model_version_id": "m1",
            "prompt": [prompt_text(b, v) for b, v, *_ in evs],
            "response": [ANSWERS[a] for _, _, a, *_ in evs],
            "metadata": "{}",
            "timestamp": [TS + pd.Timedelta(days=day, minutes=i) for i in range(len(evs))],
        }
    )
    scored = [(i, q, j) for i, (*_, q, j) in enumerate(evs) if q is not None]
    quality = pd.DataFrame(
        {
            "event_id": [f"d{day}-e{i}" for i, _, _ in scored],
            "score": [q for _, q, _ in scored],
            "judge_score": [np.nan if j is None else j for _, _, j in scored],
            "refusal_passed": True,
        }
    )
    signals = pd.DataFrame(
        [
            {
                "signal_id": f"d{day}-s{k}",
                "event_id": f"d{day}-e{e % len(evs)}",
                "signal_type": kind,
                "user_id": f"u{user}",
                "edited_response": f"edited answer {edit} " + ANSWERS[edit]
                if kind == "edit"
                else None,
                "metadata": "{}",
                "timestamp": TS + pd.Timedelta(days=day, hours=1, seconds=k),
            }
            for k, (e, kind, user, edit) in enumerate(sigs)
        ],
        columns=["signal_id", "event_id", "signal_type", "user_id", "edited_response"]
        + ["metadata", "timestamp"],
    )
    return Window(events, quality, signals)


def near_any(prompts: pd.Series, others: list[str], threshold: float) -> list[str]:
    """Brute force (no LSH): prompts equal after normalization to, or with an estimated Jaccard
    >= threshold to, any of `others`."""
    if len(prompts) == 0 or not others:
        return []
    a = normalize_text(prompts.reset_index(drop=True))
    b = normalize_text(pd.Series(others))
    sa_, sb = minhash_signatures(a), minhash_signatures(b)
    sim = (sa_[:, None, :] == sb[None, :, :]).mean(axis=2)
    hit = (sim >= threshold).any(axis=1) | a.isin(set(b)).to_numpy()
    return a[hit].tolist()


def assert_sft_approved(curated: pd.DataFrame, w: Window) -> None:
    sig, q = w.signals, w.quality.set_index("event_id")
    for row in curated[curated["role"] == "sft"].itertuples():
        kinds = set(sig.loc[sig["event_id"] == row.event_id, "signal_type"])
        assert "report" not in kinds, row
        if row.curation_source == "user_edit":
            edits = sig[(sig["event_id"] == row.event_id) & (sig["signal_type"] == "edit")]
            assert row.response == edits["edited_response"].iloc[-1], row
            continue
        # The target is the original answer: never thumbed down, regenerated or low quality.
        assert row.response == row.original_response
        assert not kinds & {"thumbs_down", "regenerate"}, (row, kinds)
        assert row.event_id in q.index and q.loc[row.event_id, "score"] >= CONFIG.min_quality_score


def assert_no_held_out_prompt(
    curated: pd.DataFrame, w: Window, eval_prompts: list[str], known: pd.DataFrame
) -> None:
    t = CONFIG.near_duplicate_threshold
    assert near_any(curated.loc[curated["role"] == "sft", "prompt"], eval_prompts, t) == []
    train_keys = set(known.loc[known["split"] == "train", "prompt_key"])
    frames = training_frames(curated, w, train_keys, CONFIG.max_hard_quality)
    assert near_any(frames["preference"]["prompt"], eval_prompts, t) == []
    assert near_any(frames["kto"]["prompt"], eval_prompts, t) == []
    assert set(frames["sft"]["role"]) <= {"sft"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day1=day_st, day2=day_st)
def test_sft_rows_are_approved_and_held_out_prompts_never_train(day1, day2) -> None:
    known = None
    stored = pd.DataFrame(columns=["prompt_key", "cluster_key", "split", "prompt"])
    for day, spec in enumerate([day1, day2]):
        w = window(day, spec)
        result = curate_window(w, None, CONFIG, known)
        # What add_splits would store: first assignment of a key wins.
        new = result.new_splits[~result.new_splits["prompt_key"].isin(stored["prompt_key"])]
        stored = pd.concat([stored, new], ignore_index=True)
        known = stored[["prompt_key", "cluster_key", "split", "prompt"]]
        curated = result.curated
        assert_sft_approved(curated, w)
        eval_prompts = [
            *stored.loc[stored["split"] == "eval", "prompt"],
            *curated.loc[curated["role"] == "eval", "prompt"],
        ]
        assert_no_held_out_prompt(curated, w, eval_prompts, stored)
        assert set(curated["role"]) <= {"sft", "preference", "kto", "eval"}
        # Hard examples are never sft.
        assert not (
            (curated["curation_source"] == "hard_example") & (curated["role"] == "sft")
        ).any()
