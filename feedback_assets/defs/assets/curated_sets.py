"""curated_sets: user-edit, high-quality, hard and diverse examples per deployment, deduplicated."""

import dagster as dg
import pandas as pd

from feedback_assets.defs.metadata import counts_by, preview
from feedback_assets.defs.partitions import daily_partitions
from feedback_assets.domain.curation.curation import CurationConfig, curate
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.store.windows import partition_windows

POSITIVE_SOURCES = ("user_edit", "high_quality", "diverse")


class CuratedSetsConfig(dg.Config):
    limit: int = 1000
    min_quality_score: float = 0.8
    max_hard_quality: float = 0.5
    max_refusal_share_in_positives: float = 0.05
    near_duplicate_threshold: float = 0.85


@dg.asset(
    group_name="feedback_loop",
    partitions_def=daily_partitions,
    deps=["quality_scores"],
    kinds={"python", "sql"},
    description="Examples worth learning from, per deployment and day (stored in curated_examples).",
    check_specs=[
        dg.AssetCheckSpec(
            "no_reported_positives",
            asset="curated_sets",
            blocking=True,
            description="Reported answers are never positive training targets.",
        ),
        dg.AssetCheckSpec(
            "curated_unique", asset="curated_sets", description="No event or normalized text twice."
        ),
    ],
)
def curated_sets(
    context: dg.AssetExecutionContext,
    config: CuratedSetsConfig,
    feedback_store: FeedbackStoreResource,
    embedder: EmbedderResource,
):
    store = feedback_store.store()
    pk = context.partition_key
    settings = CurationConfig(
        limit=config.limit,
        min_quality_score=config.min_quality_score,
        max_hard_quality=config.max_hard_quality,
        max_refusal_share_in_positives=config.max_refusal_share_in_positives,
        near_duplicate_threshold=config.near_duplicate_threshold,
    )
    parts, reported = [], set()
    for window in partition_windows(store, pk).values():
        texts = (window.events["prompt"] + "\n" + window.events["response"]).tolist()
        parts.append(
            curate(window.events, window.quality, window.signals, embedder.embed(texts), settings)
        )
        reported |= set(window.signals.loc[window.signals["signal_type"] == "report", "event_id"])
    curated = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    store.replace_partition("curated_examples", pk, curated)
    stored = store.read_table("curated_examples", partition_key=pk)
    positives = stored[stored["curation_source"].isin(POSITIVE_SOURCES)] if len(stored) else stored
    bad = sorted(set(positives["event_id"]) & reported) if len(positives) else []
    text_key = (
        (
            stored["prompt"].str.casefold().str.split().str.join(" ")
            + "\x00"
            + stored["response"].str.casefold().str.split().str.join(" ")
        )
        if len(stored)
        else pd.Series(dtype=str)
    )
    duplicates = (
        int(stored["event_id"].duplicated().sum() + text_key.duplicated().sum())
        if len(stored)
        else 0
    )
    yield dg.MaterializeResult(
        metadata={
            "curated": len(stored),
            "by_strategy": dg.MetadataValue.json(counts_by(stored, "curation_source")),
            "by_deployment": dg.MetadataValue.json(counts_by(stored, "deployment_id")),
            "preview": preview(
                stored,
                ["deployment_id", "curation_source", "curation_score", "prompt", "response"],
                rows=8,
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_reported_positives",
        passed=not bad,
        metadata={"reported_positives": len(bad)},
    )
    yield dg.AssetCheckResult(
        check_name="curated_unique", passed=duplicates == 0, metadata={"duplicates": duplicates}
    )
