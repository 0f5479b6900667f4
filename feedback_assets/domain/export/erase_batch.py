"""Erasure in an export batch: its files written again without a user's rows, as a new version.

A rewrite keeps the batch's id and layout: each affected file (and its sidecar index) is written
atomically without the rows, its checksum, size and row count are updated, and the manifest gets
`version` + 1, `rewritten_because: "erasure"`, a timestamp and a `history` entry saying how many
rows left each file. The manifest never names the user (not even by hash). The manifest is
withdrawn first and written last, as on export, so no reader pairs it with half-written files.
A batch that cannot be rewritten (an unreadable file) is tombstoned: its files are deleted and
its manifest says so.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from feedback_assets.domain.export.atomic import remove_nofollow, write_atomic
from feedback_assets.domain.export.export import (
    COUNT_KEYS,
    file_path,
    index_path,
    withdraw_manifest,
    write_manifest,
)
from feedback_assets.domain.export.files import digest
from feedback_assets.domain.export.registry import ROLES, get_format
from feedback_assets.domain.export.row_removal import Erasure, keep_lines

ERASURE = "erasure"
# Write-time breakdowns a rewrite cannot recompute from the files: dropped, not left stale.
_STALE_COUNTS = ("curated_by_source",)


def rows_to_remove(
    manifest: Mapping[str, Any], root: str, erasure: Erasure
) -> dict[str, np.ndarray]:
    """Per format with at least one of the user's rows: the bool mask of rows to drop."""
    out: dict[str, np.ndarray] = {}
    for fmt in manifest.get("files") or {}:
        spec = get_format(fmt)
        drop = spec.scan(file_path(manifest, root, fmt), index_path(manifest, root, fmt), erasure)
        if drop.any():
            out[fmt] = drop
    return out


def rewrite_batch(
    manifest: Mapping[str, Any],
    root: str,
    drops: Mapping[str, np.ndarray],
    *,
    at: datetime,
    rewritten_sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write `drops`' files again without those rows, then the next manifest version.

    `rewritten_sources` (batch id -> its new manifest) refreshes a bundle's lineage checksums.
    """
    new = copy.deepcopy(dict(manifest))
    withdraw_manifest(root, str(manifest["batch_id"]))
    for fmt, drop in drops.items():
        new["files"][fmt] = _rewrite_file(manifest, root, fmt, ~drop)
    _recount(new)
    for source in new.get("source_batches") or []:
        if source.get("batch_id") in (rewritten_sources or {}):
            _refresh_lineage(source, (rewritten_sources or {})[source["batch_id"]])
    removed = {fmt: int(drop.sum()) for fmt, drop in drops.items()}
    _next_version(new, manifest, at, {"rows_removed": removed})
    write_manifest(new, root)
    return new


def tombstone_batch(manifest: Mapping[str, Any], root: str, *, at: datetime, why: str) -> dict:
    """Delete every file of the batch and publish a manifest that says it was erased."""
    batch_id = str(manifest["batch_id"])
    withdraw_manifest(root, batch_id)
    for info in (manifest.get("files") or {}).values():
        for rel in (info.get("path"), (info.get("index") or {}).get("path")):
            if rel:
                remove_nofollow(root, posixpath.normpath(f"{batch_id}/{rel}"))
    keep = ("batch_id", "kind", "version", "history", "created_at", "source_window")
    new: dict[str, Any] = {k: manifest[k] for k in keep if k in manifest}
    new.update(files={}, counts={}, tombstone=True)
    _next_version(new, manifest, at, {"tombstoned": why})
    write_manifest(new, root)
    return new


def _rewrite_file(
    manifest: Mapping[str, Any], root: str, fmt: str, keep: np.ndarray
) -> dict[str, Any]:
    spec = get_format(fmt)
    batch_id = str(manifest["batch_id"])
    info = dict(manifest["files"][fmt])
    src = file_path(manifest, root, fmt)
    rel = posixpath.normpath(f"{batch_id}/{info['path']}")
    path, extra = write_atomic(root, rel, lambda tmp: spec.keep(src, tmp, keep))
    sha, nbytes = digest(path)
    info.update(extra, sha256=sha, bytes=nbytes)
    index = index_path(manifest, root, fmt)
    if index is not None:
        index_rel = posixpath.normpath(f"{batch_id}/{info['index']['path']}")
        written, _ = write_atomic(root, index_rel, lambda tmp: keep_lines(index, tmp, keep))
        sha, nbytes = digest(written)
        info["index"] = {**info["index"], "sha256": sha, "bytes": nbytes}
    return info


def _recount(manifest: dict[str, Any]) -> None:
    """Each role's count from its files (every format of a role holds the same rows)."""
    counts = dict(manifest.get("counts") or {})
    for role in ROLES:
        rows = [f["rows"] for fmt, f in manifest["files"].items() if get_format(fmt).role == role]
        if rows and COUNT_KEYS[role] in counts:
            counts[COUNT_KEYS[role]] = int(rows[0])
    if "curated_by_role" in counts:
        counts["curated_by_role"] = {"sft": int(counts.get("curated", 0))}
    for key in _STALE_COUNTS:
        counts.pop(key, None)
    manifest["counts"] = counts


def _refresh_lineage(source: dict[str, Any], rewritten: Mapping[str, Any]) -> None:
    for fmt, info in (source.get("files") or {}).items():
        new = (rewritten.get("files") or {}).get(fmt)
        if new is not None:
            info.update(rows=new["rows"], sha256=new["sha256"], bytes=new["bytes"])
    source["version"] = rewritten.get("version")


def _next_version(
    new: dict[str, Any], old: Mapping[str, Any], at: datetime, what: Mapping[str, Any]
) -> None:
    version = int(old.get("version") or 1) + 1
    stamp = at.isoformat()
    entry = {"version": version, "rewritten_because": ERASURE, "at": stamp, **what}
    new.update(version=version, rewritten_because=ERASURE, rewritten_at=stamp)
    new["history"] = [*(old.get("history") or []), entry]
