"""training_exports: each deployment's curated day written in every trainer format + manifest."""

import dagster as dg

from feedback_assets.defs.partitions import daily_partitions, window_us
from feedback_assets.domain.export.export import EXPORT_FORMATS
from feedback_assets.domain.export.training_exports import (
    CODE_VERSION,
    batch_id_for,
    training_export,
)
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.store.exports import record_batch
from feedback_assets.store.windows import partition_windows


class TrainingExportsConfig(dg.Config):
    formats: list[str] = list(EXPORT_FORMATS)
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
    curated_all = store.read_table("curated_examples", partition_key=pk)
    manifests, problems = {}, {}
    for deployment, window in partition_windows(store, pk).items():
        curated = curated_all[curated_all["deployment_id"] == deployment].reset_index(drop=True)
        manifest, found = training_export(
            curated,
            window,
            root,
            batch_id_for(deployment, pk),
            formats=config.formats,
            source_window={"partition_key": pk, "start_us": start, "end_us": end},
            filters={"deployment_id": deployment},
            config={"system_prompt": config.system_prompt},
            system_prompt=config.system_prompt,
        )
        if manifest is not None:
            record_batch(
                store,
                manifest,
                deployment_id=deployment,
                root=root,
                event_ids=curated["event_id"].tolist(),
                partition_key=pk,
            )
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
