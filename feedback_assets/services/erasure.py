"""forget_user: remove one user's data from the store, the export root and the data dir.

Order matters for a crash: orphaned spool segments are delivered first (so their rows are in the
store), the user's rows are read, export batches of the user's deployments are rewritten (or
tombstoned), drift plots of their days are deleted, then one store transaction deletes the rows,
scrubs drift explanations, updates the rewritten manifests and logs the erasure, and SQLite is
compacted. Running it again finds nothing and logs zeros. What it cannot reach is listed in the
README ("Erasure, retention, alerts"): models already trained on the data (named in the report),
spool segments a live client still holds, Dagster's own run history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedback_assets.client.delivery import deliver_segments
from feedback_assets.client.spool import SUFFIX, Spool
from feedback_assets.domain.export.bundle import BUNDLE_KIND
from feedback_assets.domain.export.erase_batch import rewrite_batch, rows_to_remove, tombstone_batch
from feedback_assets.domain.export.row_removal import Erasure
from feedback_assets.domain.pii.erase_text import example_keys, text_tokens
from feedback_assets.domain.pii.user_ids import hash_user_id
from feedback_assets.domain.records import MAX_ID_CHARS
from feedback_assets.store import FeedbackStore
from feedback_assets.store import erasure as db


@dataclass
class ExportOutcome:
    scanned: int = 0
    rewritten: dict[str, dict[str, Any]] = field(default_factory=dict)  # batch id -> manifest
    tombstoned: dict[str, dict[str, Any]] = field(default_factory=dict)
    files_rewritten: int = 0
    rows_removed: int = 0  # summed over files: a row removed from 5 formats counts 5 times
    bundles: set[str] = field(default_factory=set)  # retraining bundles that held the user

    def report(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "rewritten": sorted(self.rewritten),
            "tombstoned": sorted(self.tombstoned),
            "files_rewritten": self.files_rewritten,
            "rows_removed": self.rows_removed,
        }


def check_user_id(user_id: Any) -> str:
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user_id: must be a non-empty string (the id the app logged)")
    if len(user_id) > MAX_ID_CHARS:
        raise ValueError(f"user_id: longer than {MAX_ID_CHARS} characters, so never stored")
    return user_id


def forget_user(
    store: FeedbackStore, export_root: str, data_dir: Path, user_id: str, hash_key: bytes
) -> dict[str, Any]:
    """Erase the user everywhere this project writes; returns the report (counts, batches,
    models trained on the data), which is also stored in erasure_log under the id's HMAC."""
    user_hash = hash_user_id(check_user_id(user_id), hash_key)
    at = datetime.now(UTC)
    spool = deliver_orphan_segments(store, data_dir / "spool")
    user = db.find_user(store, user_hash)
    erasure = Erasure(frozenset(user.event_ids), frozenset(user.texts))
    exports = erase_exports(store, export_root, erasure, user, at)
    trained = db.runs_trained_on(store, exports.bundles, user.event_ids)
    dead, judge_keys = db.dead_letter_ids(store, user), db.judge_cache_keys(store, user)
    plots = remove_plots(data_dir, user)
    prompts = user.events["prompt"].dropna().astype(str)
    with db.write_transaction(store) as conn:
        rows = db.delete_user(conn, user, dead, judge_keys)
        scrubbed = db.scrub_drift(conn, user, example_keys(prompts), text_tokens(user.texts))
        db.update_manifests(conn, exports.rewritten)
        db.forget_batches(conn, exports.tombstoned)
        report = {
            "at": at.isoformat(),
            "rows": rows,
            "drift_scrubbed": scrubbed,
            "files": {"drift_plots": plots, **spool},
            "export_batches": exports.report(),
            "trained_models": trained,
        }
        erasure_id = db.log_erasure(conn, user_hash, report)
    return {"erasure_id": erasure_id, **report, "sqlite_compaction": db.compact(store)}


def deliver_orphan_segments(store: FeedbackStore, spool_dir: Path) -> dict[str, int]:
    """Store what dead clients left in the spool (as the next client would), so the store
    deletion reaches it. Segments a live client holds are counted, not touched."""
    if not spool_dir.is_dir():
        return {"spool_segments_delivered": 0, "spool_segments_held": 0}
    spool = Spool(spool_dir)
    spool.adopt_orphans()
    segments = list(spool.pending)
    if segments:
        deliver_segments(store, [s.path for s in segments])
    for segment in segments:
        spool.done(segment)
    held = sum(1 for _ in spool_dir.glob(f"*{SUFFIX}"))
    return {"spool_segments_delivered": len(segments), "spool_segments_held": held}


def erase_exports(
    store: FeedbackStore, export_root: str, erasure: Erasure, user: db.UserRows, at: datetime
) -> ExportOutcome:
    """Rewrite every export batch of the user's deployments that holds their rows; bundles
    after their sources, so a bundle's lineage names its sources' new checksums. A batch that
    cannot be read or rewritten is tombstoned (it might hold the user)."""
    out = ExportOutcome()
    deployments = sorted(set(user.events["deployment_id"]))
    batches = store.read_table("export_batches", order_by=["created_us"])
    batches = batches[batches["deployment_id"].isin(deployments)].to_dict("records")
    for kind_is_bundle in (False, True):
        for row in batches:
            manifest = json.loads(row["manifest"])
            if (manifest.get("kind") == BUNDLE_KIND) == kind_is_bundle:
                _erase_batch(out, manifest, row["root"] or export_root, erasure, at)
    return out


def _erase_batch(
    out: ExportOutcome, manifest: dict[str, Any], root: str, erasure: Erasure, at: datetime
) -> None:
    batch_id = str(manifest["batch_id"])
    out.scanned += 1
    try:
        drops = rows_to_remove(manifest, root, erasure)
        if not drops:
            return
        out.rewritten[batch_id] = rewrite_batch(
            manifest, root, drops, at=at, rewritten_sources=out.rewritten
        )
        out.files_rewritten += len(drops)
        out.rows_removed += sum(int(d.sum()) for d in drops.values())
    except Exception as exc:  # unreadable: the batch cannot be shown free of the user
        why = f"a file could not be rewritten ({type(exc).__name__})"
        out.tombstoned[batch_id] = tombstone_batch(manifest, root, at=at, why=why)
        out.rewritten.pop(batch_id, None)
    if manifest.get("kind") == BUNDLE_KIND:
        out.bundles.add(batch_id)


def remove_plots(data_dir: Path, user: db.UserRows) -> int:
    """Drift plots of the user's deployment-days (drawn from their texts' words); the
    drift_reports asset writes <data dir>/plots/<day>/<deployment>.png."""
    days = user.events.dropna(subset=["partition_key"])
    removed = 0
    for day, dep in set(zip(days["partition_key"], days["deployment_id"], strict=True)):
        plot = data_dir / "plots" / str(day) / f"{dep}.png"
        if plot.is_file():
            plot.unlink()
            removed += 1
    return removed
