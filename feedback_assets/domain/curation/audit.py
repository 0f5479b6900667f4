"""Independent re-checks of curated rows: the promises the curated_sets checks make."""

from __future__ import annotations

import pandas as pd

from feedback_assets.domain.curation.curation import CurationConfig, aggregate_signals
from feedback_assets.domain.curation.joins import quality_of


def unapproved_sft(
    curated: pd.DataFrame,
    quality: pd.DataFrame | None,
    signals: pd.DataFrame | None,
    config: CurationConfig,
) -> list[str]:
    """Event ids of sft rows whose target users did not approve.

    An edit row must carry the event's latest edited text of an unreported event; any other sft
    row must have no thumbs down, regenerate or report, quality >= min_quality_score, and either
    net-positive feedback or a judge score >= min_judge_score.
    """
    sft = curated[curated["role"] == "sft"]
    if sft.empty:
        return []
    agg = (
        aggregate_signals(signals).drop_duplicates("event_id").set_index("event_id")
        if signals is not None and len(signals)
        else pd.DataFrame()
    )
    q = quality_of(quality, sft["event_id"]).set_axis(sft.index)

    def col(frame: pd.DataFrame, name: str, default: object) -> pd.Series:
        if name not in frame:
            return pd.Series(default, index=sft.index)
        return sft["event_id"].map(frame[name]).fillna(default)  # type: ignore[arg-type]

    reported = col(agg, "n_report", 0) > 0
    negatives = (col(agg, "n_thumbs_down", 0) > 0) | (col(agg, "n_regenerate", 0) > 0) | reported
    score, judge = q["score"], q["judge_score"]
    approved = (col(agg, "signal_score", 0.0).astype(float) > 0) | (judge >= config.min_judge_score)
    good_answer = ~negatives & (score >= config.min_quality_score) & approved
    edit = sft["curation_source"] == "user_edit"
    edit_ok = edit & ~reported & (sft["response"] == col(agg, "edited_response", None))
    bad = sft[(edit & ~edit_ok) | (~edit & ~good_answer)]
    return sorted(bad["event_id"].astype(str))
