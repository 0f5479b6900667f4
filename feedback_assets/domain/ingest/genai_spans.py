"""OpenTelemetry spans (decoded from OTLP) to inference events, following the GenAI semantic
conventions. Pure: the collector decodes the wire format; the FeedbackClient validates.

A span is an inference when it carries `gen_ai.*` attributes and its `gen_ai.operation.name` is
absent or one of INFERENCE_OPERATIONS (agents, tools and embeddings are not answers to learn
from). It becomes an event only when it holds prompt text; the others are counted as skipped
(content capture off, typically). Event ids are `<trace id>-<span id>`: an exporter's retry
sends the same ids again, and the store keeps one copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from feedback_assets.domain.ingest.genai_messages import prompt_and_response

INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
DEPLOYMENT_ATTRIBUTE = "feedback.deployment_id"  # optional; must match the API key's
# Span attributes copied into the event's metadata when present (small, categorical).
METADATA_ATTRIBUTES = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.response.id",
    "gen_ai.response.finish_reasons",
    "gen_ai.request.temperature",
    "gen_ai.request.max_tokens",
)


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class Span:
    trace_id: str  # 32 hex characters
    span_id: str  # 16 hex characters
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    parent_span_id: str = ""
    events: Sequence[SpanEvent] = ()
    links: Sequence[tuple[str, str]] = ()  # (trace id, span id)
    resource: Mapping[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        return span_event_id(self.trace_id, self.span_id)

    def get(self, *names: str) -> Any:
        """The first of `names` set on the span, else on its resource."""
        for source in (self.attributes, self.resource):
            for name in names:
                value = source.get(name)
                if value is not None:
                    return value
        return None


def span_event_id(trace_id: str, span_id: str) -> str:
    return f"{trace_id}-{span_id}"


def ns_time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def is_inference(span: Span) -> bool:
    if not any(key.startswith("gen_ai.") for key in span.attributes):
        return False
    operation = span.attributes.get("gen_ai.operation.name")
    return operation is None or operation in INFERENCE_OPERATIONS


def declared_deployments(
    spans: Sequence[Span], resources: Sequence[Mapping[str, Any]] = ()
) -> set[str]:
    """The `feedback.deployment_id` values the spans or resources name (as text)."""
    values = [s.get(DEPLOYMENT_ATTRIBUTE) for s in spans]
    values += [r.get(DEPLOYMENT_ATTRIBUTE) for r in resources]
    return {v if isinstance(v, str) else repr(v) for v in values if v is not None}


def _count(value: Any) -> Any:
    """A token count; a whole double (JavaScript exporters send numbers so) becomes an int."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def span_event(span: Span, deployment_id: str) -> dict[str, Any] | None:
    """The inference event of a GenAI span (FeedbackClient payload), or None without prompt."""
    prompt, response, history = prompt_and_response(span.attributes, span.events)
    if prompt is None:
        return None
    inputs = _count(span.get("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"))
    outputs = _count(span.get("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"))
    both = isinstance(inputs, int) and isinstance(outputs, int)
    metadata: dict[str, Any] = {"source": "otlp", "span_name": span.name}
    metadata.update({k: span.attributes[k] for k in METADATA_ATTRIBUTES if k in span.attributes})
    if history:
        metadata["history_messages"] = history
    if (service := span.resource.get("service.name")) is not None:
        metadata["service.name"] = service
    return {
        "event_id": span.event_id,
        "deployment_id": deployment_id,
        "model_version_id": span.get(
            "feedback.model_version_id", "gen_ai.response.model", "gen_ai.request.model"
        ),
        "user_id": span.get("user.id", "enduser.id"),
        "prompt": prompt,
        "response": response or "",
        "latency_ms": max(span.end_ns - span.start_ns, 0) / 1e6,
        "token_count": inputs + outputs if both else None,
        "input_tokens": inputs,
        "output_tokens": outputs,
        "trace_id": span.trace_id,
        "session_id": span.get("session.id", "gen_ai.conversation.id"),
        "metadata": metadata,
        "timestamp": ns_time(span.start_ns),
    }


@dataclass
class SpanEvents:
    events: list[dict[str, Any]]
    spans: list[Span]  # the span of each event
    skipped: int  # inference spans without prompt text


def span_events(spans: Sequence[Span], deployment_id: str) -> SpanEvents:
    out = SpanEvents([], [], 0)
    for span in spans:
        if not is_inference(span):
            continue
        event = span_event(span, deployment_id)
        if event is None:
            out.skipped += 1
        else:
            out.events.append(event)
            out.spans.append(span)
    return out
