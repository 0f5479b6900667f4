"""The feedback store's schema: one definition for SQLite and PostgreSQL.

These tables are the single source: a new store is created from them, and Alembic revisions in
migrations/versions/ carry older stores forward (`alembic revision -m "..."`, see the README).

Times are stored as `*_us` BIGINT epoch microseconds (UTC): portable, indexable, no tz ambiguity.
JSON is stored as text. Derived tables carry `partition_key` so an asset can replace its partition.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def _event_body() -> list[sa.Column]:
    """The columns an event carries after its id and deployment (raw and sanitized alike)."""
    return [
        sa.Column("model_version_id", sa.String(256)),
        sa.Column("user_id", sa.String(128)),  # keyed HMAC, never the raw id
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("latency_ms", sa.Float),
        sa.Column("token_count", sa.BigInteger),
        sa.Column("input_tokens", sa.BigInteger),
        sa.Column("output_tokens", sa.BigInteger),
        sa.Column("trace_id", sa.String(256)),
        sa.Column("session_id", sa.String(256)),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("timestamp_us", sa.BigInteger, nullable=False),
    ]


events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    *_event_body(),
    sa.Column("ingested_us", sa.BigInteger, nullable=False),
    # The PII pattern set the SDK redacted with (domain/pii/pii_version); NULL: not redacted.
    sa.Column("pii_version", sa.String(32)),
    sa.Index("ix_events_deployment_time", "deployment_id", "timestamp_us"),
    # Events arrive in time order, so a BRIN index serves time-range reads on PostgreSQL at a
    # fraction of a B-tree's insert cost (raw COPY 40k -> 48k rows/s). SQLite: a B-tree.
    sa.Index("ix_events_time", "timestamp_us", postgresql_using="brin"),
)

signals = sa.Table(
    "signals",
    metadata,
    sa.Column("signal_id", sa.String(64), primary_key=True),
    # No foreign key: a signal may arrive before its event is flushed; joined later.
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("signal_type", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(128)),
    sa.Column("edited_response", sa.Text),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("timestamp_us", sa.BigInteger, nullable=False),
    sa.Column("ingested_us", sa.BigInteger, nullable=False),
    sa.Index("ix_signals_event", "event_id"),
    sa.Index("ix_signals_time", "timestamp_us"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # sanitized original payload, JSON
    sa.Column("received_us", sa.BigInteger, nullable=False),
    sa.Index("ix_dead_letters_time", "received_us"),
)


# Each derived table's row key within a deployment-day: a unique index on
# (partition_key, deployment_id, *key), so a concurrent replace can never leave two copies.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "sanitized_logs": ("event_id",),
    "sanitized_signals": ("signal_id",),
    "quality_scores": ("event_id",),
    "drift_results": ("type", "feature", "test"),
    "curated_examples": ("event_id",),
    "event_features": ("event_id",),
}


def _partitioned(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("partition_key", sa.String(32), nullable=False),
        sa.Column("deployment_id", sa.String(256), nullable=False),
        *columns,
        sa.Index(f"ix_{name}_partition", "partition_key", "deployment_id"),
        sa.Index(f"ux_{name}_row", "partition_key", "deployment_id", *ROW_KEYS[name], unique=True),
    )


sanitized_logs = _partitioned(
    "sanitized_logs",
    sa.Column("event_id", sa.String(64), nullable=False),
    *_event_body(),
    sa.Column("redacted", sa.Boolean, nullable=False),  # the re-scan changed this row
)
# Reads by deployment and time across days (reference windows, the sensors' rolling quality
# window) use these instead of scanning every partition of the deployment.
sa.Index(
    "ix_sanitized_logs_deployment_time",
    sanitized_logs.c.deployment_id,
    sanitized_logs.c.timestamp_us,
)

sanitized_signals = _partitioned(
    "sanitized_signals",
    sa.Column("signal_id", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("signal_type", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(128)),
    sa.Column("edited_response", sa.Text),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("timestamp_us", sa.BigInteger, nullable=False),
)

quality_scores = _partitioned(
    "quality_scores",
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("model_version_id", sa.String(256)),
    sa.Column("timestamp_us", sa.BigInteger, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("hard_fail", sa.Boolean, nullable=False),
    sa.Column("format_kind", sa.String(16)),
    sa.Column("format_score", sa.Float),
    sa.Column("format_passed", sa.Boolean),
    sa.Column("length_score", sa.Float),
    sa.Column("length_passed", sa.Boolean),
    sa.Column("refusal_score", sa.Float),
    sa.Column("refusal_passed", sa.Boolean),
    sa.Column("repetition_score", sa.Float),
    sa.Column("repetition_passed", sa.Boolean),
    sa.Column("judge_score", sa.Float),  # NULL = not judged; never counted as 1.0
    sa.Column("judge_status", sa.String(32)),
    sa.Column("details", sa.Text),
)
sa.Index(
    "ix_quality_scores_deployment_time",
    quality_scores.c.deployment_id,
    quality_scores.c.timestamp_us,
)

judge_cache = sa.Table(
    "judge_cache",
    metadata,
    sa.Column("cache_key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
)

drift_results = _partitioned(
    "drift_results",
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("feature", sa.String(128), nullable=False),
    sa.Column("test", sa.String(64), nullable=False),
    sa.Column("statistic", sa.Float),
    sa.Column("p_value", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("score", sa.Float),
    sa.Column("drifted", sa.Boolean, nullable=False),
    sa.Column("severity", sa.String(24), nullable=False),
    sa.Column("details", sa.Text),
)

# Every drift verdict ever computed (assets, live windows, facade, checks): get_drift_history
# reads this.
drift_history = sa.Table(
    "drift_history",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("partition_key", sa.String(32)),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("window_start_us", sa.BigInteger),
    sa.Column("window_end_us", sa.BigInteger),
    sa.Column("drifted", sa.Boolean, nullable=False),
    sa.Column("severity", sa.String(24), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("reference_id", sa.String(64)),
    sa.Column("reference_size", sa.Integer),
    sa.Column("current_size", sa.Integer),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Index("ix_drift_history_deployment", "deployment_id", "created_us"),
)

# The latest minutes of each deployment's traffic, one row per window-length bucket (the
# live_drift asset): the quality aggregate the quality trigger reads, and the id of the bucket's
# drift_history row (None: too few events for a verdict). Refreshes in a bucket replace its row.
live_windows = sa.Table(
    "live_windows",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # also its drift_history row's id
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("window_start_us", sa.BigInteger, nullable=False),
    sa.Column("window_end_us", sa.BigInteger, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("quality_mean", sa.Float),
    sa.Column("quality_n", sa.Integer, nullable=False),
    sa.Column("drift_history_id", sa.String(64)),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Index("ix_live_windows_deployment", "deployment_id", "window_end_us"),
)

drift_references = sa.Table(
    "drift_references",
    metadata,
    sa.Column("reference_id", sa.String(64), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("model_version_id", sa.String(256)),
    sa.Column("start_us", sa.BigInteger),
    sa.Column("end_us", sa.BigInteger),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Index("ix_drift_references_deployment", "deployment_id", "active"),
)

# Per-event drift features, written once by quality_scores beside its rows: drift reads these
# instead of the texts. Hashes (63-bit) stand in for texts where only equality matters;
# sample_key orders a deterministic sample; written_us tells a cached reference it is stale.
event_features = _partitioned(
    "event_features",
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("model_version_id", sa.String(256)),
    sa.Column("timestamp_us", sa.BigInteger, nullable=False),
    *(sa.Column(c, sa.BigInteger) for c in ("prompt_length", "response_length", "token_count")),
    sa.Column("latency_ms", sa.Float),
    sa.Column("metadata", sa.Text),  # sanitized JSON: categorical_metadata_fields read it
    *(sa.Column(c, sa.BigInteger) for c in ("prompt_hash", "user_hash", "session_hash")),
    sa.Column("sample_key", sa.BigInteger, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("format_kind", sa.String(16)),
    *(sa.Column(f"{c}_passed", sa.Boolean) for c in ("refusal", "length", "format", "repetition")),
    sa.Column("written_us", sa.BigInteger, nullable=False),
)
sa.Index("ix_event_features_deployment_time", event_features.c.deployment_id,
         event_features.c.timestamp_us)  # fmt: skip

# A reference's statistics-ready sample (feature rows, texts, embeddings as Arrow IPC), keyed by
# the reference and a fingerprint of what it was built from: a changed window rebuilds it.
drift_reference_cache = sa.Table(
    "drift_reference_cache",
    metadata,
    sa.Column("reference_id", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
)

curated_examples = _partitioned(
    "curated_examples",
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("model_version_id", sa.String(256)),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("original_response", sa.Text),
    sa.Column("curation_source", sa.String(32), nullable=False),
    sa.Column("curation_score", sa.Float, nullable=False),
    sa.Column("quality_score", sa.Float),
    sa.Column("signal_score", sa.Float),
    # sft | preference | kto | eval; rows curated before roles existed are "legacy" (never sft).
    sa.Column("role", sa.String(16), nullable=False, server_default="legacy"),
)

# Each deployment's prompt clusters and their split, frozen once written: eval rows are the
# held-out eval set (with a reference answer where one is known), train rows pin the clusters
# that reached training so a later near-duplicate cannot become eval.
prompt_splits = sa.Table(
    "prompt_splits",
    metadata,
    sa.Column("deployment_id", sa.String(256), primary_key=True),
    sa.Column("prompt_key", sa.String(16), primary_key=True),  # hash of the normalized prompt
    sa.Column("cluster_key", sa.String(16), nullable=False),
    sa.Column("split", sa.String(8), nullable=False),  # "eval" | "train"
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("reference_answer", sa.Text),
    sa.Column("source", sa.String(32)),
    sa.Column("event_id", sa.String(64)),
    sa.Column("version", sa.Integer, nullable=False),  # the eval set version that added it
    sa.Column("partition_key", sa.String(32)),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Index("ix_prompt_splits_split", "deployment_id", "split"),
)

# Kept apart from curated_examples so re-curating a partition never forgets what was exported.
export_marks = sa.Table(
    "export_marks",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("export_batch_id", sa.String(128), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # "export" | "retraining"
    sa.Column("exported_us", sa.BigInteger, nullable=False),
    sa.Index("ix_export_marks_deployment", "deployment_id", "kind"),
)

export_batches = sa.Table(
    "export_batches",
    metadata,
    sa.Column("export_batch_id", sa.String(128), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("partition_key", sa.String(32)),
    sa.Column("root", sa.Text, nullable=False),
    sa.Column("manifest", sa.Text, nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
)

retraining_runs = sa.Table(
    "retraining_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("trigger_types", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("export_batch_id", sa.String(128)),
    sa.Column("launcher", sa.String(32), nullable=False),
    sa.Column("launcher_job_id", sa.String(256)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("base_model_version_id", sa.String(256)),
    sa.Column("new_model_version_id", sa.String(256)),
    sa.Column("started_us", sa.BigInteger, nullable=False),
    sa.Column("finished_us", sa.BigInteger),
    sa.Column("error", sa.Text),
    sa.Index("ix_retraining_runs_deployment", "deployment_id", "started_us"),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    # Per deployment: two deployments may start from the same base model name.
    sa.Column("deployment_id", sa.String(256), primary_key=True),
    sa.Column("model_version_id", sa.String(256), primary_key=True),
    sa.Column("parent_model_version_id", sa.String(256)),
    sa.Column("retraining_run_id", sa.String(64)),
    sa.Column("registered_us", sa.BigInteger, nullable=False),
    # candidate -> promoted | rejected | failed; promoted -> rolled_back. Rows from before the
    # gate existed were made current on registration, so they read as promoted.
    sa.Column("status", sa.String(16), nullable=False, server_default="promoted"),
    sa.Column("evaluation", sa.Text),  # JSON: metrics, win/tie/loss, p-values, cost
    sa.Column("reasons", sa.Text),  # JSON list of strings
    sa.Column("decided_us", sa.BigInteger),
    sa.Index("ix_model_versions_deployment", "deployment_id", "registered_us"),
)

trigger_history = sa.Table(
    "trigger_history",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("trigger_type", sa.String(32), nullable=False),
    sa.Column("fired", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("trigger_values", sa.Text, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("run_key", sa.String(256)),
    sa.Column("evaluated_us", sa.BigInteger, nullable=False),
    sa.Index("ix_trigger_history_deployment", "deployment_id", "evaluated_us"),
)

# The collector's API keys: one deployment per key; the key itself is never stored, only its
# SHA-256 (domain/api_keys.py). A revoked key keeps its row, so listings show it was revoked.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("deployment_id", sa.String(256), nullable=False),
    sa.Column("key_sha256", sa.String(64), nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("revoked_us", sa.BigInteger),
    sa.Index("ix_api_keys_deployment", "deployment_id"),
)

# One row per forget_user call: the keyed HMAC of the user id (never the id in clear), when, and
# counts only (rows per table, export files rewritten, models already trained on the data).
erasure_log = sa.Table(
    "erasure_log",
    metadata,
    sa.Column("erasure_id", sa.String(64), primary_key=True),
    sa.Column("user_hash", sa.String(128), nullable=False),
    sa.Column("report", sa.Text, nullable=False),  # JSON: counts, batches, model versions
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Index("ix_erasure_log_user", "user_hash", "created_us"),
)
