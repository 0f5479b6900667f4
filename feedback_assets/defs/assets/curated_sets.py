"""curated_sets: user-edit, high-quality, hard and diverse examples of a deployment-day."""

import dagster as dg

from feedback_assets.defs.metadata import counts_by, preview
from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import CurationSettings
from feedback_assets.services.curated_sets import audit_curated, curate_window
from feedback_assets.store.windows import deployment_window


@dg.asset(
    group_name="feedback_loop",
    partitions_def=loop_partitions,
    deps=["quality_scores"],
    kinds={"python", "sql"},
    description="Examples worth learning from (stored in curated_examples).",
    check_specs=[
        loop_check(
            "no_reported_positives",
            "curated_sets",
            "Reported answers are never positive training targets.",
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
    window = deployment_window(store, part.day, part.deployment_id)
    texts = (window.events["prompt"] + "\n" + window.events["response"]).tolist()
    embeddings, skipped = embedder.embed_or_none(texts)  # None: curate without diversity vectors
    curated = curate_window(window, embeddings, curation_settings.config())
    store.replace_partition(
        "curated_examples", part.day, curated, deployment_ids=[part.deployment_id]
    )
    stored = store.read_table(
        "curated_examples", partition_key=part.day, deployment_id=part.deployment_id
    )
    audit = audit_curated(stored, window.signals)
    traffic = len(window.events)
    yield dg.MaterializeResult(
        metadata={
            "deployment_id": part.deployment_id,
            **({"embeddings_skipped": skipped} if skipped else {}),
            "curated": len(stored),
            "traffic": traffic,
            "curated_share": round(len(stored) / traffic, 4) if traffic else 0.0,
            "by_strategy": dg.MetadataValue.json(counts_by(stored, "curation_source")),
            "preview": preview(
                stored, ["curation_source", "curation_score", "prompt", "response"], rows=8
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_reported_positives",
        passed=not audit.reported_positives,
        metadata={"reported_positives": len(audit.reported_positives)},
    )
    yield dg.AssetCheckResult(
        check_name="curated_unique",
        passed=audit.duplicates == 0,
        metadata={"duplicates": audit.duplicates},
    )
