"""The bulk insert paths (SQLite executemany, PostgreSQL COPY) keep text and NULLs exact."""

from __future__ import annotations

import pandas as pd
import polars as pl

from feedback_assets.store import FeedbackStore
from feedback_assets.store.feedback_store import INSERT_CHUNK

AWKWARD = [
    "tab\there",
    "new\nline and \r\n windows",
    "back\\slash \\N \\t \\\\",
    'quotes " and "" and \'single\'',
    'comma, separated, "quoted, field"',
    "\\.",
    "line one\n\\.\nline three",
    "unicode: héllo 你好 🎉 \u2028 \u00a0",
    "",
    " ",
    "NULL",
    "\\N",
]


def _frame(texts: list[str | None], prefix: str) -> pd.DataFrame:
    n = len(texts)
    return pd.DataFrame(
        {
            "event_id": [f"{prefix}{i}" for i in range(n)],
            "deployment_id": "dep",
            "model_version_id": [None if i % 2 else f"v\t{i}" for i in range(n)],
            "user_id": [None] * n,
            "prompt": texts,
            "response": list(reversed(texts)),
            "metadata": ['{"k": "a\\tb\\n"}'] * n,
            "latency_ms": [None if i % 3 == 0 else 0.1 * i for i in range(n)],
            "token_count": pd.array([None if i % 2 else i for i in range(n)], dtype="Int64"),
            "timestamp_us": [1_700_000_000_000_000 + i for i in range(n)],
        }
    )


def test_awkward_text_and_nulls_round_trip(store: FeedbackStore) -> None:
    frame = _frame(AWKWARD, "t")
    result = store.insert_events(frame)
    assert (result.inserted, result.duplicates) == (len(AWKWARD), 0)
    back = store.read_events().set_index("event_id").loc[frame["event_id"]]
    assert back["prompt"].tolist() == AWKWARD
    assert back["response"].tolist() == list(reversed(AWKWARD))
    assert back["metadata"].tolist() == ['{"k": "a\\tb\\n"}'] * len(AWKWARD)
    # NULL stays NULL and the empty string stays empty, in every column type.
    assert back["user_id"].isna().all()
    assert [None if pd.isna(v) else v for v in back["model_version_id"]] == [
        None if i % 2 else f"v\t{i}" for i in range(len(AWKWARD))
    ]
    latency = [None if pd.isna(v) else round(float(v), 6) for v in back["latency_ms"]]
    assert latency == [None if i % 3 == 0 else round(0.1 * i, 6) for i in range(len(AWKWARD))]
    tokens = [None if pd.isna(v) else int(v) for v in back["token_count"]]
    assert tokens == [None if i % 2 else i for i in range(len(AWKWARD))]


def test_duplicates_within_and_across_batches_are_counted_exactly(store: FeedbackStore) -> None:
    first = store.insert_events(_frame(["a", "b", "c"], "d"))
    assert (first.inserted, first.duplicates) == (3, 0)
    again = pd.concat([_frame(["a", "b", "c", "d"], "d"), _frame(["x"], "d")])
    # d0..d2 exist, d3 is new, and d0 appears twice in this batch.
    second = store.insert_events(again)
    assert (second.inserted, second.duplicates) == (1, 4)
    assert store.counts()["events"] == 4
    # Only a repeat inside one fresh batch: no row exists yet, one copy is still a duplicate.
    third = store.insert_events(pd.concat([_frame(["n"], "fresh"), _frame(["n", "m"], "fresh")]))
    assert (third.inserted, third.duplicates) == (2, 1)
    assert store.counts()["events"] == 6


def test_polars_input_and_multi_chunk_batches(store: FeedbackStore) -> None:
    n = INSERT_CHUNK + 10
    frame = pl.DataFrame(
        {
            "event_id": [f"p{i}" for i in range(n)],
            "deployment_id": "dep",
            "prompt": "p",
            "response": "r",
            "metadata": "{}",
            "timestamp_us": 1,
        }
    )
    result = store.insert_events(frame)
    assert (result.inserted, result.duplicates) == (n, 0)
    repeat = store.insert_events(frame.slice(n - 20, 20))
    assert (repeat.inserted, repeat.duplicates) == (0, 20)
    assert store.counts()["events"] == n
