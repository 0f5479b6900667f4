"""GenAI spans to events and signals: every message form of the semantic conventions."""

from __future__ import annotations

import json

from feedback_assets.domain.ingest.genai_feedback import span_signals
from feedback_assets.domain.ingest.genai_spans import Span, SpanEvent, span_events

TRACE, SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
T0 = 1_790_000_000_000_000_000


def _span(attributes: dict, events: tuple = (), **fields: object) -> Span:
    defaults = {"trace_id": TRACE, "span_id": SPAN, "name": "chat m", "start_ns": T0}
    values = {**defaults, "end_ns": T0 + 250_000_000, "attributes": attributes, **fields}
    return Span(events=events, **values)  # type: ignore[arg-type]


def _one(span: Span) -> dict:
    found = span_events([span], "dep")
    assert len(found.events) == 1, found
    return found.events[0]


def test_current_messages_with_parts_history_and_usage() -> None:
    inputs = [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "first question"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "first answer"}]},
        {"role": "user", "parts": [{"type": "text", "content": "what is 2+2?"}]},
    ]
    outputs = [{"role": "assistant", "parts": [{"type": "text", "content": "4"}]}]
    event = _one(
        _span(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.input.messages": json.dumps(inputs),
                "gen_ai.output.messages": outputs,  # structured values are read too
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 1,
                "gen_ai.conversation.id": "conv-1",
                "user.id": "u-7",
            },
            resource={"service.name": "shop"},
        )
    )
    assert event["event_id"] == f"{TRACE}-{SPAN}"
    assert (event["prompt"], event["response"]) == ("what is 2+2?", "4")
    assert event["model_version_id"] == "gpt-4o-2024-08-06"
    assert (event["input_tokens"], event["output_tokens"], event["token_count"]) == (12, 1, 13)
    assert event["latency_ms"] == 250.0 and event["session_id"] == "conv-1"
    assert event["user_id"] == "u-7" and event["trace_id"] == TRACE
    assert event["metadata"]["history_messages"] == 3
    assert event["metadata"]["service.name"] == "shop"


def test_a_tool_call_answer_is_kept_as_json() -> None:
    outputs = [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "name": "weather", "arguments": {"city": "Paris"}}],
        }
    ]
    inputs = [{"role": "user", "parts": [{"type": "text", "content": "weather?"}]}]
    event = _one(_span({"gen_ai.input.messages": inputs, "gen_ai.output.messages": outputs}))
    assert json.loads(event["response"]) == {"tool_call": "weather", "arguments": {"city": "Paris"}}


def test_deprecated_prompt_and_completion_attributes() -> None:
    prompt = json.dumps([{"role": "user", "content": "old style"}])
    event = _one(
        _span(
            {
                "gen_ai.system": "openai",
                "gen_ai.prompt": prompt,
                "gen_ai.completion": "plain text answer",
                "gen_ai.usage.prompt_tokens": 3,
            }
        )
    )
    assert (event["prompt"], event["response"], event["input_tokens"]) == (
        "old style",
        "plain text answer",
        3,
    )
    flat = _one(
        _span(
            {
                "gen_ai.request.model": "m",
                "gen_ai.prompt.0.role": "system",
                "gen_ai.prompt.0.content": "sys",
                "gen_ai.prompt.1.role": "user",
                "gen_ai.prompt.1.content": "flattened",
                "gen_ai.completion.0.content": "flat answer",
            }
        )
    )
    assert (flat["prompt"], flat["response"]) == ("flattened", "flat answer")


def test_deprecated_span_events() -> None:
    events = (
        SpanEvent("gen_ai.system.message", T0, {"content": "sys"}),
        SpanEvent("gen_ai.user.message", T0, {"content": "from an event"}),
        SpanEvent(
            "gen_ai.choice",
            T0,
            {"index": 0, "message": json.dumps({"role": "assistant", "content": "chosen"})},
        ),
    )
    event = _one(_span({"gen_ai.request.model": "m"}, events))
    assert (event["prompt"], event["response"]) == ("from an event", "chosen")
    older = (
        SpanEvent("gen_ai.content.prompt", T0, {"gen_ai.prompt": "oldest prompt"}),
        SpanEvent(
            "gen_ai.content.completion",
            T0,
            {
                "gen_ai.completion": json.dumps(
                    [{"role": "assistant", "content": [{"type": "text", "text": "oldest answer"}]}]
                )
            },
        ),
    )
    event = _one(_span({"gen_ai.system": "openai"}, older))
    assert (event["prompt"], event["response"]) == ("oldest prompt", "oldest answer")


def test_spans_that_are_not_inferences_or_have_no_text() -> None:
    spans = [
        _span({"http.method": "GET"}),  # not GenAI: ignored
        _span({"gen_ai.operation.name": "embeddings", "gen_ai.prompt": "x"}),  # not an answer
        _span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}),  # no content
    ]
    found = span_events(spans, "dep")
    assert found.events == [] and found.skipped == 1


def test_feedback_events_attributes_links_and_evaluations() -> None:
    chat = _span(
        {"gen_ai.request.model": "m", "gen_ai.prompt": "q", "user.id": "u1"},
        (
            SpanEvent(
                "gen_ai.user.feedback",
                T0 + 5,
                {"feedback.signal": "thumbs_up", "feedback.comment": "great"},
            ),
            SpanEvent(
                "gen_ai.evaluation.result",
                T0 + 6,
                {
                    "gen_ai.evaluation.name": "relevance",
                    "gen_ai.evaluation.score.label": "relevant",
                },
            ),
            SpanEvent(
                "gen_ai.evaluation.result",
                T0 + 7,
                {"gen_ai.evaluation.name": "user", "gen_ai.evaluation.score.label": "thumbs_down"},
            ),
        ),
    )
    up, down = span_signals(chat)
    assert up["event_id"] == down["event_id"] == f"{TRACE}-{SPAN}"
    assert (up["signal_type"], up["user_id"], up["metadata"]["feedback.comment"]) == (
        "thumbs_up",
        "u1",
        "great",
    )
    assert (
        down["signal_type"] == "thumbs_down"
        and down["metadata"]["gen_ai.evaluation.name"] == "user"
    )
    assert span_signals(chat)[0]["signal_id"] == up["signal_id"]  # stable across retries

    later = _span(
        {"feedback.signal": "edit", "feedback.edited_response": "fixed"},
        span_id="c" * 16,
        trace_id="d" * 32,
        links=[(TRACE, SPAN)],
    )
    (edit,) = span_signals(later)
    assert edit["event_id"] == f"{TRACE}-{SPAN}" and edit["edited_response"] == "fixed"
    child = _span({"feedback.signal": "copy"}, span_id="e" * 16, parent_span_id=SPAN)
    assert span_signals(child)[0]["event_id"] == f"{TRACE}-{SPAN}"
    named = _span({"feedback.signal": "share", "feedback.event_id": "evt-1"}, span_id="f" * 16)
    assert span_signals(named)[0]["event_id"] == "evt-1"


def test_hostile_attribute_values_never_raise() -> None:
    """Whatever the values, a span maps to payloads (the client's validation names the field)."""
    weird: list[object] = [None, 1, -1.5, True, [], {}, [1, "x"], {"role": 3}, "[{", "{}", "\x00"]
    names = [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.prompt.0.content",
        "gen_ai.usage.input_tokens",
        "user.id",
        "session.id",
        "feedback.signal",
        "feedback.event_id",
        "feedback.span_id",
        "feedback.deployment_id",
    ]
    nested = json.dumps({"message": json.dumps({"message": json.dumps({"message": "{}"})})})
    for value in [*weird, nested]:
        attributes = {name: value for name in names} | {"gen_ai.request.model": "m"}
        events = (
            SpanEvent("gen_ai.choice", T0, {"message": value, "content": value}),
            SpanEvent("gen_ai.user.feedback", T0, {"feedback.signal": value}),
        )
        span = _span(attributes, events)
        span_events([span], "dep")
        span_signals(span)
