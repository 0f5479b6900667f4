"""training_exports: a deployment-day's curated examples in every trainer format + manifest."""

import dagster as dg
from pydantic import Field

from feedback_assets.defs.partitions import loop_check, loop_partition, loop_partitions
from feedback_assets.domain.export.registry import describe, format_names, resolve_formats
from feedback_assets.domain.export.training_exports import CODE_VERSION
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import CurationSettings
from feedback_assets.services.training_exports import export_partition


class TrainingExportsConfig(dg.Config):
    formats: list[str] = Field(
        default=list(format_names()), description=f"export formats (name or alias): {describe()}"
    )
    system_prompt: str | None = None


@dg.asset(
    group_name="feedback_loop",
    partitions_def=loop_partitions,
    deps=["curated_sets"],
    kinds={"python", "parquet"},
    code_version=CODE_VERSION,
    description=(
        "JSONL, OpenAI chat, HF dataset, Parquet, CSV (sft rows only), DPO and KTO files + manifest."
    ),
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
    curation_settings: CurationSettings,
):
    store = feedback_store.store()
    root = feedback_store.resolved_export_root()
    part = loop_partition(context)
    formats = [f.name for f in resolve_formats(config.formats)]  # bad names fail before writing
    manifest, problems = export_partition(
        store,
        root,
        part.day,
        part.deployment_id,
        formats,
        config.system_prompt,
        source_window={"start_us": part.start_us, "end_us": part.end_us},
        max_hard_quality=curation_settings.max_hard_quality,
    )
    files = manifest["files"] if manifest else {}
    yield dg.MaterializeResult(
        metadata={
            "deployment_id": part.deployment_id,
            "batch_id": manifest["batch_id"] if manifest else "",
            **{k: v for k, v in (manifest or {}).get("counts", {}).items() if isinstance(v, int)},
            "export_root": dg.MetadataValue.path(root),
            "files": dg.MetadataValue.md(_files_table(files)),
        }
    )
    yield dg.AssetCheckResult(
        check_name="exports_load_back",
        passed=not problems,
        metadata={"problems": dg.MetadataValue.json(problems), "files_checked": len(files)},
    )


def _files_table(files: dict) -> str:
    if not files:
        return "_no batch: no curated examples this day_"
    rows = [f"| {fmt} | {info.get('rows', '')} | `{info['path']}` |" for fmt, info in files.items()]
    return "\n".join(["| format | rows | path |", "|---|---:|---|", *rows])
