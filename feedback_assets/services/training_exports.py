"""Training exports: write a batch in registry formats, load it back, record it in the store.

One code path for the training_exports asset (one unit: one day of one deployment) and for the
facade (api.export, api.export_preference_pairs) and the export_feedback op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from feedback_assets.domain.curation.eval_split import near_duplicate_of_any
from feedback_assets.domain.export.export import (
    ExportBlocked,
    ExportInvalid,
    export_stream,
    verify_export,
)
from feedback_assets.domain.export.files import chunks, resolve_under_root
from feedback_assets.domain.export.registry import (
    ExportFormat,
    Role,
    resolve_format,
    resolve_formats,
)
from feedback_assets.domain.export.training_exports import (
    CODE_VERSION,
    batch_id_for,
    preference_frames,
    sft_rows,
)
from feedback_assets.store import FeedbackStore
from feedback_assets.store.eval_set import eval_set, train_prompt_keys
from feedback_assets.store.exports import (
    curated_for,
    forget_batch,
    hard_rows,
    preference_window,
    record_batch,
    stream_sft,
)
from feedback_assets.store.streams import CHUNK_ROWS

FILTERS = ("curation_source", "min_score", "model_version_id", "partition_key")
CURATED_ROLES: tuple[Role, ...] = ("sft",)
PAIR_ROLES: tuple[Role, ...] = ("preference", "kto")


def write_batch(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    batch_id: str,
    sources: Mapping[Role, Iterable[pd.DataFrame]],
    *,
    formats: Iterable[str],
    event_ids: Iterable[str],
    partition_key: str | None = None,
    paths: Mapping[str, str] | None = None,
    system_prompt: str | None = None,
    source_window: Mapping[str, Any] | None = None,
    filters: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Write, load back and record a batch: (manifest, problems). Raises ExportBlocked on PII.

    `sources` gives each role's rows as chunks; `event_ids` (the examples to mark) is read
    after the rows are written, so a list the chunks fill on their way works. A batch with
    problems is not recorded (an earlier record of it is removed), so a retraining never
    takes a batch that failed its load-back check.
    """
    manifest = export_stream(
        sources,
        root,
        batch_id,
        formats=formats,
        paths=paths,
        source_window=source_window,
        filters=filters,
        config={"system_prompt": system_prompt},
        code_version=CODE_VERSION,
        system_prompt=system_prompt,
    )
    problems = verify_export(manifest, root)
    if problems:
        forget_batch(store, batch_id)
        return manifest, problems
    record_batch(
        store,
        manifest,
        deployment_id=deployment_id,
        root=root,
        event_ids=list(event_ids),
        partition_key=partition_key,
    )
    return manifest, problems


def export_partition(
    store: FeedbackStore,
    root: str,
    partition_key: str,
    deployment_id: str,
    formats: Iterable[str],
    system_prompt: str | None = None,
    *,
    source_window: Mapping[str, Any] | None = None,
    max_hard_quality: float = 0.5,
    chunk_rows: int = CHUNK_ROWS,
) -> tuple[dict[str, Any] | None, list[str]]:
    """One deployment's curated day in every format: (manifest, problems).

    SFT formats get the day's `sft` rows only, streamed from the store `chunk_rows` at a time
    into every format at once; pairs and KTO rows (of training prompts only) are mined from
    the part of the day they can come from, and only when a requested format takes them.

    A PII hit blocks the batch: manifest None, the reason in problems, nothing written.
    """
    roles = {spec.role for spec in resolve_formats(formats)}
    event_ids: list[str] = []
    sources: dict[Role, Iterable[pd.DataFrame]] = {}
    if "sft" in roles:
        rows = stream_sft(store, partition_key, deployment_id, chunk_rows)
        sources["sft"] = _noting_ids(rows, event_ids)
    if roles & set(PAIR_ROLES):
        mined = preference_frames(
            hard_rows(store, partition_key, deployment_id),
            preference_window(store, partition_key, deployment_id, max_hard_quality),
            train_prompt_keys(store, deployment_id),
            max_hard_quality,
        )
        sources |= {r: chunks(mined[r], chunk_rows) for r in PAIR_ROLES if r in roles}
    batch_id = batch_id_for(deployment_id, partition_key)
    try:
        return write_batch(
            store,
            root,
            deployment_id,
            batch_id,
            sources,
            formats=formats,
            event_ids=event_ids,
            partition_key=partition_key,
            system_prompt=system_prompt,
            source_window={"partition_key": partition_key, **(source_window or {})},
            filters={"deployment_id": deployment_id},
        )
    except ExportBlocked as exc:
        forget_batch(store, batch_id)
        return None, [str(exc)]


def _noting_ids(rows: Iterable[pd.DataFrame], ids: list[str]) -> Iterator[pd.DataFrame]:
    """The chunks unchanged, their event ids appended to `ids` as they pass."""
    for chunk in rows:
        ids.extend(chunk["event_id"].tolist())
        yield chunk


def _without_eval(store: FeedbackStore, deployment_id: str, sft: pd.DataFrame) -> pd.DataFrame:
    """Drop rows whose prompt is in (or near-duplicates a prompt of) the deployment's eval set:
    rows curated outside the assets (the facade) were not split when they were curated."""
    held_out = eval_set(store, deployment_id).items["prompt"]
    if sft.empty or held_out.empty:
        return sft
    return sft[~near_duplicate_of_any(sft["prompt"], held_out)].reset_index(drop=True)


def _target(
    deployment_id: str, output_path: str | None, spec: ExportFormat, tag: str
) -> tuple[str, str]:
    """(path relative to the root, batch id): the batch directory holds the file by default."""
    if output_path is None:
        batch = batch_id_for(deployment_id, tag)
        return f"{batch}/{spec.file_name}", batch
    return output_path, batch_id_for(deployment_id, output_path)  # escaped and hashed there


def _apply_filters(frame: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ValueError(f"filters: unknown {unknown}; supported: {list(FILTERS)}")
    for key in ("curation_source", "model_version_id", "partition_key"):
        if key in filters:
            value = filters[key]
            wanted = list(value) if isinstance(value, list | tuple | set) else [value]
            frame = frame[frame[key].isin(wanted)]
    if "min_score" in filters:
        frame = frame[frame["curation_score"] >= float(filters["min_score"])]
    return frame


def _write_one(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    target: tuple[str, str],
    spec: ExportFormat,
    frame: pd.DataFrame,
    event_ids: Sequence[str],
    filters: Mapping[str, Any] | None = None,
) -> str:
    relative, batch = target
    _, problems = write_batch(
        store,
        root,
        deployment_id,
        batch,
        {spec.role: [frame]},
        formats=[spec.name],
        paths={spec.name: relative},
        event_ids=event_ids,
        filters=filters,
    )
    if problems:
        raise ExportInvalid(f"export {batch} did not load back: {'; '.join(problems)}")
    return resolve_under_root(root, relative)


def export_curated(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    fmt: str,
    output_path: str | None,
    filters: Mapping[str, Any],
    limit: int | None,
    include_exported: bool,
) -> str:
    """The `sft` curated examples in one format (an sft role name or alias); returns the path."""
    spec = resolve_format(fmt, roles=CURATED_ROLES)
    target = _target(deployment_id, output_path, spec, spec.name)
    resolve_under_root(root, target[0])  # a bad path fails before anything is read
    curated = curated_for(
        store,
        deployment_id,
        exclude_kind=None if include_exported else "export",
        except_batch=target[1],
    )
    curated = _apply_filters(_without_eval(store, deployment_id, sft_rows(curated)), filters)
    curated = (curated.head(limit) if limit is not None else curated).reset_index(drop=True)
    return _write_one(
        store, root, deployment_id, target, spec, curated, curated["event_id"].tolist(), filters
    )


def export_pairs(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    fmt: str,
    output_path: str | None,
    rows_for: Callable[[Role], pd.DataFrame],
) -> str:
    """Preference pairs or KTO rows (`rows_for(role)` mines them); returns the path written.

    The batch is recorded without example marks: pairs do not count as exported examples.
    """
    spec = resolve_format(fmt, roles=PAIR_ROLES)
    target = _target(deployment_id, output_path, spec, f"pairs-{spec.name}")
    resolve_under_root(root, target[0])
    rows = _without_eval(store, deployment_id, rows_for(spec.role))  # held-out prompts stay out
    return _write_one(store, root, deployment_id, target, spec, rows, [])
