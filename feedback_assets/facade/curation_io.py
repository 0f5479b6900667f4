"""curate / get_curated_count / export / export_preference_pairs on the feedback store."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pandas as pd

from feedback_assets.domain.curation.curation import CurationConfig, curate
from feedback_assets.domain.curation.preferences import kto_rows, mine_preference_pairs
from feedback_assets.domain.drift.embedding import hashing_embed
from feedback_assets.domain.export.export import ExportBlocked
from feedback_assets.domain.export.export_formats import (
    resolve_under_root,
    write_csv,
    write_hf_dataset,
    write_jsonl,
    write_kto,
    write_openai_chat,
    write_parquet,
    write_preference_pairs,
)
from feedback_assets.domain.export.training_exports import batch_id_for
from feedback_assets.domain.pii.sanitized_logs import leak_counts
from feedback_assets.facade.drift_io import scored
from feedback_assets.store import FeedbackStore
from feedback_assets.store.exports import curated_for, record_batch

FACADE_PARTITION = "facade"
FORMATS: dict[str, tuple[str, Callable[[pd.DataFrame, str, str], int]]] = {
    "jsonl": ("curated.jsonl", lambda df, p, b: write_jsonl(df, p)),
    "openai_chat": ("openai_chat.jsonl", lambda df, p, b: write_openai_chat(df, p)),
    "hf_dataset": ("hf_dataset", lambda df, p, b: sum(write_hf_dataset(df, p).values())),
    "parquet": ("curated.parquet", lambda df, p, b: write_parquet(df, p, b)),
    "csv": ("curated.csv", lambda df, p, b: write_csv(df, p)),
}
ALIASES = {"openai": "openai_chat", "huggingface": "hf_dataset", "hf": "hf_dataset"}
PAIR_FORMATS = {
    "trl": "preference_pairs.trl.jsonl",
    "openai": "preference_pairs.openai.jsonl",
    "kto": "kto.jsonl",
}
FILTERS = ("curation_source", "min_score", "model_version_id", "partition_key")


def _recent(
    store: FeedbackStore, deployment_id: str, window_size: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    events = store.read_events(deployment_id=deployment_id, latest=window_size)
    return events, store.read_signals(event_ids=events["event_id"].tolist())


def curate_recent(
    store: FeedbackStore,
    deployment_id: str,
    persist: bool,
    limit: int,
    window_size: int,
    **options: Any,
) -> pd.DataFrame:
    events, signals = _recent(store, deployment_id, window_size)
    texts = (events["prompt"] + "\n" + events["response"]).tolist()
    curated = curate(
        events,
        scored(events),
        signals,
        hashing_embed(texts),
        CurationConfig(limit=limit, **options),
    )
    if persist:
        store.replace_partition(
            "curated_examples", FACADE_PARTITION, curated, deployment_ids=[deployment_id]
        )
    return curated


def curated_count(store: FeedbackStore, deployment_id: str) -> int:
    return len(curated_for(store, deployment_id))


def _apply_filters(frame: pd.DataFrame, filters: dict[str, Any]) -> pd.DataFrame:
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ValueError(f"filters: unknown {unknown}; supported: {list(FILTERS)}")
    for key in ("curation_source", "model_version_id", "partition_key"):
        if key in filters:
            wanted = (
                filters[key] if isinstance(filters[key], list | tuple | set) else [filters[key]]
            )
            frame = frame[frame[key].isin(list(wanted))]
    if "min_score" in filters:
        frame = frame[frame["curation_score"] >= float(filters["min_score"])]
    return frame


def _target(
    root: str, deployment_id: str, output_path: str | None, default_name: str, tag: str
) -> tuple[str, str]:
    relative = output_path or f"{batch_id_for(deployment_id, tag)}/{default_name}"
    batch = batch_id_for(deployment_id, re.sub(r"\W+", "-", relative))
    return resolve_under_root(root, relative), batch


def _no_pii(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    hits = {k: v for k, v in leak_counts(frame, columns).items() if v}
    if hits:
        raise ExportBlocked(hits)


def export_curated(
    store: FeedbackStore,
    root: str,
    deployment_id: str,
    fmt: str,
    output_path: str | None,
    filters: dict[str, Any],
    limit: int | None,
    include_exported: bool,
) -> str:
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {sorted([*FORMATS, *ALIASES])}")
    name, write = FORMATS[fmt]
    path, batch = _target(root, deployment_id, output_path, name, fmt)
    if not curated_count(store, deployment_id):
        curate_recent(store, deployment_id, True, 1000, 10_000)
    curated = curated_for(
        store,
        deployment_id,
        exclude_kind=None if include_exported else "export",
        except_batch=batch,
    )
    curated = _apply_filters(curated, filters)
    curated = (curated.head(limit) if limit is not None else curated).reset_index(drop=True)
    _no_pii(curated, ("prompt", "response"))
    rows = write(curated, path, batch)
    manifest = {"batch_id": batch, "files": {fmt: {"path": path, "rows": rows}}, "filters": filters}
    record_batch(
        store,
        manifest,
        deployment_id=deployment_id,
        root=root,
        event_ids=curated["event_id"].tolist(),
    )
    return path


def export_pairs(
    store: FeedbackStore, root: str, deployment_id: str, fmt: str, output_path: str | None
) -> str:
    if fmt not in PAIR_FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {sorted(PAIR_FORMATS)}")
    path, _ = _target(root, deployment_id, output_path, PAIR_FORMATS[fmt], f"pairs-{fmt}")
    events, signals = _recent(store, deployment_id, 100_000)
    if fmt == "kto":
        rows = kto_rows(events, signals)
        _no_pii(rows, ("prompt", "completion"))
        write_kto(rows, path)
    else:
        pairs = mine_preference_pairs(events, signals, scored(events))
        _no_pii(pairs, ("prompt", "chosen", "rejected"))
        write_preference_pairs(pairs, path, fmt)
    return path
