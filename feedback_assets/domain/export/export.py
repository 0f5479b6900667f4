"""Export batches: the requested formats under <root>/<batch_id>/ plus manifest.json, a PII
re-scan that blocks the export on any hit, and a verifier that loads every file back.

A manifest lists each file's event ids: a columnar file carries them in its event_id column, a
JSON-lines file gets a sidecar index `<file>.ids.jsonl` (its `index` entry). A manifest has a
`version`; erasure rewrites a batch as a new version (see domain/export/erase_batch.py).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd

from feedback_assets.domain.export.atomic import remove_nofollow, write_atomic
from feedback_assets.domain.export.files import digest, exists, open_binary, resolve_under_root
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
from feedback_assets.domain.export.row_removal import INDEX_SUFFIX, read_index, write_index

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
    from feedback_assets.domain.pii.sanitized_logs import leak_counts

    total: dict[str, int] = {}
    for role, df in frames.items():
        for entity, n in leak_counts(df, ROLE_TEXT_COLUMNS[role]).items():
            total[entity] = total.get(entity, 0) + int(n)
    return {k: v for k, v in total.items() if v}


def export_batch(
    frames: Mapping[Role, pd.DataFrame],
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

    Every file is written under a temp name and renamed into place; the manifest goes last.

    `frames` holds each needed role's rows (sft: curated, preference: DPO pairs, kto: KTO rows).
    Files go to <batch_id>/<file name> unless `paths` gives one (relative to root). Re-running
    with the same inputs rewrites the same files. Raises ExportBlocked, before writing, on PII.
    """
    specs = resolve_formats(formats)
    check_batch_id(batch_id)
    missing = sorted({s.role for s in specs} - set(frames))
    if missing:
        raise ValueError(f"frames: no rows given for role(s) {missing} of the requested formats")
    unknown = sorted(set(paths or {}) - {s.name for s in specs})
    if unknown:
        raise ValueError(f"paths: {unknown} are not among the requested formats")
    _check_sft_roles(frames)
    hits = pii_hits({s.role: frames[s.role] for s in specs})
    if hits:
        raise ExportBlocked(hits)
    opts = WriteOptions(batch_id, system_prompt, test_size, seed)
    withdraw_manifest(root, batch_id)
    files = {
        s.name: _write_one(s, frames[s.role], root, batch_id, (paths or {}).get(s.name), opts)
        for s in specs
    }
    manifest: dict[str, Any] = {
        "batch_id": batch_id,
        "kind": "export",
        "version": 1,
        "files": files,
        "counts": _counts(frames),
        "source_window": dict(source_window or {}),
        "filters": dict(filters or {}),
        "config": dict(config or {}),
        "code_version": code_version,
        "created_at": datetime.now(UTC).isoformat(),
    }
    write_manifest(manifest, root)
    return manifest


def _check_sft_roles(frames: Mapping[Role, pd.DataFrame]) -> None:
    """SFT files hold approved answers only: a row of another role is a caller's bug."""
    sft = frames.get("sft")
    if sft is None or sft.empty:
        return
    if "role" not in sft.columns:
        raise ValueError("frames['sft'].role: required column is missing")
    other = sorted({str(r) for r in sft["role"].unique()} - {"sft"})
    if other:
        raise ValueError(f"frames['sft'].role: only 'sft' rows may be exported, got {other}")


def _write_one(
    spec: ExportFormat,
    df: pd.DataFrame,
    root: str,
    batch_id: str,
    relative: str | None,
    opts: WriteOptions,
) -> dict[str, Any]:
    rel = relative or f"{batch_id}/{spec.file_name}"
    path, (rows, extra) = write_atomic(root, rel, lambda tmp: spec.write(df, tmp, opts))
    sha, nbytes = digest(path)
    info = {
        "path": in_batch(rel, batch_id),
        "role": spec.role,
        "rows": rows,
        "sha256": sha,
        "bytes": nbytes,
    }
    return {**info, **extra, **_write_index(spec, df, root, rel, batch_id)}


def in_batch(relative: str, batch_id: str) -> str:
    """A path under the root as the manifest records it: relative to the batch directory."""
    return posixpath.relpath(posixpath.normpath(relative.replace("\\", "/")), batch_id)


def _write_index(
    spec: ExportFormat, df: pd.DataFrame, root: str, relative: str, batch_id: str
) -> dict[str, Any]:
    """The sidecar index of a format without an id column: line i = row i's event ids."""
    columns = ROLE_ID_COLUMNS[spec.role]
    if spec.id_column is not None or not set(columns) <= set(df.columns):
        return {}
    rel = relative + INDEX_SUFFIX
    path, _ = write_atomic(root, rel, lambda tmp: write_index(df, columns, tmp))
    sha, nbytes = digest(path)
    return {"index": {"path": in_batch(rel, batch_id), "sha256": sha, "bytes": nbytes}}


def index_path(manifest: Mapping[str, Any], root: str, fmt: str) -> str | None:
    """Where a file's sidecar index lives, None when it has none."""
    index = (manifest["files"][fmt] or {}).get("index")
    if not index:
        return None
    return resolve_under_root(root, f"{manifest['batch_id']}/{index['path']}")


def _counts(frames: Mapping[Role, pd.DataFrame]) -> dict[str, Any]:
    out: dict[str, Any] = {COUNT_KEYS[role]: len(df) for role, df in frames.items()}
    curated = frames.get("sft")
    if curated is not None:
        by_source = (
            curated["curation_source"].value_counts().sort_index().to_dict()
            if "curation_source" in curated.columns
            else {}
        )
        out["curated_by_source"] = {str(k): int(v) for k, v in by_source.items()}
        roles = curated["role"].value_counts().to_dict() if "role" in curated.columns else {}
        out["curated_by_role"] = {str(k): int(v) for k, v in roles.items()}
    return out


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
    listed = len(read_index(path))
    if listed != info.get("rows"):
        return [f"{fmt}: its index lists {listed} rows, manifest says {info.get('rows')}"]
    return []
