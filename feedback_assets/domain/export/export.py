"""Export batches: the requested formats under <root>/<batch_id>/ plus manifest.json, a PII
re-scan that blocks the export on any hit, and a verifier that loads every file back.

A manifest lists each file's event ids: a columnar file carries them in its event_id column, a
JSON-lines file gets a sidecar index `<file>.ids.jsonl` (its `index` entry). A manifest has a
`version`; erasure rewrites a batch as a new version (see domain/export/erase_batch.py).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd

from feedback_assets.domain.export.atomic import (
    StagedWrites,
    remove_nofollow,
    staged_writes,
    write_atomic,
)
from feedback_assets.domain.export.files import (
    Sink,
    chunks,
    count_lines,
    digest,
    exists,
    open_binary,
    resolve_under_root,
)
from feedback_assets.domain.export.formats_lines import IndexSink
from feedback_assets.domain.export.registry import (
    ROLE_ID_COLUMNS,
    ROLE_TEXT_COLUMNS,
    ExportFormat,
    Role,
    WriteOptions,
    format_names,
    get_format,
    resolve_formats,
)
from feedback_assets.domain.export.row_removal import INDEX_SUFFIX

MANIFEST_NAME = "manifest.json"
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Manifest count key of each role's input rows.
COUNT_KEYS: Mapping[Role, str] = {"sft": "curated", "preference": "preference_pairs", "kto": "kto"}


class ExportBlocked(RuntimeError):
    """PII was found in data about to be exported; nothing was written."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        found = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        super().__init__(f"export blocked: PII found at export time ({found})")


class ExportInvalid(RuntimeError):
    """A written batch did not load back as its manifest says."""


def check_batch_id(batch_id: str) -> str:
    if not _BATCH_ID.match(batch_id):
        raise ValueError(f"batch_id {batch_id!r}: use letters, digits, '.', '_' or '-' only")
    return batch_id


def pii_hits(frames: Mapping[Role, pd.DataFrame]) -> dict[str, int]:
    total: dict[str, int] = {}
    for role, df in frames.items():
        _add(total, _chunk_hits(role, df))
    return {k: v for k, v in total.items() if v}


def _chunk_hits(role: Role, chunk: pd.DataFrame) -> dict[str, int]:
    from feedback_assets.domain.pii.sanitized_logs import leak_counts

    counts = leak_counts(chunk, ROLE_TEXT_COLUMNS[role])
    return {str(k): int(v) for k, v in counts.items() if v}


def _add(total: dict[str, int], more: Mapping[str, int]) -> None:
    for k, v in more.items():
        total[k] = total.get(k, 0) + int(v)


def export_batch(
    frames: Mapping[Role, pd.DataFrame], root: str, batch_id: str, **kwargs: Any
) -> dict[str, Any]:
    """export_stream of in-memory frames (each role's rows as one frame)."""
    return export_stream({r: _whole(df) for r, df in frames.items()}, root, batch_id, **kwargs)


def _whole(df: pd.DataFrame) -> Iterator[pd.DataFrame]:
    yield from chunks(df) if len(df) else [df]


def export_stream(
    sources: Mapping[Role, Iterable[pd.DataFrame]],
    root: str,
    batch_id: str,
    *,
    formats: Iterable[str] = format_names(),
    paths: Mapping[str, str] | None = None,
    source_window: Mapping[str, Any] | None = None,
    filters: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    code_version: str = "",
    system_prompt: str | None = None,
    test_size: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Write every requested format, then manifest.json; return the manifest.

    `sources` gives each needed role's rows as chunks (sft: curated, preference: DPO pairs,
    kto: KTO rows); each role is read once and every format of it is written as the chunks
    arrive, so no format holds the whole export. Files are staged under temp names and
    published together after the last chunk, the manifest last; on PII (ExportBlocked, with
    the counts over all rows) or any error nothing is published. Files go to
    <batch_id>/<file name> unless `paths` gives one. Re-running with the same rows rewrites
    the same bytes, however they are chunked.
    """
    specs = resolve_formats(formats)
    check_batch_id(batch_id)
    missing = sorted({s.role for s in specs} - set(sources))
    if missing:
        raise ValueError(f"frames: no rows given for role(s) {missing} of the requested formats")
    unknown = sorted(set(paths or {}) - {s.name for s in specs})
    if unknown:
        raise ValueError(f"paths: {unknown} are not among the requested formats")
    opts = WriteOptions(batch_id, system_prompt, test_size, seed)
    rels = {s.name: (paths or {}).get(s.name) or f"{batch_id}/{s.file_name}" for s in specs}
    written: dict[str, tuple[int, dict[str, Any]]] = {}
    tally = _Tally()
    with staged_writes(root) as staged:
        for role, rows in sources.items():
            mine = [s for s in specs if s.role == role]
            written |= _stream_role(role, rows, mine, staged, rels, opts, tally)
        if tally.hits:
            raise ExportBlocked(tally.hits)
        withdraw_manifest(root, batch_id)  # published files never pair with an old manifest
    files = {s.name: _file_info(s, root, rels[s.name], batch_id, written) for s in specs}
    manifest: dict[str, Any] = {
        "batch_id": batch_id,
        "kind": "export",
        "version": 1,
        "files": files,
        "counts": tally.counts(),
        "source_window": dict(source_window or {}),
        "filters": dict(filters or {}),
        "config": dict(config or {}),
        "code_version": code_version,
        "created_at": datetime.now(UTC).isoformat(),
    }
    write_manifest(manifest, root)
    return manifest


@dataclass
class _Tally:
    """Row counts per role, the sft rows' sources and roles, and PII hits, over all chunks."""

    rows: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] | None = None
    by_role: dict[str, int] | None = None
    hits: dict[str, int] = field(default_factory=dict)

    def add(self, role: Role, chunk: pd.DataFrame) -> None:
        key = COUNT_KEYS[role]
        self.rows[key] = self.rows.get(key, 0) + len(chunk)
        if role != "sft":
            return
        self.by_source = self.by_source or {}
        self.by_role = self.by_role or {}
        for col, out in (("curation_source", self.by_source), ("role", self.by_role)):
            if col in chunk.columns:
                _add(out, {str(k): int(v) for k, v in chunk[col].value_counts().items()})

    def counts(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.rows)
        if self.by_source is not None and self.by_role is not None:
            out["curated_by_source"] = dict(sorted(self.by_source.items()))
            out["curated_by_role"] = dict(sorted(self.by_role.items(), key=lambda kv: -kv[1]))
        return out


def _stream_role(
    role: Role,
    rows: Iterable[pd.DataFrame],
    specs: list[ExportFormat],
    staged: StagedWrites,
    rels: Mapping[str, str],
    opts: WriteOptions,
    tally: _Tally,
) -> dict[str, tuple[int, dict[str, Any]]]:
    """Every format of one role (and its sidecar index) from one pass over the role's chunks.
    After a PII hit nothing more is written, but the rest is still scanned for the counts."""
    sinks: dict[str, Sink] = {}
    try:
        for spec in specs:
            sinks[spec.name] = spec.open(staged.stage(rels[spec.name]), opts)
        for chunk in rows:
            if not specs:  # rows of a role no requested format takes: counted only
                tally.add(role, chunk)
                continue
            if role == "sft":
                _check_sft_roles(chunk)
            _add(tally.hits, _chunk_hits(role, chunk))
            tally.add(role, chunk)
            if not tally.hits:
                _open_indexes(specs, staged, rels, chunk, sinks)
                for sink in sinks.values():
                    sink.write(chunk)
        if not tally.hits:
            _open_indexes(specs, staged, rels, None, sinks)
    except BaseException:
        for sink in sinks.values():
            sink.abort()
        raise
    if tally.hits:  # blocked: the caller raises once every role is scanned
        for sink in sinks.values():
            sink.abort()
        return {}
    return {name: sink.close() for name, sink in sinks.items()}


def _open_indexes(
    specs: list[ExportFormat],
    staged: StagedWrites,
    rels: Mapping[str, str],
    chunk: pd.DataFrame | None,
    sinks: dict[str, Sink],
) -> None:
    """A sidecar index for each format without an id column, once the rows show their id
    columns (rows without them get none; a role with no rows at all gets an empty one)."""
    for spec in specs:
        name = spec.name + INDEX_SUFFIX
        columns = ROLE_ID_COLUMNS[spec.role]
        if spec.id_column is not None or name in sinks:
            continue
        if chunk is None or set(columns) <= set(chunk.columns):
            sinks[name] = IndexSink(staged.stage(rels[spec.name] + INDEX_SUFFIX), columns)


def _file_info(
    spec: ExportFormat,
    root: str,
    rel: str,
    batch_id: str,
    written: Mapping[str, tuple[int, dict[str, Any]]],
) -> dict[str, Any]:
    rows, extra = written[spec.name]
    sha, nbytes = digest(resolve_under_root(root, rel))
    info = {"path": in_batch(rel, batch_id), "role": spec.role, "rows": rows}
    info |= {"sha256": sha, "bytes": nbytes, **extra}
    if spec.name + INDEX_SUFFIX in written:
        index = rel + INDEX_SUFFIX
        sha, nbytes = digest(resolve_under_root(root, index))
        info["index"] = {"path": in_batch(index, batch_id), "sha256": sha, "bytes": nbytes}
    return info


def _check_sft_roles(sft: pd.DataFrame) -> None:
    """SFT files hold approved answers only: a row of another role is a caller's bug."""
    if sft.empty:
        return
    if "role" not in sft.columns:
        raise ValueError("frames['sft'].role: required column is missing")
    other = sorted({str(r) for r in sft["role"].unique()} - {"sft"})
    if other:
        raise ValueError(f"frames['sft'].role: only 'sft' rows may be exported, got {other}")


def in_batch(relative: str, batch_id: str) -> str:
    """A path under the root as the manifest records it: relative to the batch directory."""
    return posixpath.relpath(posixpath.normpath(relative.replace("\\", "/")), batch_id)


def index_path(manifest: Mapping[str, Any], root: str, fmt: str) -> str | None:
    """Where a file's sidecar index lives, None when it has none."""
    index = (manifest["files"][fmt] or {}).get("index")
    if not index:
        return None
    return resolve_under_root(root, f"{manifest['batch_id']}/{index['path']}")


def write_manifest(manifest: Mapping[str, Any], root: str) -> str:
    """Publish the manifest atomically: written last, it is what makes a batch complete."""
    data = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)

    def write(tmp: str) -> None:
        with open_binary(tmp, "wb") as f:
            f.write(data)

    path, _ = write_atomic(root, f"{manifest['batch_id']}/{MANIFEST_NAME}", write)
    return path


def withdraw_manifest(root: str, batch_id: str) -> None:
    """Remove a batch's manifest before its files are rewritten: a batch without one is
    incomplete, so a reader never pairs an old manifest with half-rewritten files."""
    remove_nofollow(root, f"{batch_id}/{MANIFEST_NAME}")


def file_path(manifest: Mapping[str, Any], root: str, fmt: str) -> str:
    """Where a manifest's file of `fmt` lives (checked to stay under root)."""
    return resolve_under_root(root, f"{manifest['batch_id']}/{manifest['files'][fmt]['path']}")


def verify_export(manifest: Mapping[str, Any], root: str) -> list[str]:
    """Load every file of a batch back and compare with the manifest; [] means all is well."""
    files = manifest.get("files") or {}
    if not files:
        return ["manifest: lists no files"]
    # A retraining bundle's merged rows keep the batch ids of their source batches.
    allowed = frozenset(manifest.get("source_batch_ids") or [str(manifest.get("batch_id", ""))])
    problems: list[str] = []
    for fmt, info in files.items():
        try:
            problems.extend(_verify_file(manifest, root, fmt, info, allowed))
        except Exception as exc:  # any unreadable file is a finding, not a crash of the check
            problems.append(f"{fmt}: cannot be read back: {type(exc).__name__}: {exc}")
    return problems


def _verify_file(
    manifest: Mapping[str, Any],
    root: str,
    fmt: str,
    info: Mapping[str, Any],
    allowed: frozenset[str],
) -> list[str]:
    spec = get_format(fmt)
    path = file_path(manifest, root, fmt)
    if not exists(path):
        return [f"{fmt}: {info['path']} is missing"]
    problems = []
    sha, nbytes = digest(path)
    if sha != info.get("sha256") or nbytes != info.get("bytes"):
        problems.append(
            f"{fmt}: checksum/size differ from the manifest ({nbytes} bytes vs {info.get('bytes')})"
        )
    rows, errs = spec.load(path, allowed)
    problems.extend(f"{fmt}: {e}" for e in errs)
    if rows != info.get("rows"):
        problems.append(f"{fmt}: {rows} rows read back, manifest says {info.get('rows')}")
    return problems + _verify_index(manifest, root, fmt, info)


def _verify_index(
    manifest: Mapping[str, Any], root: str, fmt: str, info: Mapping[str, Any]
) -> list[str]:
    path = index_path(manifest, root, fmt)
    if path is None:
        return []
    if not exists(path):
        return [f"{fmt}: its index {info['index']['path']} is missing"]
    if digest(path) != (info["index"].get("sha256"), info["index"].get("bytes")):
        return [f"{fmt}: its index's checksum/size differ from the manifest"]
    listed = count_lines(path)
    if listed != info.get("rows"):
        return [f"{fmt}: its index lists {listed} rows, manifest says {info.get('rows')}"]
    return []
