"""Shared record shapes and column contracts. Pure: no Dagster, no DB driver, no HTTP.

Batches move between layers as pandas DataFrames (or Arrow tables) with the columns below;
single records as the dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SIGNAL_TYPES: tuple[str, ...] = (
    "thumbs_up",
    "thumbs_down",
    "regenerate",
    "edit",
    "copy",
    "share",
    "report",
)

# Size limits (documented in the README; enforced by domain.validate).
MAX_TEXT_BYTES = 1_000_000  # prompt, response, edited_response: 1 MB each (UTF-8)
MAX_ID_CHARS = 256  # deployment_id, model_version_id, user_id, trace_id, session_id
MAX_METADATA_DEPTH = 8  # nesting depth of the metadata JSON object
MAX_METADATA_BYTES = 64_000  # serialized metadata

# Column contract of an events batch (store <-> domain). `timestamp` is tz-aware UTC.
EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "deployment_id",
    "model_version_id",
    "user_id",  # keyed HMAC of the app's user id, never the raw id
    "prompt",
    "response",
    "latency_ms",
    "token_count",
    "input_tokens",
    "output_tokens",
    "trace_id",
    "session_id",
    "metadata",  # JSON text of an object
    "timestamp",
)

# Column contract of a signals batch. deployment_id is resolved by joining on event_id.
SIGNAL_COLUMNS: tuple[str, ...] = (
    "signal_id",
    "event_id",
    "signal_type",
    "user_id",
    "edited_response",
    "metadata",
    "timestamp",
)


@dataclass(frozen=True)
class InferenceEvent:
    event_id: str
    deployment_id: str
    prompt: str
    response: str
    timestamp: datetime
    model_version_id: str | None = None
    user_id: str | None = None
    latency_ms: float | None = None
    token_count: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    trace_id: str | None = None
    session_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


Severity = Literal["none", "possible", "drift", "insufficient_data"]


@dataclass(frozen=True)
class DriftResult:
    """One test of one feature. `score` is normalized to [0, 1] and comparable across types."""

    type: Literal["statistical", "embedding", "output", "feedback"]
    feature: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float | None
    score: float
    drifted: bool
    severity: Severity
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DriftReport:
    deployment_id: str
    drifted: bool
    severity: Severity
    score: float
    reasons: list[str]
    results: list[DriftResult]
    reference_size: int
    current_size: int


# A registered trigger type's name (domain.triggers.registry.TRIGGERS): a new type is a registry
# entry, not an edit here.
TriggerType = str


@dataclass(frozen=True)
class TriggerDecision:
    type: TriggerType
    fired: bool
    reason: str
    values: dict[str, Any] = field(default_factory=dict)


CurationSource = Literal["user_edit", "high_quality", "hard_example", "diverse"]
