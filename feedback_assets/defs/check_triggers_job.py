"""check_triggers_job: the original library's trigger stage, launchable from the UI's Launchpad."""

import dagster as dg

from feedback_assets.defs.stages import check_triggers


@dg.job(description="Evaluate a deployment's retraining triggers; logs every decision.")
def check_triggers_job() -> None:
    check_triggers()
