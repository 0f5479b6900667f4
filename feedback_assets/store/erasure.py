"""Erasure on the feedback store: find one user's rows, delete them everywhere, compact.

The user is known by the keyed HMAC of their id (the `user_id` column of events, signals and the
sanitized tables); every derived table is reached through the user's event ids. One transaction
deletes the rows, scrubs drift explanations and records the erasure; then SQLite is VACUUMed and
its WAL truncated, because a deleted row's bytes stay in free pages until then.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from feedback_assets.domain.curation.eval_split import prompt_keys
from feedback_assets.domain.pii.erase_text import scrub_details, scrub_reason
from feedback_assets.domain.quality.judge import cache_key
from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us

CHUNK = 5000  # ids per IN (...) clause


@dataclass
class UserRows:
    """What the store holds of one user, read before anything is deleted."""

    user_hash: str
    events: pd.DataFrame  # event_id, deployment_id, partition_key, prompt, response, timestamp_us
    signal_ids: list[str]
    texts: set[str] = field(default_factory=set)  # every text the user's rows carry

    @property
    def event_ids(self) -> list[str]:
        return sorted(set(self.events["event_id"]))


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(values), CHUNK):
        yield list(values[i : i + CHUNK])


def _select(conn: sa.Connection, query: sa.Select[Any]) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _by_ids(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], key: str, ids: Sequence[str]
) -> pd.DataFrame:
    parts = [
        _select(conn, sa.select(*(table.c[c] for c in columns)).where(table.c[key].in_(chunk)))
        for chunk in _chunks(ids)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))


def find_user(store: FeedbackStore, user_hash: str) -> UserRows:
    """The user's events (raw and sanitized), signals and every text they carry."""
    e, s, sl = schema.events, schema.signals, schema.sanitized_logs
    cols = ["event_id", "deployment_id", "prompt", "response", "timestamp_us"]
    with store.engine.connect() as conn:
        raw = _select(conn, sa.select(*(e.c[c] for c in cols)).where(e.c.user_id == user_hash))
        clean = _select(
            conn,
            sa.select(*(sl.c[c] for c in [*cols, "partition_key"])).where(
                sl.c.user_id == user_hash
            ),
        )
        events = pd.concat([clean, raw.assign(partition_key=None)], ignore_index=True)
        ids = sorted(set(events["event_id"]))
        signals = _select(
            conn,
            sa.select(s.c.signal_id, s.c.edited_response).where(s.c.user_id == user_hash),
        )
        for table in (s, schema.sanitized_signals):
            by_event = _by_ids(conn, table, ["signal_id", "edited_response"], "event_id", ids)
            signals = pd.concat([signals, by_event], ignore_index=True)
        curated = _by_ids(
            conn,
            schema.curated_examples,
            ["prompt", "response", "original_response"],
            "event_id",
            ids,
        )
        splits = _by_ids(
            conn, schema.prompt_splits, ["prompt", "reference_answer"], "event_id", ids
        )
    texts = {
        str(v)
        for frame in (events[["prompt", "response"]], signals[["edited_response"]], curated, splits)
        for v in frame.to_numpy().ravel()
        if isinstance(v, str) and v
    }
    return UserRows(user_hash, events, sorted(set(signals["signal_id"])), texts)


def dead_letter_ids(store: FeedbackStore, user: UserRows) -> list[str]:
    """Dead letters holding the user's hashed id, or (signals) naming one of their events."""
    d = schema.dead_letters
    with store.engine.connect() as conn:
        mine = _select(conn, sa.select(d.c.id).where(d.c.payload.contains(user.user_hash)))
        signals = _select(conn, sa.select(d.c.id, d.c.payload).where(d.c.kind == "signal"))
    named = signals["payload"].str.extract(r'"event_id":\s*"([^"]*)"', expand=False)
    about = signals.loc[named.isin(set(user.event_ids)).to_numpy(), "id"]
    return sorted(set(mine["id"]) | set(about))


def judge_cache_keys(store: FeedbackStore, user: UserRows) -> list[str]:
    """Cache keys of the user's (prompt, response) pairs under every rubric and model cached."""
    values = pd.Series(_select_column(store, schema.judge_cache.c.value), dtype=object).astype(str)
    if values.empty or user.events.empty:
        return []
    rubric = values.str.extract(r'"rubric_version":\s*"([^"]*)"', expand=False)
    model = values.str.extract(r'"model":\s*"([^"]*)"', expand=False)
    combos = pd.DataFrame({"rubric": rubric, "model": model}).dropna().drop_duplicates()
    pairs = user.events[["prompt", "response"]].drop_duplicates()
    return sorted(
        {
            cache_key(p, r, rv, m)
            for p, r in pairs.itertuples(index=False)
            for rv, m in combos.itertuples(index=False)
        }
    )


def _select_column(store: FeedbackStore, column: sa.Column) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(column)).scalars())


def _user_prompt_keys(user: UserRows) -> dict[str, list[str]]:
    """Per deployment: the keys of the user's prompts in prompt_splits (train rows lack ids)."""
    ev = user.events.dropna(subset=["prompt"])
    keys = prompt_keys(ev["prompt"].astype(str)) if len(ev) else pd.Series(dtype=object)
    return {
        str(dep): sorted(set(keys[ev["deployment_id"] == dep]))
        for dep in ev["deployment_id"].unique()
    }


def _delete_where(conn: sa.Connection, table: sa.Table, *clauses: Any) -> int:
    if not clauses:
        return 0
    return int(conn.execute(table.delete().where(sa.or_(*clauses))).rowcount or 0)


def _in_chunks(column: sa.Column, ids: Sequence[str]) -> list[Any]:
    return [column.in_(chunk) for chunk in _chunks(ids)]


def delete_user(
    conn: sa.Connection,
    user: UserRows,
    dead_letters: Sequence[str],
    judge_keys: Sequence[str],
) -> dict[str, int]:
    """Delete every row of the user; returns rows deleted per table."""
    ids, h = user.event_ids, user.user_hash
    t = schema
    counts = {
        "events": _delete_where(
            conn, t.events, t.events.c.user_id == h, *_in_chunks(t.events.c.event_id, ids)
        ),
        "signals": _delete_where(
            conn,
            t.signals,
            t.signals.c.user_id == h,
            *_in_chunks(t.signals.c.event_id, ids),
            *_in_chunks(t.signals.c.signal_id, user.signal_ids),
        ),
    }
    for name in ("sanitized_logs", "sanitized_signals"):
        table = t.metadata.tables[name]
        by_id = _in_chunks(table.c.event_id, ids)
        if name == "sanitized_signals":
            by_id += _in_chunks(table.c.signal_id, user.signal_ids)
        counts[name] = _delete_where(conn, table, table.c.user_id == h, *by_id)
    for name in ("quality_scores", "event_features", "curated_examples", "export_marks"):
        table = t.metadata.tables[name]
        counts[name] = _delete_where(conn, table, *_in_chunks(table.c.event_id, ids))
    # Cached drift references hold a text sample: dropped (rebuilt by the next drift run).
    wipe = t.drift_reference_cache.delete()
    counts["drift_reference_cache"] = int(conn.execute(wipe).rowcount or 0) if ids else 0
    counts["prompt_splits"] = _delete_prompt_splits(conn, user)
    counts["dead_letters"] = _delete_where(
        conn, t.dead_letters, *_in_chunks(t.dead_letters.c.id, dead_letters)
    )
    counts["judge_cache"] = _delete_where(
        conn, t.judge_cache, *_in_chunks(t.judge_cache.c.cache_key, judge_keys)
    )
    return counts


def _delete_prompt_splits(conn: sa.Connection, user: UserRows) -> int:
    p = schema.prompt_splits
    deleted = _delete_where(conn, p, *_in_chunks(p.c.event_id, user.event_ids))
    for dep, keys in _user_prompt_keys(user).items():
        in_dep = [sa.and_(p.c.deployment_id == dep, c) for c in _in_chunks(p.c.prompt_key, keys)]
        deleted += _delete_where(conn, p, *in_dep)
    return deleted


def scrub_drift(
    conn: sa.Connection, user: UserRows, examples: frozenset[str], tokens: frozenset[str]
) -> dict[str, int]:
    """Rewrite the drift rows of windows the user took part in without their texts."""
    r, h = schema.drift_results, schema.drift_history
    days = user.events.dropna(subset=["partition_key"])[["partition_key", "deployment_id"]]
    changed = {"drift_results": 0, "drift_history": 0}
    for (day, dep), _ in days.groupby(["partition_key", "deployment_id"]):
        rows = _select(
            conn,
            sa.select(
                r.c.partition_key, r.c.deployment_id, r.c.type, r.c.feature, r.c.test, r.c.details
            ).where(r.c.partition_key == day, r.c.deployment_id == dep),
        )
        for row in rows.to_dict("records"):
            if row["details"] is None:
                continue
            new = json.dumps(scrub_details(json.loads(row["details"]), examples, tokens))
            if new != row["details"]:
                key = {
                    k: row[k] for k in ("partition_key", "deployment_id", "type", "feature", "test")
                }
                conn.execute(
                    r.update().where(*(r.c[k] == v for k, v in key.items())).values(details=new)
                )
                changed["drift_results"] += 1
    for row in _history_rows(conn, user).to_dict("records"):
        new = json.dumps([scrub_reason(x, examples, tokens) for x in json.loads(row["reasons"])])
        if new != row["reasons"]:
            conn.execute(h.update().where(h.c.id == row["id"]).values(reasons=new))
            changed["drift_history"] += 1
    return changed


def _history_rows(conn: sa.Connection, user: UserRows) -> pd.DataFrame:
    """drift_history rows whose day or window holds one of the user's events."""
    h = schema.drift_history
    deployments = sorted(set(user.events["deployment_id"]))
    if not deployments:
        return pd.DataFrame(columns=["id", "reasons"])
    rows = _select(
        conn,
        sa.select(
            h.c.id,
            h.c.deployment_id,
            h.c.partition_key,
            h.c.window_start_us,
            h.c.window_end_us,
            h.c.reasons,
        ).where(h.c.deployment_id.in_(deployments)),
    )
    hit = np.zeros(len(rows), dtype=bool)
    for dep, ev in user.events.groupby("deployment_id"):
        times = np.sort(ev["timestamp_us"].astype("int64").to_numpy())
        days = set(ev["partition_key"].dropna())
        mine = (rows["deployment_id"] == dep).to_numpy()
        start = rows["window_start_us"].fillna(np.iinfo(np.int64).max).astype("int64").to_numpy()
        end = rows["window_end_us"].fillna(np.iinfo(np.int64).min).astype("int64").to_numpy()
        inside = np.searchsorted(times, end, "left") > np.searchsorted(times, start, "left")
        hit |= mine & (inside | rows["partition_key"].isin(days).to_numpy())
    return rows[hit]


def update_manifests(conn: sa.Connection, manifests: Mapping[str, Mapping[str, Any]]) -> None:
    b = schema.export_batches
    for batch_id, manifest in manifests.items():
        conn.execute(
            b.update()
            .where(b.c.export_batch_id == batch_id)
            .values(manifest=json.dumps(manifest, default=str))
        )


def forget_batches(conn: sa.Connection, batch_ids: Iterable[str]) -> None:
    """Tombstoned batches leave the store (their manifest on disk says why)."""
    ids = sorted(batch_ids)
    for table in (schema.export_marks, schema.export_batches):
        _delete_where(conn, table, *_in_chunks(table.c.export_batch_id, ids))


def runs_trained_on(
    store: FeedbackStore, bundle_ids: Iterable[str], event_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Retraining runs whose bundle held the user's rows (found in its files, or marked)."""
    m, r = schema.export_marks, schema.retraining_runs
    bundles = set(bundle_ids)
    with store.engine.connect() as conn:
        for chunk in _chunks(event_ids):
            query = sa.select(m.c.export_batch_id).where(
                m.c.kind == "retraining", m.c.event_id.in_(chunk)
            )
            bundles.update(conn.execute(query.distinct()).scalars())
        cols = ["run_id", "deployment_id", "status", "launcher", "launcher_job_id"]
        runs = _by_ids(conn, r, [*cols, "new_model_version_id"], "export_batch_id", sorted(bundles))
    runs = runs.astype(object).where(runs.notna(), None)
    return sorted(runs.to_dict("records"), key=lambda row: str(row["run_id"]))


@contextlib.contextmanager
def write_transaction(store: FeedbackStore) -> Iterator[sa.Connection]:
    """One transaction holding the write lock from its first statement (SQLite: BEGIN
    IMMEDIATE, as partition replaces take it)."""
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def log_erasure(conn: sa.Connection, user_hash: str, report: Mapping[str, Any]) -> str:
    erasure_id = uuid.uuid4().hex
    conn.execute(
        schema.erasure_log.insert().values(
            erasure_id=erasure_id,
            user_hash=user_hash,
            report=json.dumps(report, default=str),
            created_us=now_us(),
        )
    )
    return erasure_id


def compact(store: FeedbackStore) -> str:
    """SQLite: VACUUM (rewrites the file without the free pages that still hold deleted bytes)
    and truncate the WAL. PostgreSQL: deleted rows are gone from every query and dump at once.

    Returns what happened; a busy database is reported (run forget_user again), never raised:
    the rows are already deleted and the erasure logged."""
    if store.dialect != "sqlite":
        return "not needed (postgresql)"
    try:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
    except sa.exc.OperationalError as exc:
        return f"failed ({type(exc.orig).__name__}): run forget_user again when the store is idle"
    if busy:
        return "vacuumed; the WAL is still read by another connection (truncated on its next checkpoint)"
    return "vacuumed"
