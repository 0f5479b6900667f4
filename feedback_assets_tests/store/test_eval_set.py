"""The frozen eval split in a real store: first assignment wins, versions grow, a second day's
curation respects the first day's eval assignment, and the data-count trigger counts sft rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feedback_assets.domain.curation.curation import CurationConfig
from feedback_assets.domain.curation.eval_split import prompt_keys
from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.services.curated_sets import curate_window
from feedback_assets.store import FeedbackStore
from feedback_assets.store.eval_set import add_splits, eval_set, known_splits, train_prompt_keys
from feedback_assets.store.exports import new_curated_count

TS = pd.Timestamp("2026-11-01", tz="UTC")
VOCAB = [f"tok{i}" for i in range(4000)]


def sentence(seed: int, n: int = 80) -> str:
    return " ".join(np.random.default_rng(seed).choice(VOCAB, n))


def near(text: str) -> str:
    return " ".join(text.split()[:-1] + ["changed"])


def _rows(prompts: list[str], split: str, reference: str | None = None) -> pd.DataFrame:
    keys = prompt_keys(pd.Series(prompts))
    return pd.DataFrame(
        {
            "prompt_key": keys,
            "cluster_key": keys,
            "split": split,
            "prompt": prompts,
            "reference_answer": reference,
        }
    )


def test_first_assignment_wins_and_versions_grow(store: FeedbackStore) -> None:
    assert eval_set(store, "dep").version == 0 and eval_set(store, "dep").items.empty
    assert add_splits(store, "dep", "2026-11-01", _rows(["a", "b"], "eval", "ref")) == 2
    assert add_splits(store, "dep", "2026-11-01", _rows(["t"], "train")) == 1
    # The same keys again, now as train: ignored, the eval assignment is frozen.
    assert add_splits(store, "dep", "2026-11-02", _rows(["a", "b"], "train")) == 0
    assert add_splits(store, "dep", "2026-11-02", _rows(["c"], "eval")) == 1
    held = eval_set(store, "dep")
    assert held.version == 2
    assert sorted(held.items["prompt"][:2]) == ["a", "b"] and held.items["prompt"][2] == "c"
    assert held.items["reference_answer"].tolist()[:2] == ["ref", "ref"]
    assert held.items["reference_answer"].isna().tolist()[2]
    assert sorted(held.at(1)["prompt"]) == ["a", "b"]
    assert train_prompt_keys(store, "dep") == set(prompt_keys(pd.Series(["t"])))
    assert eval_set(store, "other").items.empty  # per deployment
    with pytest.raises(ValueError, match="rows.split"):
        add_splits(store, "dep", None, _rows(["x"], "conflict"))


def _window(day: int, prompts: list[str]) -> Window:
    n = len(prompts)
    ids = [f"d{day}-e{i}" for i in range(n)]
    events = pd.DataFrame(
        {
            "event_id": ids,
            "deployment_id": "dep",
            "model_version_id": "m1",
            "prompt": prompts,
            "response": [sentence(1000 + 100 * day + i, 40) for i in range(n)],
            "metadata": "{}",
            "timestamp": [TS + pd.Timedelta(days=day, minutes=i) for i in range(n)],
        }
    )
    quality = pd.DataFrame({"event_id": ids, "score": 0.95, "refusal_passed": True})
    signals = pd.DataFrame(
        {
            "signal_id": [f"d{day}-s{i}" for i in range(n)],
            "event_id": ids,
            "signal_type": "thumbs_up",
            "user_id": "u1",
            "edited_response": None,
            "metadata": "{}",
            "timestamp": [TS + pd.Timedelta(days=day, hours=1, minutes=i) for i in range(n)],
        }
    )
    return Window(events, quality, signals)


def _curate_day(store: FeedbackStore, day: int, prompts: list[str], share: float) -> pd.DataFrame:
    config = CurationConfig(limit=1000, eval_share=share)
    result = curate_window(_window(day, prompts), None, config, known_splits(store, "dep"))
    store.replace_partition("curated_examples", f"2026-11-0{day + 1}", result.curated, ["dep"])
    add_splits(store, "dep", f"2026-11-0{day + 1}", result.new_splits)
    return result.curated.set_index("prompt")


def test_second_day_respects_the_first_days_eval_assignment(store: FeedbackStore) -> None:
    prompts = [sentence(i) for i in range(40)]
    day1 = _curate_day(store, 0, prompts, share=0.5)
    eval_1 = [p for p in prompts if day1.loc[p, "role"] == "eval"]
    train_1 = [p for p in prompts if day1.loc[p, "role"] == "sft"]
    assert eval_1 and train_1 and len(eval_1) + len(train_1) == len(prompts)
    held = eval_set(store, "dep")
    assert sorted(held.items["prompt"]) == sorted(eval_1) and held.version == 1
    # Every approved answer is an eval reference.
    assert held.items["reference_answer"].notna().all()
    # Day 2 holds out everything new (share 1.0) and nothing at share 0.0 -- yet the exact
    # repeats and near-duplicates of day 1's prompts keep day 1's side either way.
    again = [near(p) for p in eval_1] + [near(p) for p in train_1] + eval_1[:3] + train_1[:3]
    for day, share in ((1, 0.0), (2, 1.0)):
        out = _curate_day(store, day, again, share)
        for p in [near(q) for q in eval_1] + eval_1[:3]:
            assert out.loc[p, "role"] == "eval", (share, p[:30])
        for p in [near(q) for q in train_1] + train_1[:3]:
            assert out.loc[p, "role"] == "sft", (share, p[:30])
    # Day 2's near-duplicates of eval prompts joined the eval set as members of their clusters
    # (version 2); day 3 brought nothing new.
    grown = eval_set(store, "dep")
    assert sorted(grown.items["prompt"]) == sorted(eval_1 + [near(p) for p in eval_1])
    assert grown.version == 2 and sorted(grown.at(1)["prompt"]) == sorted(eval_1)
    # The trigger counts new sft examples only; eval rows are not training data.
    n_sft = sum(
        (store.read_table("curated_examples", partition_key=f"2026-11-0{d}")["role"] == "sft").sum()
        for d in (1, 2, 3)
    )
    assert new_curated_count(store, "dep") == n_sft
    assert (
        n_sft < store.counts()["curated_examples"] if "curated_examples" in store.counts() else True
    )


def test_a_key_stored_meanwhile_keeps_its_first_assignment(store: FeedbackStore) -> None:
    """add_splits skips keys it read as stored; a key another curation stored after that read
    is skipped by the insert itself (first wins), and other rows of the batch still land."""
    from feedback_assets.store import schema
    from feedback_assets.store.bulk import insert_rows

    assert add_splits(store, "dep", "2026-11-01", _rows(["a"], "eval", "ref")) == 1
    key_a, key_b = prompt_keys(pd.Series(["a", "b"]))
    columns = ["deployment_id", "prompt_key", "cluster_key", "split", "prompt", "version"]
    rows = [("dep", k, k, "train", p, 1) for k, p in ((key_a, "a"), (key_b, "b"))]
    columns.append("created_us")
    rows = [(*r, 0) for r in rows]
    # The key is unique (the DBAPI's own IntegrityError: the rows go through its cursor).
    with pytest.raises(Exception, match="(?i)unique"), store.engine.begin() as conn:
        insert_rows(conn, schema.prompt_splits, columns, rows)
    with store.engine.begin() as conn:
        insert_rows(conn, schema.prompt_splits, columns, rows, skip_conflicts=True)
    held = eval_set(store, "dep")
    assert held.items["prompt"].tolist() == ["a"]  # still eval: the first assignment won
    assert train_prompt_keys(store, "dep") == {key_b}
