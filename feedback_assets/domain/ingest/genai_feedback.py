"""User feedback in OpenTelemetry traces, as signals. The convention (README, "Collector"):

- a span event `gen_ai.user.feedback` with the attribute `feedback.signal` (thumbs_up,
  thumbs_down, regenerate, edit, copy, share, report), or
- the attribute `feedback.signal` on a span (the signal is timed at the span's end), or
- the semconv event `gen_ai.evaluation.result` whose `gen_ai.evaluation.score.label` is a
  signal type (its name, score and explanation go to the signal's metadata).

Optional attributes: `feedback.edited_response` (edit), `user.id`, and any other `feedback.*`
attribute (kept in metadata). The signal is about the inference event named by, in order:
`feedback.event_id`; `feedback.span_id` (with `feedback.trace_id`, default the span's trace);
the span itself when it is a GenAI inference; the span's first link; its parent span.
Signal ids derive from the span and the event's position, so an exporter's retry is idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from feedback_assets.domain.ingest.genai_spans import Span, is_inference, ns_time, span_event_id
from feedback_assets.domain.records import SIGNAL_TYPES

FEEDBACK_EVENT = "gen_ai.user.feedback"
EVALUATION_EVENT = "gen_ai.evaluation.result"
SIGNAL_ATTRIBUTE = "feedback.signal"
_TARGETING = {"feedback.event_id", "feedback.span_id", "feedback.trace_id"}
_FIELDS = {SIGNAL_ATTRIBUTE, "feedback.edited_response", *_TARGETING}
_EVALUATION_METADATA = (
    "gen_ai.evaluation.name",
    "gen_ai.evaluation.score.value",
    "gen_ai.evaluation.explanation",
)


def derived_id(*parts: str) -> str:
    """A UUID-shaped id that is the same for the same parts (retries, replays)."""
    h = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def target_event(span: Span, attributes: Mapping[str, Any]) -> str | None:
    """The event id a feedback record is about (None: none named; validation says so)."""
    if isinstance(event_id := attributes.get("feedback.event_id"), str):
        return event_id
    if isinstance(span_id := attributes.get("feedback.span_id"), str):
        trace = attributes.get("feedback.trace_id")
        return span_event_id(trace if isinstance(trace, str) else span.trace_id, span_id)
    if is_inference(span):
        return span.event_id
    if span.links:
        return span_event_id(*span.links[0])
    if span.parent_span_id:
        return span_event_id(span.trace_id, span.parent_span_id)
    return None


def _signal(
    span: Span, attributes: Mapping[str, Any], signal_type: Any, time_ns: int, key: str
) -> dict[str, Any]:
    merged = {**span.attributes, **attributes}
    metadata = {
        k: v for k, v in attributes.items() if k.startswith("feedback.") and k not in _FIELDS
    }
    metadata.update({k: attributes[k] for k in _EVALUATION_METADATA if k in attributes})
    metadata["source"] = "otlp"
    signal: dict[str, Any] = {
        "signal_id": derived_id(span.trace_id, span.span_id, key),
        "event_id": target_event(span, merged),
        "signal_type": signal_type,
        "user_id": merged.get("user.id", span.resource.get("user.id")),
        "metadata": metadata,
        "timestamp": ns_time(time_ns),
    }
    if (edited := attributes.get("feedback.edited_response")) is not None:
        signal["edited_response"] = edited
    return signal


def span_signals(span: Span) -> list[dict[str, Any]]:
    """The span's feedback as FeedbackClient signal payloads (validated by the client)."""
    signals = []
    for i, event in enumerate(span.events):
        if event.name == FEEDBACK_EVENT:
            signal_type = event.attributes.get(SIGNAL_ATTRIBUTE)
        elif event.name == EVALUATION_EVENT:
            signal_type = event.attributes.get("gen_ai.evaluation.score.label")
            if signal_type not in SIGNAL_TYPES:
                continue  # a judge's label, not a user's feedback
        else:
            continue
        signals.append(_signal(span, event.attributes, signal_type, event.time_ns, f"e{i}"))
    if SIGNAL_ATTRIBUTE in span.attributes:
        attributes = span.attributes
        signal_type = attributes[SIGNAL_ATTRIBUTE]
        signals.append(_signal(span, attributes, signal_type, span.end_ns, "attribute"))
    return signals
