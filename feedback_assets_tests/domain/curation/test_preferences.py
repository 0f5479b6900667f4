import json

import numpy as np
import pandas as pd
import pytest

from feedback_assets.domain.curation.preferences import (
    KTO_COLUMNS,
    PAIR_COLUMNS,
    kto_rows,
    mine_preference_pairs,
)

TS = pd.Timestamp("2026-01-01", tz="UTC")
VOCAB = [f"w{i}" for i in range(3000)]


def text(seed: int, n: int = 40) -> str:
    return " ".join(np.random.default_rng(seed).choice(VOCAB, n))


def events(rows: list[dict]) -> pd.DataFrame:
    out = []
    for i, r in enumerate(rows):
        meta = r.pop("meta", {})
        base = {
            "deployment_id": "dep",
            "model_version_id": "m1",
            "session_id": None,
            "metadata": json.dumps(meta),
            "timestamp": TS + pd.Timedelta(minutes=i),
        }
        out.append({**base, **r})
    return pd.DataFrame(out)


def signals(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "signal_id": f"s{i}",
                "event_id": r[0],
                "signal_type": r[1],
                "user_id": f"u{i}",
                "edited_response": r[2] if len(r) > 2 else None,
                "metadata": "{}",
                "timestamp": TS + pd.Timedelta(seconds=i),
            }
            for i, r in enumerate(rows)
        ]
    )


def by_source(pairs: pd.DataFrame, source: str) -> list[tuple[str, str, str]]:
    p = pairs[pairs["source"] == source]
    return sorted(zip(p["prompt"], p["chosen"], p["rejected"], strict=True))


def test_edit_pairs_and_identical_edit_skipped() -> None:
    ev = events(
        [
            {"event_id": "a", "prompt": "pa", "response": "old answer"},
            {"event_id": "b", "prompt": "pb", "response": "same answer"},
        ]
    )
    sig = signals([("a", "edit", "new answer"), ("b", "edit", "Same   answer")])
    pairs = mine_preference_pairs(ev, sig)
    assert list(pairs.columns) == list(PAIR_COLUMNS)
    assert by_source(pairs, "edit") == [("pa", "new answer", "old answer")]
    assert pairs.iloc[0]["chosen_event_id"] == "a" == pairs.iloc[0]["rejected_event_id"]


def test_regenerate_pairs_from_metadata_link() -> None:
    ev = events(
        [
            {"event_id": "a", "prompt": "q", "response": "first try"},
            {
                "event_id": "b",
                "prompt": "q",
                "response": "second try",
                "meta": {"regenerate_of": "a"},
            },
            {"event_id": "c", "prompt": "r", "response": "r first"},
            {
                "event_id": "d",
                "prompt": "r",
                "response": "r second",
                "meta": {"regenerate_of": "c"},
            },
            {"event_id": "e", "prompt": "s", "response": "s first"},
            {
                "event_id": "f",
                "prompt": "s",
                "response": "s second",
                "meta": {"regenerate_of": "e"},
            },
        ]
    )
    # d was itself thumbed down and f was reported: neither is an accepted regeneration.
    sig = signals(
        [
            ("a", "regenerate"),
            ("c", "regenerate"),
            ("d", "thumbs_down"),
            ("e", "regenerate"),
            ("f", "report"),
        ]
    )
    pairs = mine_preference_pairs(ev, sig)
    regen = pairs[pairs["source"] == "regenerate"]
    assert by_source(pairs, "regenerate") == [("q", "second try", "first try")]
    assert regen.iloc[0]["chosen_event_id"] == "b" and regen.iloc[0]["rejected_event_id"] == "a"


def test_regenerate_fallback_same_session_next_event() -> None:
    ev = events(
        [
            {"event_id": "a", "prompt": "q", "response": "v1", "session_id": "s1"},
            {"event_id": "x", "prompt": "other", "response": "zz", "session_id": "s1"},
            {"event_id": "b", "prompt": "q", "response": "v2", "session_id": "s1"},
            {"event_id": "c", "prompt": "q", "response": "v3", "session_id": "s2"},
        ]
    )
    pairs = mine_preference_pairs(ev, signals([("a", "regenerate")]))
    assert by_source(pairs, "regenerate") == [("q", "v2", "v1")]


def test_thumbs_pairs_same_and_near_duplicate_prompt() -> None:
    prompt = text(1, 60)
    near_prompt = " ".join(prompt.split()[:-1] + ["different"])
    ev = events(
        [
            {"event_id": "up", "prompt": prompt, "response": "good"},
            {"event_id": "down", "prompt": prompt, "response": "bad"},
            {"event_id": "down2", "prompt": near_prompt, "response": "worse"},
            {"event_id": "lone", "prompt": text(2, 60), "response": "meh"},
            {"event_id": "other_dep", "prompt": prompt, "response": "x", "deployment_id": "dep2"},
        ]
    )
    sig = signals(
        [
            ("up", "thumbs_up"),
            ("down", "thumbs_down"),
            ("down2", "thumbs_down"),
            ("lone", "thumbs_down"),
            ("other_dep", "thumbs_down"),
        ]
    )
    pairs = mine_preference_pairs(ev, sig)
    thumbs = pairs[pairs["source"] == "thumbs"].sort_values("rejected_event_id")
    assert thumbs["rejected_event_id"].tolist() == ["down", "down2"]
    assert set(thumbs["chosen_event_id"]) == {"up"}
    assert set(thumbs["chosen"]) == {"good"} and set(thumbs["deployment_id"]) == {"dep"}


def test_thumbs_chosen_is_best_and_quality_refusal_excluded() -> None:
    ev = events(
        [
            {"event_id": "u1", "prompt": "p", "response": "ok"},
            {"event_id": "u2", "prompt": "p", "response": "great"},
            {"event_id": "u3", "prompt": "p", "response": "I cannot help"},
            {"event_id": "d", "prompt": "p", "response": "bad"},
        ]
    )
    sig = signals(
        [
            ("u1", "thumbs_up"),
            ("u2", "thumbs_up"),
            ("u3", "thumbs_up"),
            ("u3", "share"),
            ("d", "thumbs_down"),
        ]
    )
    q = pd.DataFrame(
        {
            "event_id": ["u1", "u2", "u3"],
            "score": [0.6, 0.9, 0.99],
            "refusal_passed": [True, True, False],
        }
    )
    pairs = mine_preference_pairs(ev, sig, q)
    assert by_source(pairs, "thumbs") == [("p", "great", "bad")]


def test_no_signals_no_pairs() -> None:
    ev = events([{"event_id": "a", "prompt": "p", "response": "r"}])
    assert mine_preference_pairs(ev, None).empty


def test_kto_labels() -> None:
    ev = events(
        [
            {"event_id": "up", "prompt": "p1", "response": "r-up"},
            {"event_id": "down", "prompt": "p2", "response": "r-down"},
            {"event_id": "rep", "prompt": "p3", "response": "r-rep"},
            {"event_id": "both", "prompt": "p4", "response": "r-both"},
            {"event_id": "ed", "prompt": "p5", "response": "r-ed"},
            {"event_id": "none", "prompt": "p6", "response": "r-none"},
            {"event_id": "uprep", "prompt": "p7", "response": "r-uprep"},
        ]
    )
    sig = signals(
        [
            ("up", "thumbs_up"),
            ("down", "thumbs_down"),
            ("rep", "report"),
            ("both", "thumbs_up"),
            ("both", "thumbs_down"),
            ("ed", "edit", "r-ed-fixed"),
            ("uprep", "thumbs_up"),
            ("uprep", "report"),
        ]
    )
    rows = kto_rows(ev, sig)
    assert list(rows.columns) == list(KTO_COLUMNS)
    got = sorted(zip(rows["event_id"], rows["completion"], rows["label"], strict=True))
    assert got == sorted(
        [
            ("up", "r-up", True),
            ("down", "r-down", False),
            ("rep", "r-rep", False),
            ("ed", "r-ed-fixed", True),
            ("ed", "r-ed", False),
            ("uprep", "r-uprep", False),
        ]
    )
    assert rows["label"].dtype == bool


def test_kto_keeps_one_row_per_event_label_and_text() -> None:
    """A thumbed-up answer whose edit repeats it is one True row; an edit that changes it is a
    second True row; rows come in the events' order."""
    ev = events(
        [
            {"event_id": "same", "prompt": "p1", "response": "r-same"},
            {"event_id": "new", "prompt": "p2", "response": "r-new"},
            {"event_id": "plain", "prompt": "p3", "response": "r-plain"},
        ]
    )
    sig = signals(
        [
            ("same", "thumbs_up"),
            ("same", "edit", "r-same"),
            ("new", "thumbs_up"),
            ("new", "edit", "r-new-fixed"),
            ("plain", "thumbs_up"),
        ]
    )
    rows = kto_rows(ev, sig)
    got = list(zip(rows["event_id"], rows["completion"], rows["label"], strict=True))
    assert got == [
        ("same", "r-same", True),
        ("new", "r-new", True),
        ("new", "r-new-fixed", True),
        ("plain", "r-plain", True),
    ]


def test_invalid_metadata_does_not_break_batch() -> None:
    ev = events(
        [
            {"event_id": "a", "prompt": "q", "response": "one"},
            {"event_id": "b", "prompt": "q", "response": "two", "meta": {"regenerate_of": "a"}},
        ]
    )
    ev.loc[0, "metadata"] = "not json {"
    pairs = mine_preference_pairs(ev, signals([("a", "regenerate")]))
    assert by_source(pairs, "regenerate") == [("q", "two", "one")]


def test_missing_column_named() -> None:
    with pytest.raises(ValueError, match="events.response"):
        kto_rows(pd.DataFrame({"event_id": ["a"], "deployment_id": ["d"], "prompt": ["p"]}), None)
