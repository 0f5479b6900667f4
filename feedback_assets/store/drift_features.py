"""Stored drift features: the per-event rows quality_scores writes, bounded reads of a window,
a small sample's texts, and the per-reference cache of everything drift needs of a reference.

A window is read as its event_features rows (no text), capped at `cap` rows by a deterministic
sample: when a window holds more, only rows whose sample_key (a hash of the event id) falls below
the matching fraction of the hash range are read. The same rows come back on every read of the
same window, and the test statistics at that size are as good as at the full size (the tests
switch to distance thresholds above 1000 events).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from feedback_assets.domain.drift.drift_features import (
    EVENT_COLUMNS,
    FEEDBACK_FLAGS,
    QUALITY_COLUMNS,
    signal_flags,
)
from feedback_assets.store import schema
from feedback_assets.store.feedback_store import FeedbackStore, now_us

MAX_WINDOW_EVENTS = 100_000  # rows of a window drift reads (see the module doc)
READ_COLUMNS = (
    "event_id", "timestamp_us", "model_version_id", *EVENT_COLUMNS, "prompt_hash", "user_hash",
    "session_hash", *QUALITY_COLUMNS,
)  # fmt: skip
_HASH_RANGE = 1 << 63
_ID_CHUNK = 500  # event ids per IN (...) list: far below every driver's parameter limit
CACHE_VERSION = 1  # bump when the payload's layout changes: old entries are then rebuilt


@dataclass(frozen=True)
class WindowSpec:
    """A deployment's window: one day partition, or a time range (a reference's days)."""

    deployment_id: str
    partition_keys: tuple[
        str, ...
    ]  # the day partitions it spans (signals and texts are read there)
    start_us: int | None = None  # None: the whole of `partition_keys`
    end_us: int | None = None

    def where(self, t: sa.Table) -> list[Any]:
        clauses: list[Any] = [t.c.deployment_id == self.deployment_id]
        if self.start_us is None or self.end_us is None:
            clauses.append(t.c.partition_key.in_(self.partition_keys))
        else:
            clauses += [t.c.timestamp_us >= self.start_us, t.c.timestamp_us < self.end_us]
        return clauses


def _frame(store: FeedbackStore, query: sa.Select[Any]) -> pd.DataFrame:
    """The query's rows through the driver's own cursor: a window is up to 10^5-10^6 rows, and
    SQLAlchemy's per-row result processing cost 3x the fetch itself. Booleans stay 0/1 (SQLite)
    or bool (PostgreSQL), NULL is None; readers cast what they use."""
    with store.engine.connect() as conn:
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params: Any = compiled.params
        if compiled.positional:
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(str(compiled), params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    columns = [c.name for c in query.selected_columns]
    return pd.DataFrame.from_records(rows, columns=columns, coerce_float=False)


def read_features(
    store: FeedbackStore,
    window: WindowSpec,
    *,
    cap: int = MAX_WINDOW_EVENTS,
    metadata: bool = False,
) -> pd.DataFrame:
    """The window's event_features rows (READ_COLUMNS, plus `metadata` when asked), at most about
    `cap` of them (a deterministic sample), in window order (timestamp, event id)."""
    if cap < 1:
        raise ValueError(f"cap: must be >= 1, got {cap}")
    t = schema.event_features
    where = window.where(t)
    with store.engine.connect() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).where(*where)).scalar() or 0)
    if total > cap:
        where.append(t.c.sample_key < _HASH_RANGE // total * cap)
    columns = [*READ_COLUMNS, *(["metadata"] if metadata else [])]
    query = sa.select(*(t.c[c] for c in columns)).where(*where)
    frame = _frame(store, query.order_by(t.c.timestamp_us, t.c.event_id))
    for name in ("prompt_hash", "user_hash", "session_hash"):
        frame[name] = frame[name].astype("Int64")
    return frame


def read_flags(store: FeedbackStore, window: WindowSpec, event_ids: pd.Series) -> pd.DataFrame:
    """FEEDBACK_FLAGS of each event, from the window's partitions' sanitized signals."""
    t = schema.sanitized_signals
    query = sa.select(t.c.event_id, t.c.signal_type).where(
        t.c.deployment_id == window.deployment_id,
        t.c.partition_key.in_(window.partition_keys),
        t.c.signal_type.in_(FEEDBACK_FLAGS),
    )
    return signal_flags(event_ids, _frame(store, query))


def read_texts(store: FeedbackStore, window: WindowSpec, event_ids: Sequence[str]) -> list[str]:
    """prompt + "\\n" + response of each event (in the given order), as drift.embedding_texts
    joins them; an event missing from sanitized_logs gives "\\n"."""
    t = schema.sanitized_logs
    found: list[pd.DataFrame] = []
    for i in range(0, len(event_ids), _ID_CHUNK):
        query = sa.select(t.c.event_id, t.c.prompt, t.c.response).where(
            t.c.deployment_id == window.deployment_id,
            t.c.partition_key.in_(window.partition_keys),
            t.c.event_id.in_(list(event_ids[i : i + _ID_CHUNK])),
        )
        found.append(_frame(store, query))
    rows = pd.concat(found) if found else pd.DataFrame(columns=["event_id", "prompt", "response"])
    rows = rows.drop_duplicates("event_id").set_index("event_id").reindex(list(event_ids))
    prompt = rows["prompt"].astype("string").fillna("")
    return (prompt + "\n" + rows["response"].astype("string").fillna("")).tolist()


def window_stamp(store: FeedbackStore, window: WindowSpec) -> dict[str, int]:
    """What a cached reference was built from: rows, their latest write, the window's signals.
    Any change (a day scored or re-scored, new feedback) changes the stamp."""
    f, s = schema.event_features, schema.sanitized_signals
    rows = sa.select(sa.func.count(), sa.func.max(f.c.written_us), sa.func.max(f.c.timestamp_us))
    signals = sa.select(sa.func.count(), sa.func.max(s.c.timestamp_us)).where(
        s.c.deployment_id == window.deployment_id, s.c.partition_key.in_(window.partition_keys)
    )
    with store.engine.connect() as conn:
        n, written, last = conn.execute(rows.where(*window.where(f))).one()
        n_sig, last_sig = conn.execute(signals).one()
    return {
        "rows": int(n or 0),
        "written_us": int(written or 0),
        "last_us": int(last or 0),
        "signals": int(n_sig or 0),
        "last_signal_us": int(last_sig or 0),
    }


def fingerprint(**parts: Any) -> str:
    text = json.dumps({"version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# -- the reference cache ------------------------------------------------------------------------
@dataclass
class CachedReference:
    frame: pd.DataFrame  # feature rows + feedback flags (+ metadata), window order
    texts: list[str] | None  # the text sample (None: an empty window)
    embeddings: np.ndarray | None  # of `texts`; None: not embedded (yet)
    embed_key: str = ""  # which embedder made `embeddings`


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def pack(ref: CachedReference) -> bytes:
    """Two Arrow IPC streams (the frame; texts + embeddings), each behind its 8-byte length."""
    frame = pa.Table.from_pandas(ref.frame, preserve_index=False)
    texts = ref.texts if ref.texts is not None else []
    columns: dict[str, pa.Array] = {"text": pa.array(texts, pa.large_string())}
    dim = 0
    if ref.embeddings is not None:
        emb = np.ascontiguousarray(ref.embeddings, dtype=np.float32)
        dim = int(emb.shape[1]) if emb.ndim == 2 else 0
        columns["embedding"] = pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), dim)
    meta = {"has_texts": str(ref.texts is not None), "embed_key": ref.embed_key, "dim": str(dim)}
    sample = pa.table(columns).replace_schema_metadata(meta)
    parts = [_ipc(frame), _ipc(sample)]
    return b"".join(struct.pack("<Q", len(p)) + p for p in parts)


def unpack(payload: bytes) -> CachedReference:
    tables, pos = [], 0
    while pos < len(payload):
        (size,) = struct.unpack_from("<Q", payload, pos)
        tables.append(pa.ipc.open_stream(payload[pos + 8 : pos + 8 + size]).read_all())
        pos += 8 + size
    frame_table, sample = tables
    # Nullable Int64 keeps 63-bit hashes exact (a float64 column would round them).
    frame = frame_table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    meta = {k.decode(): v.decode() for k, v in (sample.schema.metadata or {}).items()}
    texts = sample.column("text").to_pylist() if meta.get("has_texts") == "True" else None
    embeddings = None
    if "embedding" in sample.column_names:
        flat = sample.column("embedding").combine_chunks().values.to_numpy(zero_copy_only=False)
        embeddings = flat.astype(np.float32).reshape(sample.num_rows, int(meta["dim"]))
    return CachedReference(frame, texts, embeddings, meta.get("embed_key", ""))


def load_reference(store: FeedbackStore, reference_id: str, key: str) -> CachedReference | None:
    t = schema.drift_reference_cache
    query = sa.select(t.c.payload).where(t.c.reference_id == reference_id, t.c.fingerprint == key)
    with store.engine.connect() as conn:
        payload = conn.execute(query).scalar()
    return None if payload is None else unpack(bytes(payload))


def save_reference(
    store: FeedbackStore, reference_id: str, deployment_id: str, key: str, ref: CachedReference
) -> bool:
    """Replace the reference's cache entry; False when a concurrent run saved it first (the
    cache is an optimisation: losing that race is not an error)."""
    t = schema.drift_reference_cache
    row = {
        "reference_id": reference_id,
        "fingerprint": key,
        "deployment_id": deployment_id,
        "payload": pack(ref),
        "created_us": now_us(),
    }
    try:
        with store.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.reference_id == reference_id))
            conn.execute(t.insert(), [row])
    except sa.exc.IntegrityError:
        return False
    return True
