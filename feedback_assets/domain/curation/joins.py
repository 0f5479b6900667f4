"""Per-event quality next to another frame's rows: the one join curation, preferences and the
audit all make."""

from __future__ import annotations

import numpy as np
import pandas as pd


def quality_of(quality: pd.DataFrame | None, event_ids: pd.Series) -> pd.DataFrame:
    """Aligned with `event_ids` (positional index): `score` and `judge_score` (NaN where the
    event was not scored) and `refusal` (its refusal check failed). An event's last quality row
    wins; one index lookup serves every column."""
    n = len(event_ids)
    out = pd.DataFrame(
        {
            "score": np.full(n, np.nan),
            "refusal": np.zeros(n, bool),
            "judge_score": np.full(n, np.nan),
        }
    )
    if quality is None or not len(quality):
        return out
    qd = quality if "event_id" in quality.columns else quality.reset_index()
    q = qd.drop_duplicates("event_id", keep="last").set_index("event_id")
    q = q.reindex(np.asarray(event_ids))
    out["score"] = q["score"].astype(float).to_numpy()
    if "refusal_passed" in q:
        out["refusal"] = q["refusal_passed"].eq(False).to_numpy()
    if "judge_score" in q:
        out["judge_score"] = q["judge_score"].astype(float).to_numpy()
    return out
