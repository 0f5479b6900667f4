"""Retraining bundles: one directory that merges several export batches for a trainer.

The bundle's manifest lists its source batches with their files and checksums (lineage), and
each format every source has is merged into one file with the registry's merge (no rows are
recomputed). Source files are verified against their recorded checksums first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedback_assets.domain.export.atomic import write_atomic
from feedback_assets.domain.export.export import (
    check_batch_id,
    file_path,
    in_batch,
    index_path,
    verify_export,
    withdraw_manifest,
    write_manifest,
)
from feedback_assets.domain.export.files import concat_files, digest, exists
from feedback_assets.domain.export.registry import FORMATS, get_format
from feedback_assets.domain.export.row_removal import INDEX_SUFFIX

BUNDLE_KIND = "retraining_bundle"
_COUNTS = ("curated", "preference_pairs", "kto")


@dataclass(frozen=True)
class SourceBatch:
    """An export batch as recorded in the store: its id, root and manifest."""

    batch_id: str
    root: str
    manifest: Mapping[str, Any]
    partition_key: str | None = None

    def path(self, fmt: str) -> str:
        return file_path(self.manifest, self.root, fmt)


def check_sources(sources: Sequence[SourceBatch]) -> list[str]:
    """Every source file exists with the size and sha256 its manifest recorded; [] if so."""
    problems = []
    for src in sources:
        for fmt, info in (src.manifest.get("files") or {}).items():
            path = src.path(fmt)
            if not exists(path):
                problems.append(f"source batch {src.batch_id}: {fmt} file {path} is missing")
                continue
            sha, nbytes = digest(path)
            if sha != info.get("sha256") or nbytes != info.get("bytes"):
                problems.append(
                    f"source batch {src.batch_id}: {fmt} file {path} changed since it was "
                    f"exported (sha256/size differ from its manifest)"
                )
    return problems


def common_formats(sources: Sequence[SourceBatch]) -> list[str]:
    """Formats every source batch has, in registry order (a partial merge would drop rows)."""
    have = [set(src.manifest.get("files") or {}) for src in sources]
    return [f.name for f in FORMATS if have and all(f.name in h for h in have)]


def build_bundle(
    sources: Sequence[SourceBatch],
    root: str,
    bundle_id: str,
    *,
    retraining_run_id: str,
    config: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Verify the sources, merge each common format, write the manifest: (manifest, problems).

    The manifest is None when the sources fail verification (nothing is written then).
    """
    check_batch_id(bundle_id)
    if not sources:
        return None, ["sources: no export batches to bundle"]
    problems = check_sources(sources)
    if problems:
        return None, problems
    withdraw_manifest(root, bundle_id)
    files = {fmt: _merge(sources, root, bundle_id, fmt) for fmt in common_formats(sources)}
    manifest: dict[str, Any] = {
        "batch_id": bundle_id,
        "kind": BUNDLE_KIND,
        "version": 1,
        "retraining_run_id": retraining_run_id,
        "files": files,
        "counts": {
            k: sum(int(s.manifest.get("counts", {}).get(k, 0)) for s in sources) for k in _COUNTS
        },
        "source_batch_ids": [s.batch_id for s in sources],
        "source_batches": [_lineage(s) for s in sources],
        "config": dict(config or {}),
        "created_at": datetime.now(UTC).isoformat(),
    }
    write_manifest(manifest, root)
    return manifest, verify_export(manifest, root) + _too_small(files)


def _merge(sources: Sequence[SourceBatch], root: str, bundle_id: str, fmt: str) -> dict[str, Any]:
    spec = get_format(fmt)
    paths = [s.path(fmt) for s in sources]
    dest, _ = write_atomic(root, f"{bundle_id}/{spec.file_name}", lambda t: spec.merge(paths, t))
    sha, nbytes = digest(dest)
    rows = sum(int(s.manifest["files"][fmt]["rows"]) for s in sources)
    info = {"path": spec.file_name, "rows": rows, "sha256": sha, "bytes": nbytes}
    return {**info, **_merge_index(sources, root, bundle_id, fmt, spec.file_name)}


def _merge_index(
    sources: Sequence[SourceBatch], root: str, bundle_id: str, fmt: str, file_name: str
) -> dict[str, Any]:
    """The merged file's index: the sources' indexes concatenated in the same order (none if a
    source has none: erasure then matches that bundle's rows by text)."""
    indexes = [index_path(s.manifest, s.root, fmt) for s in sources]
    if any(p is None for p in indexes):
        return {}
    rel = f"{bundle_id}/{file_name}{INDEX_SUFFIX}"
    dest, _ = write_atomic(root, rel, lambda t: concat_files([str(p) for p in indexes], t))
    sha, nbytes = digest(dest)
    return {"index": {"path": in_batch(rel, bundle_id), "sha256": sha, "bytes": nbytes}}


def _lineage(src: SourceBatch) -> dict[str, Any]:
    return {
        "batch_id": src.batch_id,
        "partition_key": src.partition_key,
        "root": src.root,
        "files": {
            fmt: {
                "path": src.path(fmt),
                "rows": info.get("rows"),
                "sha256": info.get("sha256"),
                "bytes": info.get("bytes"),
            }
            for fmt, info in (src.manifest.get("files") or {}).items()
        },
    }


def _too_small(files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    out = []
    for fmt, info in files.items():
        need = get_format(fmt).min_train_rows
        if int(info["rows"]) < need:
            out.append(f"{fmt}: {info['rows']} examples, a trainer needs at least {need}")
    return out
