"""Jobs: the feedback loop of one deployment-day, a deployment's live window, its retraining.

Each runs its steps in the run's own process: a run's steps form a chain, and a process per
step costs seconds of imports. Runs, one per partition, are what the run queue spreads out.
The jobs take their partitions from their assets (a job's own partitions_def is deprecated in
Dagster 1.13 and warns wherever this module is imported outside the code location).
"""

import dagster as dg

from feedback_assets.defs.release_memory import RELEASE_MEMORY_HOOKS

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
    executor_def=dg.in_process_executor,
    hooks=RELEASE_MEMORY_HOOKS,  # steps share the process: each step's peak, not their sum
    description="One deployment-day of the loop: raw -> sanitized -> quality -> drift -> curated -> exports.",
)

retraining_job = dg.define_asset_job(
    "retraining_job",
    selection=["retraining_runs", "candidate_evaluations", "model_promotions"],
    executor_def=dg.in_process_executor,
    description=(
        "Bundle exports -> train a candidate -> evaluate it against the current model -> "
        "promote it only if not worse (then reset the drift reference)."
    ),
)

model_rollback_job = dg.define_asset_job(
    "model_rollback_job",
    selection=["model_promotions"],
    executor_def=dg.in_process_executor,
    description="Serve the previous model version again (the model_regression sensor's action).",
)

live_drift_job = dg.define_asset_job(
    "live_drift_job",
    selection=["live_drift"],
    executor_def=dg.in_process_executor,
    description="Judge a deployment's last minutes of traffic (drift verdict, quality mean).",
)
