"""training_exports: each deployment's curated day written in every trainer format + manifest."""

import dagster as dg

from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.domain.export.export import EXPORT_FORMATS
from feedback_assets.domain.export.training_exports import (
    CODE_VERSION,
    batch_id_for,
    training_export,
)
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.store.exports import record_batch
from feedback_assets.store.windows import deployment_window


class TrainingExportsConfig(dg.Config):
    formats: list[str] = list(EXPORT_FORMATS)
    system_prompt: str | None = None


@dg.asset(
    group_name="feedback_loop",
    partitions_def=loop_partitions,
    deps=["curated_sets"],
    kinds={"python", "parquet"},
    code_version=CODE_VERSION,
    description="JSONL, OpenAI chat, HF dataset, Parquet, CSV, DPO and KTO files per deployment.",
    check_specs=[
        loop_check(
            "exports_load_back",
            "training_exports",
            "Every file loads back with the manifest's counts and checksums; no PII.",
            blocking=True,
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
    part = loop_partition(context)
    pk, start, end = part.day, part.start_us, part.end_us
    manifests, problems = {}, {}
    for deployment in [part.deployment_id]:
        window = deployment_window(store, pk, deployment)
        curated = store.read_table("curated_examples", partition_key=pk, deployment_id=deployment)
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
