"""The export-format registry: every format the project writes, with its one canonical name.

Each entry names its role (which input rows it takes), file name, sink (an incremental
writer), loader and merge, and
how erasure finds and removes a user's rows in it (row_removal: by its event_id column, or by the
sidecar index a format without one gets).
Assets, the facade, ops, retraining and the bench all look formats up here, so a new format is
one entry below, its writer/loader functions, and its test (the round-trip test covers every
entry automatically).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from feedback_assets.domain.export.files import Sink
from feedback_assets.domain.export.formats_columnar import (
    CsvSink,
    HfDatasetSink,
    ParquetSink,
    load_csv,
    load_hf_dataset,
    load_parquet,
    merge_csv,
    merge_hf_dataset,
    merge_parquet,
)
from feedback_assets.domain.export.formats_lines import (
    CHAT_KEYS,
    DPO_OPENAI_KEYS,
    JSONL_KEYS,
    KTO_KEYS,
    TRL_KEYS,
    Loader,
    jsonl_sink,
    kto_sink,
    lines_loader,
    merge_lines,
    openai_chat_sink,
    preference_sink,
)
from feedback_assets.domain.export.row_removal import (
    Erasure,
    keep_csv,
    keep_hf_dataset,
    keep_lines,
    keep_parquet,
    scan_csv,
    scan_hf_dataset,
    scan_lines,
    scan_parquet,
)

Role = Literal["sft", "preference", "kto"]
ROLES: tuple[Role, ...] = ("sft", "preference", "kto")
# Text columns of each role's input rows, re-scanned for PII before anything is written.
ROLE_TEXT_COLUMNS: Mapping[Role, tuple[str, ...]] = {
    "sft": ("prompt", "response"),
    "preference": ("prompt", "chosen", "rejected"),
    "kto": ("prompt", "completion"),
}
# The event ids each role's input row was made from: what a sidecar index lists per row.
ROLE_ID_COLUMNS: Mapping[Role, tuple[str, ...]] = {
    "sft": ("event_id",),
    "preference": ("chosen_event_id", "rejected_event_id"),
    "kto": ("event_id",),
}


@dataclass(frozen=True)
class WriteOptions:
    batch_id: str
    system_prompt: str | None = None
    test_size: float = 0.1
    seed: int = 0


Opener = Callable[[str, WriteOptions], Sink]  # (path, options) -> a sink taking row chunks
Merger = Callable[[Sequence[str], str], None]
Scanner = Callable[[str, str | None, Erasure], np.ndarray]  # (path, index, erasure) -> drop
Keeper = Callable[[str, str, np.ndarray], dict[str, Any]]  # (src, dest, keep) -> rows, ...


@dataclass(frozen=True)
class ExportFormat:
    name: str
    role: Role  # sft: curated rows; preference: DPO pairs; kto: KTO unpaired rows
    file_name: str  # under the batch directory; a directory for hf_dataset
    open: Opener  # (path, options) -> sink; its close() gives (row count, extra manifest fields)
    load: Loader  # (path, allowed batch ids) -> (row count, problems)
    merge: Merger  # (source paths, dest): one file from several batches, without recompute
    aliases: tuple[str, ...] = ()
    min_train_rows: int = 0  # fewer rows than this in a retraining bundle fail the run
    # Erasure: the column holding each row's event id, or None for a sidecar index.
    id_column: str | None = None
    scan: Scanner = scan_lines
    keep: Keeper = keep_lines


FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat(
        "jsonl",
        "sft",
        "curated.jsonl",
        lambda p, o: jsonl_sink(p),
        lines_loader(JSONL_KEYS),
        merge_lines,
    ),
    ExportFormat(
        "openai_chat",
        "sft",
        "openai_chat.jsonl",
        lambda p, o: openai_chat_sink(p, o.system_prompt),
        lines_loader(CHAT_KEYS, check_chat=True),
        merge_lines,
        aliases=("openai", "chat"),
        min_train_rows=10,  # OpenAI fine-tuning rejects fewer examples
    ),
    ExportFormat(
        "hf_dataset",
        "sft",
        "hf_dataset",
        lambda p, o: HfDatasetSink(p, o.test_size, o.seed),
        load_hf_dataset,
        merge_hf_dataset,
        aliases=("huggingface", "hf"),
        id_column="event_id",
        scan=scan_hf_dataset,
        keep=keep_hf_dataset,
    ),
    ExportFormat(
        "parquet",
        "sft",
        "curated.parquet",
        lambda p, o: ParquetSink(p, o.batch_id),
        load_parquet,
        merge_parquet,
        id_column="event_id",
        scan=scan_parquet,
        keep=keep_parquet,
    ),
    ExportFormat(
        "csv",
        "sft",
        "curated.csv",
        lambda p, o: CsvSink(p),
        load_csv,
        merge_csv,
        id_column="event_id",
        scan=scan_csv,
        keep=keep_csv,
    ),
    ExportFormat(
        "dpo_trl",
        "preference",
        "preference_pairs.trl.jsonl",
        lambda p, o: preference_sink(p, "trl"),
        lines_loader(TRL_KEYS),
        merge_lines,
        aliases=("trl",),
    ),
    ExportFormat(
        "dpo_openai",
        "preference",
        "preference_pairs.openai.jsonl",
        lambda p, o: preference_sink(p, "openai"),
        lines_loader(DPO_OPENAI_KEYS),
        merge_lines,
        aliases=("openai",),
    ),
    ExportFormat(
        "kto",
        "kto",
        "kto.jsonl",
        lambda p, o: kto_sink(p),
        lines_loader(KTO_KEYS),
        merge_lines,
    ),
)
_BY_NAME: Mapping[str, ExportFormat] = {f.name: f for f in FORMATS}


def format_names(roles: Iterable[Role] | None = None) -> tuple[str, ...]:
    """Canonical names, in registry order, optionally of some roles only."""
    wanted = set(ROLES if roles is None else roles)
    return tuple(f.name for f in FORMATS if f.role in wanted)


def get_format(name: str) -> ExportFormat:
    """The entry of a canonical name (as stored in manifests)."""
    if name not in _BY_NAME:
        raise ValueError(f"format: unknown export format {name!r}; valid: {describe()}")
    return _BY_NAME[name]


def describe(roles: Iterable[Role] | None = None) -> str:
    """'jsonl, openai_chat (aliases: openai, chat), ...' for error messages and docs."""
    wanted = set(ROLES if roles is None else roles)
    return ", ".join(
        f.name + (f" (aliases: {', '.join(f.aliases)})" if f.aliases else "")
        for f in FORMATS
        if f.role in wanted
    )


def resolve_format(
    name: str, *, roles: Iterable[Role] | None = None, field: str = "format"
) -> ExportFormat:
    """The entry a name or alias means among `roles`; ValueError naming `field` otherwise."""
    wanted = tuple(ROLES if roles is None else roles)
    key = str(name).strip().lower()
    found = [f for f in FORMATS if f.role in wanted and (key == f.name or key in f.aliases)]
    exact = [f for f in found if f.name == key]
    if exact or len(found) == 1:
        return (exact or found)[0]
    if found:
        options = ", ".join(f"{f.name} ({f.role})" for f in found)
        raise ValueError(f"{field}: {name!r} is ambiguous here ({options}); use the full name")
    raise ValueError(f"{field}: unknown export format {name!r}; valid: {describe(wanted)}")


def resolve_formats(
    names: Iterable[str], *, roles: Iterable[Role] | None = None, field: str = "formats"
) -> tuple[ExportFormat, ...]:
    """Entries for several names, in the order given, each once."""
    out = [resolve_format(n, roles=roles, field=field) for n in names]
    if not out:
        raise ValueError(f"{field}: name at least one export format; valid: {describe(roles)}")
    return tuple(dict.fromkeys(out))
