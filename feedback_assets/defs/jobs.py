"""Jobs: the daily feedback loop (partitioned) and retraining."""

import dagster as dg

from feedback_assets.defs.partitions import daily_partitions

FEEDBACK_LOOP_ASSETS = (
    "raw_inferences",
    "sanitized_logs",
    "quality_scores",
    "drift_reports",
    "curated_sets",
    "training_exports",
)

feedback_loop_job = dg.define_asset_job(
    "feedback_loop_job",
    selection=list(FEEDBACK_LOOP_ASSETS),
    partitions_def=daily_partitions,
    description="Materializes one day of the loop: raw -> sanitized -> quality -> drift -> curated -> exports.",
)

retraining_job = dg.define_asset_job(
    "retraining_job",
    selection=["retraining_runs"],
    description="Export -> launch training -> record -> register the model -> reset the drift reference.",
)


@dg.definitions
def jobs() -> dg.Definitions:
    return dg.Definitions(jobs=[feedback_loop_job, retraining_job])
