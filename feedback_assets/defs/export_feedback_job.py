"""export_feedback_job: the original library's export stage, launchable from the UI's Launchpad."""

import dagster as dg

from feedback_assets.defs.stages import export_feedback


@dg.job(description="Export a deployment's curated examples in one format (config: format, path).")
def export_feedback_job() -> None:
    export_feedback()
