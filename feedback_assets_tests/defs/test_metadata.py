"""Metadata the UI shows: numbers rounded but never to 0.000, typed tables, bullet lists."""

import math

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from feedback_assets.defs.metadata import (
    bullets,
    counts_table,
    files_table,
    num,
    preview,
    retraining_metadata,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5567899187531089, 0.5568),
        (4.6e-26, 4.6e-26),  # a tiny p-value keeps its exponent
        (1.23456e-9, 1.235e-9),
        (325.34, 325.3),
        (-6.27449, -6.274),
        (0.0, 0.0),
        (3, 3.0),
    ],
)
def test_num_keeps_four_significant_digits(value, expected):
    assert num(value) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("value", [None, float("nan"), float("inf")])
def test_num_of_missing_values_is_none(value):
    assert num(value) is None


def test_preview_is_a_typed_table_with_rounded_numbers_and_cut_text():
    frame = pd.DataFrame(
        {
            "feature": ["response_length", "x" * 100, None],
            "p_value": [4.6123e-26, np.nan, 0.0312345],
            "n": [10, 20, 30],
            "drifted": [True, False, True],
            "unused": [1, 2, 3],
        }
    )
    value = preview(frame, ["feature", "p_value", "n", "drifted", "missing"], rows=3, width=12)
    assert isinstance(value, dg.TableMetadataValue)
    types = {c.name: c.type for c in value.schema.columns}
    assert types == {"feature": "string", "p_value": "float", "n": "int", "drifted": "bool"}
    rows = [r.data for r in value.records]
    assert rows[0] == {"feature": "response_le…", "p_value": 4.612e-26, "n": 10, "drifted": True}
    assert rows[1]["p_value"] is None  # NaN is not valid JSON for the UI
    assert rows[2]["feature"] is None and rows[2]["p_value"] == 0.03123
    assert all(not isinstance(v, float) or math.isfinite(v) for r in rows for v in r.values())


def test_preview_of_an_empty_frame_keeps_its_columns():
    value = preview(pd.DataFrame({"a": pd.Series([], dtype="float64")}), ["a"])
    assert value.records == [] and [c.name for c in value.schema.columns] == ["a"]


def test_counts_table_largest_first():
    value = counts_table({"EMAIL": 3, "IP": 7, "SSN": 3}, "entity")
    assert [r.data for r in value.records] == [
        {"entity": "IP", "count": 7},
        {"entity": "EMAIL", "count": 3},
        {"entity": "SSN", "count": 3},
    ]
    assert [c.type for c in value.schema.columns] == ["string", "int"]


def test_bullets_one_item_per_line():
    assert bullets(["a", " b ", "c"], limit=2).value == "- a\n- b"
    assert bullets([], empty="_no drift_").value == "_no drift_"


def test_files_table_lists_format_rows_and_path():
    value = files_table(
        {"jsonl": {"rows": 290, "path": "dep/2026-01-01/curated.jsonl"}, "kto": {"path": "k"}}
    )
    assert [r.data for r in value.records] == [
        {"format": "jsonl", "rows": 290, "path": "dep/2026-01-01/curated.jsonl"},
        {"format": "kto", "rows": 0, "path": "k"},
    ]


def test_retraining_metadata_is_short_and_keeps_numbers():
    out = retraining_metadata(
        {
            "deployment_id": "bot",
            "trigger_types": ["data_count", "drift_threshold"],
            "reasons": ["4,712 new examples", "drift in 5 windows"],
            "source_batch_ids": ["bot_2026-01-01", "bot_2026-01-02"],
            "examples": 5145,
            "duration_s": 0.271234,
        }
    )
    assert out["trigger_types"] == "data_count, drift_threshold"
    assert out["reasons"].value == "- 4,712 new examples\n- drift in 5 windows"
    assert out["source_batches"] == 2
    assert out["source_batch_ids"].value == "- bot_2026-01-01\n- bot_2026-01-02"
    assert out["examples"] == 5145 and out["duration_s"] == 0.2712
    # Dagster accepts every value as metadata.
    dg.MaterializeResult(metadata=out)
