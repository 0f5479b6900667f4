"""Shared by the retraining sensors and schedule: evaluate, gate, coalesce, record, request."""

from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg

from feedback_assets.domain.triggers.triggers import coalesce, evaluate, gate
from feedback_assets.facade.live_window import live_quality_scores, refresh_live_drift
from feedback_assets.resources.loop_settings import DriftSettings, TriggerSettings
from feedback_assets.store.feedback_store import FeedbackStore
from feedback_assets.store.trigger_state import (
    last_retraining,
    load_trigger_state,
    record_decisions,
)

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
# Types a sensor may fold into its run when they fire at the same time.
COALESCED = ("drift_threshold", "quality_drop", "data_count")


def retraining_in_flight(instance: dg.DagsterInstance, deployment_id: str) -> bool:
    runs = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name="retraining_job",
            tags={"feedback/deployment": deployment_id},
            statuses=IN_FLIGHT,
        ),
        limit=1,
    )
    return bool(runs)


def evaluate_trigger(
    instance: dg.DagsterInstance,
    store: FeedbackStore,
    trigger_type: str,
    source: str,
    settings: TriggerSettings,
    drift: DriftSettings,
    now: datetime | None = None,
) -> tuple[list[dg.RunRequest], list[str]]:
    """Run requests for deployments where `trigger_type` fired, and why the others skipped."""
    now = now or datetime.now(UTC)
    config = settings.config()
    requests, skips = [], []
    for deployment in store.deployments():
        if trigger_type == "drift_threshold":
            # The last minutes of traffic get a verdict before any partition is materialized.
            refresh_live_drift(store, deployment, now, settings.live_window_minutes, drift.config())
        state = load_trigger_state(store, deployment, retraining_in_flight(instance, deployment))
        if trigger_type in COALESCED:
            state = replace(state, quality_scores=live_quality_scores(store, deployment))
        types = COALESCED if trigger_type in COALESCED else (trigger_type,)
        decisions = evaluate(
            state, now, config, types=[t for t in types if t in config.enabled_types]
        )
        mine = next((d for d in decisions if d.type == trigger_type), None)
        if mine is None:
            skips.append(f"{deployment}: {trigger_type} is disabled")
            continue
        if not mine.fired:
            record_decisions(store, deployment, source, [mine], "none")
            skips.append(f"{deployment}: {mine.reason}")
            continue
        held = gate(state, now, config)
        if held:
            record_decisions(store, deployment, source, [mine], "held")
            skips.append(f"{deployment}: {trigger_type} fired ({mine.reason}) but held: {held}")
            continue
        last = last_retraining(store, deployment)
        anchor = last["run_id"] if last else "initial"
        # Same reason, same key: the latest drift window, else the day.
        latest = (
            state.drift_windows[-1].window
            if trigger_type == "drift_threshold" and state.drift_windows
            else None
        )
        window = f"{anchor}:{latest or now.strftime('%Y-%m-%d')}"
        plan = coalesce(deployment, [d for d in decisions if d.fired], window)
        assert plan is not None  # `mine` fired
        if settings.mode == "suggest":
            record_decisions(
                store,
                deployment,
                source,
                [d for d in decisions if d.fired],
                "suggested",
                plan.run_key,
            )
            skips.append(
                f"{deployment}: would retrain ({'; '.join(plan.reasons)}) — suggest-only mode"
            )
            continue
        record_decisions(
            store, deployment, source, [d for d in decisions if d.fired], "launched", plan.run_key
        )
        requests.append(
            dg.RunRequest(
                run_key=plan.run_key,
                job_name="retraining_job",
                partition_key=deployment,
                run_config={
                    "ops": {
                        "retraining_runs": {
                            "config": {
                                "trigger_types": plan.trigger_types,
                                "reasons": plan.reasons,
                            }
                        }
                    }
                },
                tags={**plan.tags, "feedback/source": source},
            )
        )
    return requests, skips
