"""OTLP/HTTP trace requests (protobuf or JSON) to domain spans, and the OTLP response.

Decoding uses the official `opentelemetry-proto` messages. OTLP/JSON differs from protobuf's
JSON mapping in one way that matters: trace and span ids are hex, not base64, so they are
re-encoded before `ParseDict`; unknown fields are ignored, as the OTLP spec requires.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from feedback_assets.collector.errors import CollectorError, field_error
from feedback_assets.domain.ingest.genai_spans import Span, SpanEvent

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def media_type(content_type: str | None) -> str:
    """PROTOBUF or JSON from a Content-Type header; 415 otherwise."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in (PROTOBUF, JSON):
        return kind
    reason = f"must be {PROTOBUF} or {JSON}, got {kind or 'nothing'!r}"
    raise CollectorError(415, "unsupported media type", [field_error("Content-Type", reason)])


def decode_request(body: bytes, kind: str) -> ExportTraceServiceRequest:
    try:
        if kind == PROTOBUF:
            return ExportTraceServiceRequest.FromString(body)
        parsed = orjson.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError("the body must be a JSON object")
        return json_format.ParseDict(
            _ids_to_base64(parsed), ExportTraceServiceRequest(), ignore_unknown_fields=True
        )
    except (DecodeError, ValueError, json_format.ParseError) as exc:
        reason = f"is not an OTLP ExportTraceServiceRequest ({str(exc)[:200]})"
        raise CollectorError(400, "bad OTLP request", [field_error("body", reason)]) from None


def _ids_to_base64(node: Any) -> Any:
    """OTLP/JSON's hex ids as protobuf JSON's base64, everywhere in the request."""
    if isinstance(node, dict):
        return {
            k: _hex_to_base64(v) if k in _ID_KEYS and isinstance(v, str) else _ids_to_base64(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_ids_to_base64(v) for v in node]
    return node


def _hex_to_base64(value: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        raise ValueError(f"ids must be hex strings, got {value[:40]!r}") from None


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


def resources_of(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    return [attributes(r.resource.attributes) for r in request.resource_spans]


def spans_of(request: ExportTraceServiceRequest) -> list[Span]:
    """Every span of the request, with its resource's attributes."""
    out = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                events = [
                    SpanEvent(e.name, e.time_unix_nano, attributes(e.attributes))
                    for e in span.events
                ]
                out.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes=attributes(span.attributes),
                        parent_span_id=span.parent_span_id.hex(),
                        events=events,
                        links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
                        resource=resource,
                    )
                )
    return out


def encode_response(kind: str, rejected: int = 0, message: str = "") -> bytes:
    """ExportTraceServiceResponse; partial_success only when something was refused or noted."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
        )
    if kind == PROTOBUF:
        return response.SerializeToString()
    return orjson.dumps(json_format.MessageToDict(response))
