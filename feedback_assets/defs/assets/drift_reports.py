"""drift_reports: a deployment's day compared with its fixed reference window."""

import base64
from pathlib import Path

import dagster as dg
import numpy as np

from feedback_assets.defs.metadata import bullets, num, preview
from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import DriftSettings
from feedback_assets.services.drift_reports import drift_partition

# Narrow enough for the UI's metadata column (alpha is the same for every test: not repeated).
RESULT_COLUMNS = ["feature", "test", "statistic", "p_value", "score", "drifted"]


@dg.asset(
    group_name="feedback_loop",
    partitions_def=loop_partitions,
    deps=["quality_scores"],
    kinds={"python", "sql"},
    description="Statistical, embedding, output and feedback drift vs the deployment's reference.",
    check_specs=[
        loop_check(
            "no_drift",
            "drift_reports",
            "Fails (warn) when the deployment drifted this day.",
        ),
    ],
)
def drift_reports(
    context: dg.AssetExecutionContext,
    feedback_store: FeedbackStoreResource,
    drift_settings: DriftSettings,
    embedder: EmbedderResource,
):
    store = feedback_store.store()
    part = loop_partition(context)
    plot_dir = feedback_store.settings.data_dir / "plots" / part.day
    skipped: list[str] = []

    def embed(texts: list[str]) -> np.ndarray | None:
        vectors, reason = embedder.embed_or_none(texts)
        if reason:
            skipped.append(reason)  # the embedding tests are skipped, the others still run
        return vectors

    drift = drift_partition(
        store,
        day=part.day,
        deployment_id=part.deployment_id,
        window=(part.start_us, part.end_us),
        config=drift_settings.config(),
        reference_days=drift_settings.reference_days,
        embed=embed,
        plot_path=plot_dir / f"{part.deployment_id}.png",
        embed_key=embedder.identity(),
    )
    report, table = drift.report, drift.results
    yield dg.MaterializeResult(
        metadata={
            "deployment_id": part.deployment_id,
            **({"embeddings_skipped": skipped[0]} if skipped else {}),
            # Numbers, so the UI plots them over partitions.
            "drift_score": num(report.score),
            "drifted": bool(report.drifted),
            "severity": report.severity,
            "tests_drifted": int(table["drifted"].sum()) if len(table) else 0,
            "reference_id": drift.reference_id or "",
            "reasons": bullets(report.reasons, empty="_no drift_"),
            "results": preview(
                table.sort_values("score", ascending=False) if len(table) else table,
                RESULT_COLUMNS,
                rows=15,
                width=40,
            ),
            **({"plot": _image(drift.plot)} if drift.plot is not None else {}),
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_drift",
        passed=not report.drifted,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "drift_score": num(report.score),
            "reasons": bullets(report.reasons, empty="_no drift_", limit=5),
        },
    )


def _image(path: Path) -> dg.MetadataValue:
    data = base64.b64encode(path.read_bytes()).decode()
    return dg.MetadataValue.md(f"![drift](data:image/png;base64,{data})\n\n`{path}`")
