"""Export batches: every requested format under <root>/<batch_id>/ plus manifest.json, a PII
re-scan that blocks the export on any hit, and a verifier that loads every file back."""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import fsspec
import orjson
import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from feedback_assets.domain.export.export_formats import (
    CSV_COLUMNS,
    JSON_LINE_KEYS,
    PARQUET_SCHEMA,
    InvalidJson,
    hf_features,
    open_binary,
    read_json_lines,
    resolve_under_root,
    to_openai_chat,
    validate_openai_chat,
    write_csv,
    write_hf_dataset,
    write_jsonl,
    write_kto,
    write_openai_chat,
    write_parquet,
    write_preference_pairs,
)

__all__ = [
    "EXPORT_FORMATS",
    "ExportBlocked",
    "export_batch",
    "resolve_under_root",
    "to_openai_chat",
    "validate_openai_chat",
    "verify_export",
    "write_csv",
    "write_hf_dataset",
    "write_jsonl",
    "write_kto",
    "write_openai_chat",
    "write_parquet",
    "write_preference_pairs",
]

EXPORT_FORMATS: tuple[str, ...] = (
    "jsonl",
    "openai_chat",
    "hf_dataset",
    "parquet",
    "csv",
    "dpo_trl",
    "dpo_openai",
    "kto",
)
FILE_NAMES: Mapping[str, str] = {
    "jsonl": "curated.jsonl",
    "openai_chat": "openai_chat.jsonl",
    "hf_dataset": "hf_dataset",
    "parquet": "curated.parquet",
    "csv": "curated.csv",
    "dpo_trl": "preference_pairs.trl.jsonl",
    "dpo_openai": "preference_pairs.openai.jsonl",
    "kto": "kto.jsonl",
}
MANIFEST_NAME = "manifest.json"
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Text columns re-scanned for PII per input frame.
_PII_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "curated": ("prompt", "response"),
    "pairs": ("prompt", "chosen", "rejected"),
    "kto": ("prompt", "completion"),
}
_NEEDS: Mapping[str, str] = {
    "jsonl": "curated",
    "openai_chat": "curated",
    "hf_dataset": "curated",
    "parquet": "curated",
    "csv": "curated",
    "dpo_trl": "pairs",
    "dpo_openai": "pairs",
    "kto": "kto",
}


class ExportBlocked(RuntimeError):
    """PII was found in data about to be exported; nothing was written."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        found = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        super().__init__(f"export blocked: PII found at export time ({found})")


def _pii_hits(frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    from feedback_assets.domain.pii.sanitize import scan_pii

    total: dict[str, int] = {}
    for name, df in frames.items():
        for col in _PII_COLUMNS[name]:
            if col in df.columns and len(df):
                for entity, n in scan_pii(df[col]).items():
                    total[entity] = total.get(entity, 0) + int(n)
    return {k: v for k, v in total.items() if v}


def _digest(path: str) -> tuple[str, int]:
    """sha256 and size of a file; for a directory, over its data files in name order.

    HF's state.json holds a run-specific fingerprint, so it is left out to keep re-runs equal.
    """
    fs, p = fsspec.core.url_to_fs(path)
    h = hashlib.sha256()
    if not fs.isdir(p):
        with fs.open(p, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest(), int(fs.size(p))
    size = 0
    for name in sorted(fs.find(p)):
        rel = posixpath.relpath(name, p)
        if posixpath.basename(rel) == "state.json":
            continue
        h.update(rel.encode() + b"\0")
        with fs.open(name, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        size += int(fs.size(name))
    return h.hexdigest(), size


def export_batch(
    curated: pd.DataFrame,
    pairs: pd.DataFrame,
    kto: pd.DataFrame,
    root: str,
    batch_id: str,
    *,
    formats: Iterable[str] = EXPORT_FORMATS,
    source_window: dict[str, Any] | None = None,
    filters: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    code_version: str = "",
    system_prompt: str | None = None,
    test_size: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Write every requested format under root/batch_id/ plus manifest.json; return the manifest.

    Re-running with the same inputs rewrites the same files (same checksums).
    Raises ExportBlocked before writing anything if PII is found.
    """
    fmts = list(dict.fromkeys(formats))
    unknown = [f for f in fmts if f not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"formats: unknown {unknown}; known: {list(EXPORT_FORMATS)}")
    if not _BATCH_ID.match(batch_id):
        raise ValueError(f"batch_id {batch_id!r}: use letters, digits, '.', '_' or '-' only")
    frames = {"curated": curated, "pairs": pairs, "kto": kto}
    used = {n: frames[n] for n in dict.fromkeys(_NEEDS[f] for f in fmts)}
    hits = _pii_hits(used)
    if hits:
        raise ExportBlocked(hits)

    files: dict[str, dict[str, Any]] = {}
    for fmt in fmts:
        path = resolve_under_root(root, f"{batch_id}/{FILE_NAMES[fmt]}")
        extra: dict[str, Any] = {}
        if fmt == "jsonl":
            rows = write_jsonl(curated, path)
        elif fmt == "openai_chat":
            rows = write_openai_chat(curated, path, system_prompt)
        elif fmt == "hf_dataset":
            splits = write_hf_dataset(curated, path, test_size=test_size, seed=seed)
            rows, extra = sum(splits.values()), {"splits": splits}
        elif fmt == "parquet":
            rows = write_parquet(curated, path, batch_id)
        elif fmt == "csv":
            rows = write_csv(curated, path)
        elif fmt == "dpo_trl":
            rows = write_preference_pairs(pairs, path, "trl")
        elif fmt == "dpo_openai":
            rows = write_preference_pairs(pairs, path, "openai")
        else:
            rows = write_kto(kto, path)
        sha, nbytes = _digest(path)
        files[fmt] = {
            "path": FILE_NAMES[fmt],
            "rows": rows,
            "sha256": sha,
            "bytes": nbytes,
            **extra,
        }

    by_source = (
        curated["curation_source"].value_counts().sort_index().to_dict()
        if "curation_source" in curated.columns
        else {}
    )
    manifest: dict[str, Any] = {
        "batch_id": batch_id,
        "files": files,
        "counts": {
            "curated": len(curated),
            "curated_by_source": {str(k): int(v) for k, v in by_source.items()},
            "preference_pairs": len(pairs),
            "kto": len(kto),
        },
        "source_window": source_window or {},
        "filters": filters or {},
        "config": config or {},
        "code_version": code_version,
        "created_at": datetime.now(UTC).isoformat(),
    }
    with open_binary(resolve_under_root(root, f"{batch_id}/{MANIFEST_NAME}"), "wb") as f:
        f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    return manifest


def read_manifest(root: str, batch_id: str) -> dict[str, Any]:
    with open_binary(resolve_under_root(root, f"{batch_id}/{MANIFEST_NAME}"), "rb") as f:
        out: dict[str, Any] = orjson.loads(f.read())
    return out


def verify_export(manifest: Mapping[str, Any], root: str) -> list[str]:
    """Load every file of a batch back and compare with the manifest; [] means all is well."""
    problems: list[str] = []
    batch_id = str(manifest.get("batch_id", ""))
    files = manifest.get("files") or {}
    if not files:
        return ["manifest: lists no files"]
    for fmt, info in files.items():
        try:
            path = resolve_under_root(root, f"{batch_id}/{info['path']}")
            fs, p = fsspec.core.url_to_fs(path)
            if not fs.exists(p):
                problems.append(f"{fmt}: {info['path']} is missing")
                continue
            sha, nbytes = _digest(path)
            if sha != info.get("sha256") or nbytes != info.get("bytes"):
                problems.append(
                    f"{fmt}: checksum/size differ from the manifest ({nbytes} bytes vs "
                    f"{info.get('bytes')})"
                )
            rows, errs = _load_back(fmt, path, batch_id)
            problems.extend(f"{fmt}: {e}" for e in errs)
            if rows != info.get("rows"):
                problems.append(f"{fmt}: {rows} rows read back, manifest says {info.get('rows')}")
        except Exception as exc:  # any unreadable file is a finding, not a crash of the check
            problems.append(f"{fmt}: cannot be read back: {type(exc).__name__}: {exc}")
    return problems


def _load_back(fmt: str, path: str, batch_id: str) -> tuple[int, list[str]]:
    if fmt in JSON_LINE_KEYS:
        return _load_json_lines(fmt, path)
    if fmt == "parquet":
        fs, p = fsspec.core.url_to_fs(path)
        schema = pq.read_schema(p, filesystem=fs).remove_metadata()
        errs = [] if schema.equals(PARQUET_SCHEMA) else [f"schema differs: {schema}"]
        ids = pq.read_table(p, columns=["export_batch_id"], filesystem=fs).column(0)
        if ids.null_count or (len(ids) and set(ids.unique().to_pylist()) != {batch_id}):
            errs.append("export_batch_id does not match the batch")
        return len(ids), errs
    if fmt == "csv":
        with open_binary(path, "rb") as f:
            # Answers hold newlines (code, lists); the writer quotes them.
            table = pacsv.read_csv(f, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        errs = [] if tuple(table.column_names) == CSV_COLUMNS else ["csv header differs"]
        return table.num_rows, errs
    if fmt == "hf_dataset":
        from datasets import load_from_disk

        dd = load_from_disk(path)
        errs = [
            f"split {name}: features differ from the declared ones"
            for name, ds in dd.items()
            if ds.features != hf_features()
        ]
        return sum(ds.num_rows for ds in dd.values()), errs
    return 0, [f"unknown format {fmt!r}"]


def _load_json_lines(fmt: str, path: str) -> tuple[int, list[str]]:
    keys = JSON_LINE_KEYS[fmt]
    rows = 0
    bad_json: list[int] = []
    bad_keys: list[int] = []
    for n, obj in read_json_lines(path):
        rows += 1
        if isinstance(obj, InvalidJson):
            bad_json.append(n)
        elif not isinstance(obj, dict) or set(obj) != keys:
            bad_keys.append(n)
    errs = []
    if bad_json:
        errs.append(f"{len(bad_json)} line(s) are not valid JSON, first at line {bad_json[0]}")
    if bad_keys:
        errs.append(f"{len(bad_keys)} line(s) lack keys {sorted(keys)}, first at {bad_keys[0]}")
    if fmt == "openai_chat" and not bad_json:
        errs.extend(validate_openai_chat(path))
    return rows - len(bad_json), errs
