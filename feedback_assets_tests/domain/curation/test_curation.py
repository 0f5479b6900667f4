import numpy as np
import pandas as pd
import pytest

from feedback_assets.domain.curation.curation import (
    CURATED_COLUMNS,
    CurationConfig,
    aggregate_signals,
    curate,
    dedupe,
)
from feedback_assets.domain.records import SIGNAL_TYPES

TS = pd.Timestamp("2026-01-01", tz="UTC")
VOCAB = [f"word{i}" for i in range(2000)]


def text(seed: int, n: int = 60) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(VOCAB, n))


def events(rows: list[dict]) -> pd.DataFrame:
    base = {"deployment_id": "dep", "model_version_id": "m1", "metadata": "{}", "timestamp": TS}
    return pd.DataFrame([{**base, **r} for r in rows])


def signals(rows: list[tuple]) -> pd.DataFrame:
    out = []
    for i, r in enumerate(rows):
        event_id, kind = r[0], r[1]
        user = r[2] if len(r) > 2 else f"u{i}"
        edit = r[3] if len(r) > 3 else None
        out.append(
            {
                "signal_id": f"s{i}",
                "event_id": event_id,
                "signal_type": kind,
                "user_id": user,
                "edited_response": edit,
                "metadata": "{}",
                "timestamp": TS + pd.Timedelta(seconds=i),
            }
        )
    return pd.DataFrame(out)


def quality(scores: dict[str, float], refusals: set[str] = frozenset()) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": list(scores),
            "score": list(scores.values()),
            "refusal_passed": [e not in refusals for e in scores],
        }
    )


def only(cfg_source: str, limit: int = 100, **kw: object) -> CurationConfig:
    shares = dict.fromkeys(("user_edit", "high_quality", "hard_example", "diverse"), 0.0)
    shares[cfg_source] = 1.0
    return CurationConfig(limit=limit, strategy_shares=shares, **kw)


def test_aggregate_signals_counts_repeats_once_and_keeps_latest_edit() -> None:
    sig = signals(
        [
            ("a", "thumbs_up", "u1"),
            ("a", "thumbs_up", "u1"),  # same user again: once
            ("a", "thumbs_up", "u2"),
            ("a", "copy", "u1"),
            ("b", "edit", "u1", "first edit"),
            ("b", "edit", "u1", "second edit"),
            ("b", "report", "u3"),
        ]
    )
    agg = aggregate_signals(sig).set_index("event_id")
    assert agg.loc["a", "n_thumbs_up"] == 2
    assert agg.loc["a", "explicit_score"] == 6.0
    assert agg.loc["a", "implicit_score"] == 2.0
    assert agg.loc["a", "signal_score"] == 8.0
    assert agg.loc["b", "edited_response"] == "second edit"
    assert agg.loc["b", "n_edit"] == 1
    assert bool(agg.loc["b", "reported"]) and not bool(agg.loc["a", "reported"])
    assert agg.loc["b", "signal_score"] == 5.0 - 3.0
    assert {f"n_{t}" for t in SIGNAL_TYPES} <= set(agg.columns)


def test_aggregate_signals_rejects_missing_column() -> None:
    with pytest.raises(ValueError, match="signal_type"):
        aggregate_signals(pd.DataFrame({"event_id": ["a"]}))


def test_user_edits_first_with_edited_text_and_score_10() -> None:
    ev = events([{"event_id": f"e{i}", "prompt": f"p{i}", "response": text(i)} for i in range(5)])
    sig = signals([("e1", "edit", "u", "the better answer"), ("e3", "thumbs_up")])
    out = curate(ev, quality({f"e{i}": 0.9 for i in range(5)}), sig, config=CurationConfig(limit=3))
    assert list(out.columns) == list(CURATED_COLUMNS)
    first = out.iloc[0]
    assert first["event_id"] == "e1" and first["curation_source"] == "user_edit"
    assert first["response"] == "the better answer"
    assert first["original_response"] == text(1)
    assert first["curation_score"] == 10.0
    # e0, e2 and e4 score 0.9 but no user approved them: they never fill the unused quota.
    assert out["event_id"].tolist() == ["e1", "e3"]
    assert set(out["role"]) == {"sft"}


def test_high_quality_needs_quality_and_positive_signal() -> None:
    ev = events([{"event_id": f"e{i}", "prompt": f"p{i}", "response": text(i)} for i in range(6)])
    q = quality({"e0": 0.95, "e1": 0.79, "e2": 0.9, "e3": 0.99, "e4": 0.85, "e5": 0.9})
    sig = signals([("e0", "thumbs_up"), ("e1", "thumbs_up"), ("e3", "thumbs_down"), ("e4", "copy")])
    out = curate(ev, q, sig, config=only("high_quality"))
    hq = out[out["curation_source"] == "high_quality"]
    assert hq["event_id"].tolist() == ["e0", "e4"]  # ranked by score; e2 has no signal
    # Unfilled quota stays unused: nothing unapproved (e2) or thumbed down (e3) fills it.
    assert out["event_id"].tolist() == ["e0", "e4"]


def test_hard_examples_ranked_by_difficulty() -> None:
    ev = events([{"event_id": f"e{i}", "prompt": f"p{i}", "response": text(i)} for i in range(5)])
    q = quality({"e0": 0.4, "e1": 0.1, "e2": 0.9, "e3": 0.7, "e4": 0.5})
    sig = signals([("e3", "thumbs_down"), ("e3", "report")])
    out = curate(ev, q, sig, config=only("hard_example", limit=3))
    # e3: 0.3 below perfect + (2 + 3) / 3 negative signal; e1: 0.9; e0: 0.6; e4: 0.5.
    assert out["event_id"].tolist() == ["e3", "e1", "e0"]
    assert set(out["curation_source"]) == {"hard_example"}


@pytest.mark.parametrize("use_embeddings", [True, False])
def test_diverse_covers_every_cluster(use_embeddings: bool) -> None:
    k, per = 6, 30
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(k, 32))
    rows, emb, cluster = [], [], []
    for c in range(k):
        topic = text(1000 + c, 40)
        for j in range(per):
            noise = " ".join(rng.choice(VOCAB, 3))
            rows.append({"event_id": f"c{c}-{j}", "prompt": f"{topic} {noise}", "response": topic})
            emb.append(centers[c] + rng.normal(scale=0.05, size=32))
            cluster.append(c)
    ev = events(rows)
    e = np.array(emb)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    # Cluster 0 has the best quality: quality-first would pick only it without the distance rule.
    # The judge approved every answer (no user feedback), which makes them sft-eligible.
    q = quality({r["event_id"]: (0.95 if r["event_id"].startswith("c0") else 0.85) for r in rows})
    q["judge_score"] = 0.9
    out = curate(ev, q, None, e if use_embeddings else None, only("diverse", limit=k))
    hit = {int(eid.split("-")[0][1:]) for eid in out["event_id"]}
    assert hit == set(range(k))
    assert out.iloc[0]["event_id"].startswith("c0")


def test_near_duplicates_exact_and_id_duplicates_removed() -> None:
    base = text(7, 200)
    words = base.split()
    near = " ".join(words[:-1] + ["changed"])
    df = pd.DataFrame(
        {
            "event_id": ["a", "b", "c", "d", "a", "e"],
            "prompt": ["P", "P", "p", "P", "Q", "P"],
            "response": [base, near, base.upper().replace(" ", "  "), text(8, 200), text(9), "x"],
        }
    )
    out = dedupe(df)
    assert out["event_id"].tolist() == ["a", "d", "e"]


def test_dedupe_keeps_moderately_similar_texts() -> None:
    base = text(11, 200).split()
    variant = base[:100] + text(12, 100).split()  # ~1/3 shingle overlap: not a duplicate
    df = pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "prompt": ["P", "P"],
            "response": [" ".join(base), " ".join(variant)],
        }
    )
    assert len(dedupe(df)) == 2


def test_curate_removes_near_duplicates_across_strategies() -> None:
    base = text(21, 200)
    near = " ".join(base.split()[:-1] + ["tweak"])
    ev = events(
        [
            {"event_id": "a", "prompt": "P", "response": base},
            {"event_id": "b", "prompt": "P", "response": near},
            {"event_id": "c", "prompt": "P", "response": text(22, 200)},
        ]
    )
    sig = signals([("a", "thumbs_up"), ("b", "thumbs_up"), ("c", "thumbs_up")])
    out = curate(ev, quality({"a": 0.9, "b": 0.95, "c": 0.9}), sig, config=CurationConfig(limit=10))
    assert sorted(out["event_id"]) == ["b", "c"]


def test_reported_items_never_positive() -> None:
    ev = events([{"event_id": f"e{i}", "prompt": f"p{i}", "response": text(i)} for i in range(4)])
    q = quality({"e0": 0.99, "e1": 0.99, "e2": 0.99, "e3": 0.99})
    sig = signals(
        [
            ("e0", "thumbs_up"),
            ("e0", "thumbs_up"),
            ("e0", "report"),
            ("e1", "edit", "u", "edited"),
            ("e1", "report"),
            ("e2", "thumbs_up"),
        ]
    )
    out = curate(ev, q, sig, config=CurationConfig(limit=10))
    positives = out[out["curation_source"] != "hard_example"]
    assert not positives["event_id"].isin(["e0", "e1"]).any()
    assert set(out.loc[out["event_id"].isin(["e0", "e1"]), "curation_source"]) <= {"hard_example"}
    assert "e2" in set(positives["event_id"])


def test_refusal_share_capped_in_positives() -> None:
    n = 40
    ev = events([{"event_id": f"e{i}", "prompt": f"p{i}", "response": text(i)} for i in range(n)])
    refusals = {f"e{i}" for i in range(20)}
    q = quality({f"e{i}": (0.99 if i < 20 else 0.9) for i in range(n)}, refusals)
    sig = signals([(f"e{i}", "thumbs_up") for i in range(n)])
    cfg = CurationConfig(limit=40, max_refusal_share_in_positives=0.1)
    out = curate(ev, q, sig, config=cfg)
    positives = out[out["curation_source"] != "hard_example"]
    n_ref = int(positives["event_id"].isin(refusals).sum())
    assert n_ref <= 0.1 * len(positives)
    assert len(positives) >= 20


def test_limit_split_by_shares_and_rows_without_text_skipped() -> None:
    n = 60
    rows = [{"event_id": f"e{i}", "prompt": f"p{i}", "response": text(i)} for i in range(n)]
    rows.append({"event_id": "bad", "prompt": "p", "response": None})
    ev = events(rows)
    q = quality({f"e{i}": (0.9 if i < 30 else 0.2) for i in range(n)})
    sig = signals([(f"e{i}", "thumbs_up") for i in range(30)])
    shares = {"user_edit": 0.0, "high_quality": 0.5, "hard_example": 0.3, "diverse": 0.2}
    out = curate(ev, q, sig, config=CurationConfig(limit=20, strategy_shares=shares))
    counts = out["curation_source"].value_counts().to_dict()
    assert counts["high_quality"] == 10 and counts["hard_example"] == 6
    assert len(out) == 20 and "bad" not in set(out["event_id"])


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ValueError, match="events.prompt"):
        curate(pd.DataFrame({"event_id": ["a"], "deployment_id": ["d"]}), None, None)
    ev = events([{"event_id": "a", "prompt": "p", "response": "r"}])
    with pytest.raises(ValueError, match="embeddings"):
        curate(ev, None, None, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="strategy_shares"):
        CurationConfig(strategy_shares={"nope": 1.0})


def test_aggregate_signals_anonymous_and_redelivered_signals() -> None:
    sig = signals([("a", "thumbs_down", None), ("a", "thumbs_down", None)])
    redelivered = pd.concat([sig, sig.iloc[[0]]], ignore_index=True)  # same signal_id twice
    agg = aggregate_signals(redelivered).set_index("event_id")
    assert agg.loc["a", "n_thumbs_down"] == 2  # two anonymous signals, one re-delivery dropped
    assert agg.loc["a", "signal_score"] == -4.0


@pytest.mark.parametrize("chunk", [8192, 3])
def test_embed_is_called_for_rows_that_can_be_seeds_or_diverse_picks(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Lazy embedding: only approved or edited train rows are embedded, `chunk` texts per call,
    and the selection is the one an aligned matrix of every row's vector gives."""
    import feedback_assets.domain.curation.selection as selection
    from feedback_assets.domain.drift.embedding import hashing_embed

    monkeypatch.setattr(selection, "EMBED_CHUNK", chunk)
    rows = [
        {"event_id": f"e{i}", "prompt": text(i, 12), "response": text(500 + i)} for i in range(40)
    ]
    ev = events(rows)
    q = quality({f"e{i}": (0.9 if i % 2 else 0.3) for i in range(40)})
    q["judge_score"] = 0.9  # the odd rows (quality 0.9) are approved; the even ones are hard
    sig = signals([("e4", "edit", "u1", "a better answer"), ("e6", "thumbs_down")])
    split = np.where(np.arange(40) >= 36, "eval", "train")
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return hashing_embed(texts)

    lazy = curate(ev, q, sig, None, CurationConfig(limit=12), split, embed=embed)
    full = hashing_embed((ev["prompt"] + "\n" + ev["response"]).tolist())
    eager = curate(ev, q, sig, full, CurationConfig(limit=12), split)
    pd.testing.assert_frame_equal(lazy, eager)
    wanted = {f"{r['prompt']}\n{r['response']}" for i, r in enumerate(rows) if i < 36 and i % 2}
    wanted.add(f"{rows[4]['prompt']}\n{rows[4]['response']}")  # the edited row
    assert len(calls) == -(-len(wanted) // chunk) and max(map(len, calls)) <= chunk
    assert [t for c in calls for t in c] == list(dict.fromkeys(t for c in calls for t in c))
    assert set().union(*calls) == wanted
    assert (lazy["curation_source"] == "diverse").any()


def test_an_outage_in_any_embed_chunk_curates_every_row_with_hashed_vectors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import feedback_assets.domain.curation.selection as selection
    from feedback_assets.domain.drift.embedding import hashing_embed

    monkeypatch.setattr(selection, "EMBED_CHUNK", 4)
    rows = [
        {"event_id": f"e{i}", "prompt": text(i, 12), "response": text(500 + i)} for i in range(20)
    ]
    q = quality({f"e{i}": 0.9 for i in range(20)})
    q["judge_score"] = 0.9
    calls: list[int] = []

    def flaky(texts: list[str]) -> np.ndarray | None:
        calls.append(len(texts))
        return None if len(calls) == 2 else other(texts)

    def other(texts: list[str]) -> np.ndarray:  # not curation's own vectors
        return hashing_embed(texts, dim=8, seed=99)

    out = curate(
        events(rows), q, None, None, only("diverse", 5, diverse_min_distance=0.8), embed=flaky
    )
    none = curate(
        events(rows),
        q,
        None,
        None,
        only("diverse", 5, diverse_min_distance=0.8),
        embed=lambda texts: None,
    )
    assert len(calls) == 2  # stopped at the failed chunk
    pd.testing.assert_frame_equal(out, none)
    # The embedder's vectors do change the picks, so a mix would have shown.
    assert not curate(
        events(rows), q, None, None, only("diverse", 5, diverse_min_distance=0.8), embed=other
    ).equals(none)


def test_embed_unavailable_curates_with_hashed_vectors() -> None:
    rows = [
        {"event_id": f"e{i}", "prompt": text(i, 12), "response": text(500 + i)} for i in range(20)
    ]
    q = quality({f"e{i}": 0.9 for i in range(20)})
    q["judge_score"] = 0.9
    out = curate(events(rows), q, None, None, only("diverse", 5), embed=lambda texts: None)
    assert len(out) == 5 and set(out["curation_source"]) == {"diverse"}
