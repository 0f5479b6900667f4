"""live_drift: the last minutes of a deployment's traffic, judged against its reference.

Refreshed every few minutes by live_drift_schedule (one run per deployment with recent traffic),
so the trigger sensors read verdicts instead of computing them. One window per time bucket (the
window length): a refresh in the same bucket replaces that window's drift_history row (source
"live") and its quality aggregate. The tests are the statistical, output and feedback ones; the
embedding test (MMD permutations) and the LLM judge are left to the daily assets.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from feedback_assets.defs.partitions import deployment_partitions
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import DriftSettings, QualitySettings, TriggerSettings
from feedback_assets.services.live_windows import refresh_live_window
from feedback_assets.services.windows import WindowSettings


class LiveDriftConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description="ISO time the window ends at, with its offset (default: now); the schedule "
        "sets its tick time, so a retried run judges the same window",
    )

    def end(self) -> datetime:
        if self.as_of is None:
            return datetime.now(UTC)
        try:
            at = datetime.fromisoformat(self.as_of)
        except ValueError as exc:
            raise ValueError(f"as_of: {self.as_of!r} is not an ISO date-time") from exc
        if at.tzinfo is None:
            raise ValueError(f"as_of: {self.as_of!r} needs a UTC offset, e.g. +00:00")
        return at


@dg.asset(
    group_name="feedback_loop",
    partitions_def=deployment_partitions,
    # Dagster's default mapping from day x deployment to deployment: every day of that deployment.
    deps=["raw_inferences"],
    kinds={"python", "sql"},
    description="Drift verdict and quality mean of the last trigger_settings.live_window_minutes.",
)
def live_drift(
    context: dg.AssetExecutionContext,
    config: LiveDriftConfig,
    feedback_store: FeedbackStoreResource,
    trigger_settings: TriggerSettings,
    drift_settings: DriftSettings,
    quality_settings: QualitySettings,
) -> dg.MaterializeResult:
    deployment_id = context.partition_key
    live = refresh_live_window(
        feedback_store.store(),
        deployment_id,
        config.end(),
        trigger_settings.live_window_minutes,
        WindowSettings.from_resources(deployment_id, quality_settings, drift_settings),
    )
    report = live.report
    return dg.MaterializeResult(
        metadata={
            "deployment_id": deployment_id,
            "window": live.key,
            "window_start": _iso(live.start_us),
            "events": live.events,
            "quality_n": live.quality_n,
            **({"quality_mean": live.quality_mean} if live.quality_mean is not None else {}),
            **(
                {
                    "drift_score": float(report.score),
                    "drifted": bool(report.drifted),
                    "severity": report.severity,
                    "reasons": dg.MetadataValue.md(
                        "\n".join(f"- {r}" for r in report.reasons[:5]) or "_no drift_"
                    ),
                }
                if report is not None
                else {"severity": "insufficient_data"}
            ),
        }
    )


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")
