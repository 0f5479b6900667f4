"""OTLP/HTTP into the collector: the real OpenTelemetry SDK and its OTLP exporter (protobuf,
gzip) on 127.0.0.1, OTLP/JSON posted as any language's exporter would, and a curl-style
client beside them feeding the same store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link

from feedback_assets.domain.pii.sanitize import hash_user_id
from feedback_assets.settings import resolve_hash_key
from feedback_assets.store import FeedbackStore
from feedback_assets_tests.collector.collector_server import CollectorServer

EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorServer]:
    with CollectorServer(tmp_path_factory.mktemp("otlp")) as running:
        yield running


@pytest.fixture(scope="module")
def key(server: CollectorServer) -> str:
    return server.key("support-bot")


def _provider(server: CollectorServer, key: str) -> TracerProvider:
    exporter = OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces",
        headers={"Authorization": f"Bearer {key}"},
        compression=Compression.Gzip,
        timeout=10,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "support-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def _store(server: CollectorServer) -> FeedbackStore:
    server.flush()
    return FeedbackStore(server.settings.store_url)


def test_an_instrumented_app_and_a_curl_client_feed_the_same_store(
    server: CollectorServer, key: str
) -> None:
    provider = _provider(server, key)
    tracer = provider.get_tracer("support-app")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": _messages("user", f"reset my password, I am {EMAIL}"),
                "gen_ai.output.messages": _messages("assistant", "Done: check your inbox."),
                "gen_ai.usage.input_tokens": 14,
                "gen_ai.usage.output_tokens": 6,
                "session.id": "sess-1",
                "user.id": "user-42",
            }
        )
        span.add_event("gen_ai.user.feedback", {"feedback.signal": "thumbs_up"})
        context = span.get_span_context()
    # Feedback from a later request: its own trace, linked to the answer it rates.
    with tracer.start_as_current_span("feedback", links=[Link(context)]) as later:
        later.set_attributes({"feedback.signal": "edit", "feedback.edited_response": "Fixed."})
    provider.shutdown()

    curl = httpx.post(
        f"{server.base_url}/v1/events",
        json={"prompt": "from curl", "response": "hello", "session_id": "sess-2"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert curl.status_code == 202

    store = _store(server)
    event_id = f"{context.trace_id:032x}-{context.span_id:016x}"
    events = store.read_events(deployment_id="support-bot").set_index("event_id")
    assert {event_id, curl.json()["ids"][0]} <= set(events.index)
    otel = events.loc[event_id]
    assert otel["prompt"] == "reset my password, I am [EMAIL]"  # redacted like the SDK's
    assert otel["response"] == "Done: check your inbox."
    assert (otel["model_version_id"], otel["input_tokens"], otel["token_count"]) == (
        "gpt-4o",
        14,
        20,
    )
    assert otel["trace_id"] == f"{context.trace_id:032x}" and otel["session_id"] == "sess-1"
    assert otel["user_id"] == hash_user_id(
        "user-42", resolve_hash_key(server.settings.data_dir, False)
    )
    assert otel["latency_ms"] > 0
    assert json.loads(otel["metadata"])["service.name"] == "support-app"
    signals = store.read_signals(event_ids=[event_id]).set_index("signal_type")
    assert set(signals.index) == {"thumbs_up", "edit"}
    assert signals.loc["edit", "edited_response"] == "Fixed."
    assert set(signals["deployment_id"]) == {"support-bot"}


def test_otlp_json_with_hex_ids_and_a_retry_is_stored_once(
    server: CollectorServer, key: str
) -> None:
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    attributes = [
        {"key": "gen_ai.request.model", "value": {"stringValue": "llama-3"}},
        {"key": "gen_ai.prompt", "value": {"stringValue": "json prompt"}},
        {"key": "gen_ai.completion", "value": {"stringValue": "json answer"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "9"}},
    ]
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": "chat llama-3",
        "kind": 3,
        "startTimeUnixNano": "1790000000000000000",
        "endTimeUnixNano": "1790000000400000000",
        "attributes": attributes,
    }
    request = {
        "resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]
    }
    for _ in range(2):  # an exporter's retry
        answer = httpx.post(
            f"{server.base_url}/v1/traces",
            json=request,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert answer.json() == {}  # full success: no partial_success
    events = _store(server).read_events(deployment_id="support-bot")
    stored = events[events["event_id"] == f"{trace_id}-{span_id}"]
    assert len(stored) == 1
    assert stored["output_tokens"].item() == 9 and stored["latency_ms"].item() == 400.0


def _post_spans(server: CollectorServer, key: str, spans: list[dict]) -> ExportTraceServiceResponse:
    scope = {"scopeSpans": [{"spans": spans}]}
    answer = httpx.post(
        f"{server.base_url}/v1/traces",
        content=json.dumps({"resourceSpans": [scope]}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_refused_and_skipped_spans_are_reported_as_partial_success(
    server: CollectorServer, key: str
) -> None:
    def span(span_id: str, *pairs: tuple[str, dict]) -> dict:
        attributes = [{"key": k, "value": v} for k, v in pairs]
        return {"traceId": "1" * 32, "spanId": span_id, "name": "chat", "attributes": attributes}

    answer = _post_spans(
        server,
        key,
        [
            span(
                "a" * 16,
                ("gen_ai.prompt", {"stringValue": "ok"}),
                ("gen_ai.completion", {"stringValue": "ok"}),
            ),
            span(
                "b" * 16,
                ("gen_ai.prompt", {"stringValue": "neg"}),
                ("gen_ai.usage.input_tokens", {"intValue": "-5"}),
            ),
            span("c" * 16, ("gen_ai.request.model", {"stringValue": "no content"})),
        ],
    )
    partial = answer["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert (
        f"span {'b' * 16}" in partial["errorMessage"] and "input_tokens" in partial["errorMessage"]
    )
    assert "1 gen_ai span(s) without prompt text skipped" in partial["errorMessage"]


def test_otlp_auth_deployment_and_bad_bodies(server: CollectorServer, key: str) -> None:
    url = f"{server.base_url}/v1/traces"
    proto = {"Content-Type": "application/x-protobuf"}
    assert httpx.post(url, content=b"", headers=proto).status_code == 401
    auth = {"Authorization": f"Bearer {key}"}
    garbage = httpx.post(url, content=b"\xff\xff\xff", headers={**auth, **proto})
    assert garbage.status_code == 400 and garbage.json()["errors"][0]["field"] == "body"
    text = httpx.post(url, content=b"x", headers={**auth, "Content-Type": "text/plain"})
    assert text.status_code == 415 and text.json()["errors"][0]["field"] == "Content-Type"
    empty = httpx.post(
        url, content=ExportTraceServiceResponse().SerializeToString(), headers={**auth, **proto}
    )
    assert empty.status_code == 200
    assert ExportTraceServiceResponse.FromString(empty.content) == ExportTraceServiceResponse()

    resource = {
        "attributes": [{"key": "feedback.deployment_id", "value": {"stringValue": "billing"}}]
    }
    other = httpx.post(
        url, json={"resourceSpans": [{"resource": resource, "scopeSpans": []}]}, headers=auth
    )
    assert other.status_code == 403
    assert other.json()["errors"][0]["field"] == "feedback.deployment_id"


def test_the_sdk_exporter_is_told_when_its_key_is_wrong(server: CollectorServer) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{server.base_url}/v1/traces", timeout=5)
    provider = TracerProvider()
    with provider.get_tracer("t").start_as_current_span("chat") as span:
        span.set_attribute("gen_ai.prompt", "never stored")
    from opentelemetry.sdk.trace.export import SpanExportResult

    assert exporter.export([span]) == SpanExportResult.FAILURE  # 401: not retried
    events = _store(server).read_events()
    assert "never stored" not in set(events["prompt"])
