"""curated_sets: a deployment-day's examples, each with a role (sft, preference, kto, eval)."""

import dagster as dg
import numpy as np
import pandas as pd

from feedback_assets.defs.metadata import counts_by, counts_table, num, preview
from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import CurationSettings
from feedback_assets.services.curated_sets import (
    Curation,
    audit_curated,
    curate_window,
    role_shares,
)
from feedback_assets.store.curation_reads import curation_window
from feedback_assets.store.eval_set import EvalSet, add_splits, eval_set, known_splits


@dg.asset(
    group_name="feedback_loop",
    partitions_def=loop_partitions,
    deps=["quality_scores"],
    kinds={"python", "sql"},
    description=(
        "Examples worth learning from, each with a role: sft (approved answers), preference/kto "
        "(the undesirable side), eval (held out; stored in curated_examples and prompt_splits)."
    ),
    check_specs=[
        loop_check(
            "no_reported_positives",
            "curated_sets",
            "Reported answers are never positive training targets.",
            blocking=True,
        ),
        loop_check(
            "sft_rows_approved",
            "curated_sets",
            "Every sft row is an answer users approved, and no sft prompt is in the eval set.",
            blocking=True,
        ),
        loop_check(
            "curated_unique",
            "curated_sets",
            "No event or normalized text twice.",
        ),
    ],
)
def curated_sets(
    context: dg.AssetExecutionContext,
    feedback_store: FeedbackStoreResource,
    curation_settings: CurationSettings,
    embedder: EmbedderResource,
):
    store = feedback_store.store()
    part = loop_partition(context)
    config = curation_settings.config()
    # Curation's columns only, and only the answers of rows that can be selected or paired.
    window = curation_window(
        store, part.day, part.deployment_id, max_hard_quality=config.max_hard_quality
    )
    known = known_splits(store, part.deployment_id)
    skipped: list[str] = []

    def embed(texts: list[str]) -> np.ndarray | None:
        # Called for the rows that can be sft seeds or diverse picks only, in chunks. None (an
        # outage): curate without this run's embeddings.
        vectors, reason = embedder.embed_or_none(texts)
        skipped.extend([reason] if reason else [])
        return vectors

    result = curate_window(window, None, config, known, embed=embed)
    store.replace_partition(
        "curated_examples", part.day, result.curated, deployment_ids=[part.deployment_id]
    )
    added = add_splits(store, part.deployment_id, part.day, result.new_splits)
    stored = store.read_table(
        "curated_examples", partition_key=part.day, deployment_id=part.deployment_id
    )
    held_out = eval_set(store, part.deployment_id)
    audit = audit_curated(stored, window, config, held_out.items["prompt"])
    yield dg.MaterializeResult(
        metadata={
            **_metadata(part.deployment_id, stored, len(window.events), result, added, held_out),
            **({"embeddings_skipped": skipped[0]} if skipped else {}),
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_reported_positives",
        passed=not audit.reported_positives,
        metadata={"reported_positives": len(audit.reported_positives)},
    )
    yield dg.AssetCheckResult(
        check_name="sft_rows_approved",
        passed=not audit.unapproved_sft and audit.eval_overlap == 0,
        metadata={
            "unapproved_sft": len(audit.unapproved_sft),
            "unapproved_examples": dg.MetadataValue.json(audit.unapproved_sft[:10]),
            "sft_prompts_in_eval_set": audit.eval_overlap,
        },
    )
    yield dg.AssetCheckResult(
        check_name="curated_unique",
        passed=audit.duplicates == 0,
        metadata={"duplicates": audit.duplicates},
    )


def _metadata(
    deployment_id: str,
    stored: pd.DataFrame,
    traffic: int,
    result: Curation,
    added: int,
    held_out: EvalSet,
) -> dict:
    """Headline numbers as numeric metadata (plotted over partitions): shares per role."""
    return {
        "deployment_id": deployment_id,
        "curated": len(stored),
        "traffic": traffic,
        "curated_share": num(len(stored) / traffic) if traffic else 0.0,
        **role_shares(stored, traffic),
        "eval_set_version": held_out.version,
        "eval_set_size": len(held_out.items),
        "prompt_splits_added": added,
        "split_conflicts": result.conflicts,
        "by_strategy": counts_table(counts_by(stored, "curation_source"), "strategy"),
        "preview": preview(
            stored,
            ["role", "curation_source", "curation_score", "prompt", "response"],
            rows=5,
            width=60,
        ),
    }
