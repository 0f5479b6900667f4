"""Export bookkeeping: batches, per-example marks, and what is new since the last retraining."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from feedback_assets.domain.drift.drift_reports import Window
from feedback_assets.domain.export.bundle import BUNDLE_KIND
from feedback_assets.domain.export.formats_columnar import CURATED_SCHEMA
from feedback_assets.domain.export.training_exports import UNDESIRABLE_ROLES
from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us
from feedback_assets.store.frames import from_db_frame
from feedback_assets.store.streams import CHUNK_ROWS, read_columns, stream

# What pair and KTO mining reads of an event (not latency, tokens, user...).
_MINED_EVENT_COLUMNS = (
    "event_id",
    "deployment_id",
    "prompt",
    "response",
    "metadata",
    "session_id",
    "timestamp_us",
)


def record_batch(
    store: FeedbackStore,
    manifest: dict[str, Any],
    *,
    deployment_id: str,
    root: str,
    event_ids: Sequence[str],
    kind: str = "export",
    partition_key: str | None = None,
) -> None:
    """Record a batch and mark its examples, replacing an earlier record of the same batch."""
    batch_id = manifest["batch_id"]
    marks = pd.DataFrame(
        {
            "event_id": list(dict.fromkeys(event_ids)),
            "export_batch_id": batch_id,
            "deployment_id": deployment_id,
            "kind": kind,
            "exported_us": now_us(),
        }
    )
    with store.engine.begin() as conn:
        conn.execute(
            schema.export_batches.delete().where(
                schema.export_batches.c.export_batch_id == batch_id
            )
        )
        conn.execute(
            schema.export_marks.delete().where(schema.export_marks.c.export_batch_id == batch_id)
        )
        conn.execute(
            schema.export_batches.insert().values(
                export_batch_id=batch_id,
                deployment_id=deployment_id,
                partition_key=partition_key,
                root=root,
                manifest=json.dumps(manifest, default=str),
                created_us=now_us(),
            )
        )
        if len(marks):
            conn.execute(schema.export_marks.insert(), marks.to_dict("records"))


def curated_for(
    store: FeedbackStore,
    deployment_id: str,
    *,
    exclude_kind: str | None = None,
    except_batch: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """A deployment's curated examples, optionally without those already in a batch of `exclude_kind`."""
    c, m = schema.curated_examples, schema.export_marks
    query = sa.select(c).where(c.c.deployment_id == deployment_id)
    if exclude_kind is not None:
        marked = sa.select(m.c.event_id).where(
            m.c.deployment_id == deployment_id, m.c.kind == exclude_kind
        )
        if except_batch is not None:
            # Re-running the same batch re-exports its own rows: idempotent.
            marked = marked.where(m.c.export_batch_id != except_batch)
        query = query.where(c.c.event_id.not_in(marked))
    # One row per event (a re-curated event may sit in several partitions): the latest wins.
    query = query.order_by(c.c.partition_key.desc(), c.c.curation_source, c.c.event_id)
    frame = store._query(c, query).drop_duplicates("event_id", keep="first")
    frame = _with_export_flags(store, deployment_id, frame)
    return (
        frame.head(limit).reset_index(drop=True)
        if limit is not None
        else frame.reset_index(drop=True)
    )


def new_curated_count(store: FeedbackStore, deployment_id: str) -> int:
    """New SFT examples (role `sft`) not yet in any retraining's training set (resets after each
    retraining): eval, preference and kto rows are not training targets."""
    c, m = schema.curated_examples, schema.export_marks
    marked = sa.select(m.c.event_id).where(
        m.c.deployment_id == deployment_id, m.c.kind == "retraining"
    )
    query = sa.select(sa.func.count(sa.distinct(c.c.event_id))).where(
        c.c.deployment_id == deployment_id, c.c.role == "sft", c.c.event_id.not_in(marked)
    )
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def _with_export_flags(
    store: FeedbackStore, deployment_id: str, frame: pd.DataFrame
) -> pd.DataFrame:
    """`exported` and the latest export batch of each example (kept apart so re-curation keeps them)."""
    marks = store.read_table(
        "export_marks", deployment_id=deployment_id, kind="export", order_by=["exported_us"]
    )
    latest = marks.drop_duplicates("event_id", keep="last").set_index("event_id")["export_batch_id"]
    batch = frame["event_id"].map(latest)
    return frame.assign(exported=batch.notna().to_numpy(), export_batch_id=batch.to_numpy())


# -- retraining: which training_exports batches a deployment has not trained on yet -------------


def _batches(store: FeedbackStore, deployment_id: str) -> list[dict[str, Any]]:
    rows = store.read_table(
        "export_batches", deployment_id=deployment_id, order_by=["partition_key", "export_batch_id"]
    ).to_dict("records")
    for row in rows:
        row["manifest"] = json.loads(row["manifest"])
    return rows


def used_batch_ids(store: FeedbackStore, deployment_id: str) -> set[str]:
    """Source batches of the deployment's retraining bundles, except bundles of failed runs and
    of candidates the gate did not promote (their examples are given back for the next try)."""
    runs = store.read_table("retraining_runs", deployment_id=deployment_id, status="failed")
    versions = store.read_table("model_versions", deployment_id=deployment_id)
    given_back = versions[versions["status"].isin(["rejected", "failed"])]
    failed = set(runs["run_id"]) | set(given_back["retraining_run_id"].dropna())
    used: set[str] = set()
    for row in _batches(store, deployment_id):
        m = row["manifest"]
        if m.get("kind") == BUNDLE_KIND and m.get("retraining_run_id") not in failed:
            used.update(m.get("source_batch_ids") or [])
    return used


def unused_training_batches(
    store: FeedbackStore, deployment_id: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """training_exports batches (those with a partition) no retraining has used, oldest first.

    Each row: export_batch_id, deployment_id, partition_key, root, manifest (parsed).
    """
    used = used_batch_ids(store, deployment_id)
    rows = [
        r
        for r in _batches(store, deployment_id)
        if r["partition_key"] is not None
        and r["manifest"].get("kind") != BUNDLE_KIND
        and r["export_batch_id"] not in used
    ]
    return rows[:limit] if limit is not None else rows


def bundle_sources(store: FeedbackStore, bundle_id: str) -> list[str]:
    """The source batch ids a retraining bundle was built from (its lineage)."""
    rows = store.read_table("export_batches", export_batch_id=bundle_id)
    if rows.empty:
        return []
    return list(json.loads(rows["manifest"].iloc[0]).get("source_batch_ids") or [])


def batch_event_ids(store: FeedbackStore, batch_ids: Sequence[str]) -> list[str]:
    """Events marked by the given export batches, each once."""
    m = schema.export_marks
    query = (
        sa.select(m.c.event_id)
        .where(m.c.export_batch_id.in_(list(batch_ids)))
        .distinct()
        .order_by(m.c.event_id)
    )
    with store.engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(query)]


def unmark_batch(store: FeedbackStore, batch_id: str) -> None:
    """Drop a batch's example marks (a failed retraining gives its examples back)."""
    with store.engine.begin() as conn:
        conn.execute(
            schema.export_marks.delete().where(schema.export_marks.c.export_batch_id == batch_id)
        )


def forget_batch(store: FeedbackStore, batch_id: str) -> None:
    """Remove a batch's record and marks (a batch that failed its load-back check)."""
    unmark_batch(store, batch_id)
    with store.engine.begin() as conn:
        conn.execute(
            schema.export_batches.delete().where(
                schema.export_batches.c.export_batch_id == batch_id
            )
        )


def deployments_in_partition(store: FeedbackStore, partition_key: str) -> list[str]:
    """Deployments with sanitized events in a partition, sorted."""
    t = schema.sanitized_logs
    query = (
        sa.select(t.c.deployment_id)
        .where(t.c.partition_key == partition_key)
        .distinct()
        .order_by(t.c.deployment_id)
    )
    with store.engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(query)]


# -- training_exports: only what a deployment-day's export needs, pushed into SQL ---------------


def _in_partition(t: sa.Table, partition_key: str, deployment_id: str) -> tuple[Any, Any]:
    return t.c.partition_key == partition_key, t.c.deployment_id == deployment_id


def stream_sft(
    store: FeedbackStore, partition_key: str, deployment_id: str, chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The partition's `sft` rows, only the columns export files carry, in event_id order,
    chunk by chunk (a server-side cursor on PostgreSQL)."""
    c = schema.curated_examples
    query = (
        sa.select(*(c.c[n] for n in CURATED_SCHEMA.names))
        .where(*_in_partition(c, partition_key, deployment_id), c.c.role == "sft")
        .order_by(c.c.event_id)
    )
    return stream(store, c, query, chunk_rows)


def hard_rows(store: FeedbackStore, partition_key: str, deployment_id: str) -> pd.DataFrame:
    """The partition's curated undesirable rows (roles preference and kto): KTO False rows."""
    c = schema.curated_examples
    cols = ("prompt", "response", "original_response", "event_id", "deployment_id", "role")
    query = (
        sa.select(*(c.c[n] for n in cols))
        .where(*_in_partition(c, partition_key, deployment_id))
        .where(c.c.role.in_(UNDESIRABLE_ROLES))
        .order_by(c.c.event_id)
    )
    return read_columns(store, c, query)


def minable(
    partition_key: str, deployment_id: str, max_hard_quality: float
) -> sa.ColumnElement[bool]:
    """Which sanitized_logs rows of a deployment-day preference data can come from: events with
    a signal, events scored <= max_hard_quality, events naming the answer they regenerate, and
    the events of a regenerated answer's session with its prompt (its implicit regeneration)."""
    e, s, q = schema.sanitized_logs, schema.sanitized_signals, schema.quality_scores
    in_e, in_s, in_q = (_in_partition(t, partition_key, deployment_id) for t in (e, s, q))
    regenerated = sa.select(s.c.event_id).where(*in_s, s.c.signal_type == "regenerate")
    regen_prompts = sa.select(e.c.session_id, e.c.prompt).where(
        *in_e, e.c.event_id.in_(regenerated)
    )
    return sa.or_(
        e.c.event_id.in_(sa.select(s.c.event_id).where(*in_s)),
        e.c.event_id.in_(sa.select(q.c.event_id).where(*in_q, q.c.score <= max_hard_quality)),
        e.c.metadata.like("%regenerate_of%"),
        sa.tuple_(e.c.session_id, e.c.prompt).in_(regen_prompts),
    )


def preference_window(
    store: FeedbackStore, partition_key: str, deployment_id: str, max_hard_quality: float
) -> Window:
    """The part of a deployment-day that DPO pairs and KTO rows can come from, in the day's
    order: the `minable` events. Mining this gives the rows mining the whole day gives; the rest
    of the day never leaves the database."""
    e, s, q = schema.sanitized_logs, schema.sanitized_signals, schema.quality_scores
    in_e, in_s, in_q = (_in_partition(t, partition_key, deployment_id) for t in (e, s, q))
    keep = minable(partition_key, deployment_id, max_hard_quality)
    # One pass over the day: each kept event with its quality row (left join), split below.
    joined = e.outerjoin(
        q, sa.and_(*in_q, q.c.event_id == e.c.event_id, q.c.deployment_id == e.c.deployment_id)
    )
    scored = (q.c.event_id.label("q_event_id"), q.c.score, q.c.refusal_passed)
    events = (
        sa.select(*(e.c[n] for n in _MINED_EVENT_COLUMNS), *scored)
        .select_from(joined)
        .where(*in_e, keep)
        .order_by(e.c.timestamp_us, e.c.event_id)
    )
    rows = read_columns(store, e, events)
    quality = rows.loc[rows["q_event_id"].notna(), ["q_event_id", "score", "refusal_passed"]]
    quality = from_db_frame(q, quality.rename(columns={"q_event_id": "event_id"}))
    signals = sa.select(s).where(*in_s).order_by(s.c.timestamp_us, s.c.signal_id)
    return Window(
        rows[list(_MINED_EVENT_COLUMNS) + ["timestamp"]],
        quality.sort_values("event_id", ignore_index=True),
        read_columns(store, s, signals),
    )
