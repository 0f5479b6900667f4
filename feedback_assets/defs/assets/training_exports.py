"""training_exports: each deployment's curated day written in every trainer format + manifest."""

import dagster as dg
from pydantic import Field

from feedback_assets.defs.partitions import daily_partitions, window_us
from feedback_assets.domain.export.registry import describe, format_names, resolve_formats
from feedback_assets.domain.export.training_exports import CODE_VERSION
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.services.training_exports import export_partition
from feedback_assets.store.exports import deployments_in_partition


class TrainingExportsConfig(dg.Config):
    formats: list[str] = Field(
        default=list(format_names()), description=f"export formats (name or alias): {describe()}"
    )
    system_prompt: str | None = None


@dg.asset(
    group_name="feedback_loop",
    partitions_def=daily_partitions,
    deps=["curated_sets"],
    kinds={"python", "parquet"},
    code_version=CODE_VERSION,
    description="JSONL, OpenAI chat, HF dataset, Parquet, CSV, DPO and KTO files per deployment.",
    check_specs=[
        dg.AssetCheckSpec(
            "exports_load_back",
            asset="training_exports",
            blocking=True,
            description="Every file loads back with the manifest's counts and checksums; no PII.",
        )
    ],
)
def training_exports(
    context: dg.AssetExecutionContext,
    config: TrainingExportsConfig,
    feedback_store: FeedbackStoreResource,
):
    store = feedback_store.store()
    root = feedback_store.resolved_export_root()
    pk = context.partition_key
    start, end = window_us(context)
    formats = [f.name for f in resolve_formats(config.formats)]  # bad names fail before writing
    manifests, problems = {}, {}
    for deployment in deployments_in_partition(store, pk):
        manifest, found = export_partition(
            store,
            root,
            pk,
            deployment,
            formats,
            config.system_prompt,
            source_window={"start_us": start, "end_us": end},
        )
        if manifest is not None:
            manifests[deployment] = manifest
        if found:
            problems[deployment] = found
    yield dg.MaterializeResult(
        metadata={
            "export_root": dg.MetadataValue.path(root),
            "batches": dg.MetadataValue.json(
                {
                    d: {"batch_id": m["batch_id"], "counts": m.get("counts", {})}
                    for d, m in manifests.items()
                }
            ),
            "files": dg.MetadataValue.json(
                {d: {f: v["path"] for f, v in m["files"].items()} for d, m in manifests.items()}
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name="exports_load_back",
        passed=not problems,
        metadata={"problems": dg.MetadataValue.json(problems), "batches_checked": len(manifests)},
    )
