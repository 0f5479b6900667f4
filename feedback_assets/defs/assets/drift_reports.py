"""drift_reports: each deployment's day compared with its fixed reference window."""

import base64
import json
from pathlib import Path

import dagster as dg
import pandas as pd

from feedback_assets.defs.metadata import preview
from feedback_assets.defs.partitions import daily_partitions, window_us
from feedback_assets.domain.drift.drift import results_frame
from feedback_assets.domain.drift.drift_config import DriftConfig
from feedback_assets.domain.drift.drift_reports import drift_report
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.store.references import ensure_reference
from feedback_assets.store.windows import partition_windows, window_between


class DriftReportsConfig(dg.Config):
    min_samples: int = 100
    alpha: float = 0.05
    correction: str = "bh"
    reference_days: int = 2
    categorical_metadata_fields: list[str] = ["source"]


@dg.asset(
    group_name="feedback_loop",
    partitions_def=daily_partitions,
    deps=["quality_scores"],
    kinds={"python", "sql"},
    description="Statistical, embedding, output and feedback drift per deployment vs its reference.",
    check_specs=[
        dg.AssetCheckSpec(
            "no_drift", asset="drift_reports", description="Fails (warn) when a deployment drifted."
        ),
    ],
)
def drift_reports(
    context: dg.AssetExecutionContext,
    config: DriftReportsConfig,
    feedback_store: FeedbackStoreResource,
    embedder: EmbedderResource,
):
    store = feedback_store.store()
    pk = context.partition_key
    start, end = window_us(context)
    settings = DriftConfig(
        min_samples=config.min_samples,
        alpha=config.alpha,
        correction=config.correction,
        categorical_metadata_fields=tuple(config.categorical_metadata_fields),
    )
    plot_dir = feedback_store.settings.data_dir / "plots" / pk
    results, history, verdicts, plots = [], [], {}, {}
    for deployment, current in partition_windows(store, pk).items():
        ref = ensure_reference(store, deployment, config.reference_days)
        reference = window_between(store, deployment, int(ref["start_us"]), int(ref["end_us"]))
        report, plot = drift_report(
            reference,
            current,
            deployment_id=deployment,
            embed=embedder.embed,
            config=settings,
            plot_path=plot_dir / f"{deployment}.png",
        )
        results.append(results_frame(report))
        verdicts[deployment] = {
            "drifted": report.drifted,
            "severity": report.severity,
            "score": round(report.score, 4),
        }
        if plot is not None:
            plots[deployment] = plot
        history.append(
            {
                "id": f"asset:{pk}:{deployment}",
                "deployment_id": deployment,
                "source": "asset",
                "window_start_us": start,
                "window_end_us": end,
                "drifted": report.drifted,
                "severity": report.severity,
                "score": report.score,
                "reasons": json.dumps(report.reasons),
                "reference_id": ref["reference_id"],
                "reference_size": report.reference_size,
                "current_size": report.current_size,
                "created_us": end,  # "as of" the window's end: re-runs give identical rows
            }
        )
    table = pd.concat(results, ignore_index=True) if results else pd.DataFrame()
    store.replace_partition("drift_results", pk, table)
    store.replace_partition("drift_history", pk, pd.DataFrame(history))
    drifted = sorted(d for d, v in verdicts.items() if v["drifted"])
    yield dg.MaterializeResult(
        metadata={
            "verdicts": dg.MetadataValue.json(verdicts),
            "drifted_deployments": dg.MetadataValue.json(drifted),
            "reasons": dg.MetadataValue.md(_reasons_md(history)),
            "results": preview(
                table.sort_values("score", ascending=False) if len(table) else table,
                [
                    "deployment_id",
                    "type",
                    "feature",
                    "test",
                    "statistic",
                    "p_value",
                    "threshold",
                    "score",
                    "severity",
                ],
                rows=15,
                width=40,
            ),
            **{f"plot_{d}": _image(p) for d, p in plots.items()},
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_drift",
        passed=not drifted,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"drifted_deployments": dg.MetadataValue.json(drifted)},
    )


def _reasons_md(history: list[dict]) -> str:
    lines = []
    for row in history:
        reasons = json.loads(row["reasons"])
        lines.append(f"**{row['deployment_id']}**: {row['severity']}")
        lines += [f"- {r}" for r in reasons[:5]]
    return "\n".join(lines) or "_no data_"


def _image(path: Path) -> dg.MetadataValue:
    data = base64.b64encode(path.read_bytes()).decode()
    return dg.MetadataValue.md(f"![drift](data:image/png;base64,{data})\n\n`{path}`")
