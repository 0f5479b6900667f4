"""The prompt and response text of a GenAI span, from every form the semantic conventions
have used (OpenTelemetry GenAI semconv; the newest first):

- span attributes `gen_ai.input.messages` / `gen_ai.output.messages`: messages with `parts`
  (`{"type": "text", "content": ...}`), as JSON text or structured values; the same attributes
  on a `gen_ai.client.inference.operation.details` span event;
- span attributes `gen_ai.prompt` / `gen_ai.completion` (deprecated): JSON messages with
  `content`, or plain text; their flattened form `gen_ai.prompt.0.content`, ...;
- span events (deprecated): `gen_ai.system.message`, `gen_ai.user.message`,
  `gen_ai.assistant.message`, `gen_ai.tool.message` (attribute `content`) and `gen_ai.choice`
  (attribute `message` or `content`); `gen_ai.content.prompt` / `gen_ai.content.completion`
  (attributes `gen_ai.prompt` / `gen_ai.completion`).

The prompt is the last user message (the one answered); the response is the first choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

Message = dict[str, Any]
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
INPUT_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_FLAT = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(role|content)$")


def _loads(value: Any) -> Any:
    """A JSON text's value; other text stays text, structured values stay as they are."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def as_messages(value: Any, role: str) -> list[Message]:
    """Messages from an attribute value: a list of messages, one message, or plain text."""
    value = _loads(value)
    if isinstance(value, Mapping):
        value = [value]
    if isinstance(value, str):
        return [{"role": role, "content": value}] if value else []
    if isinstance(value, Sequence):
        return [dict(m) for m in value if isinstance(m, Mapping)]
    return []


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text: its text parts (or content), a tool call as one JSON line."""
    pieces: list[str] = []
    for part in _parts(message):
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, Mapping):
            kind = part.get("type", "text")
            text = part.get("content", part.get("text"))
            if kind == "text" and isinstance(text, str):
                pieces.append(text)
            elif kind == "tool_call":
                call = {"tool_call": part.get("name"), "arguments": part.get("arguments")}
                pieces.append(orjson.dumps(call).decode())
    return "\n".join(pieces)


def _parts(message: Mapping[str, Any], depth: int = 0) -> list[Any]:
    parts = message.get("parts")
    if isinstance(parts, Sequence) and not isinstance(parts, str):
        return list(parts)
    content = _loads(message.get("content", message.get("message.content")))
    if isinstance(content, Mapping):
        content = content.get("content", content.get("text"))
    if isinstance(content, Sequence) and not isinstance(content, str):
        return list(content)
    nested = message.get("message")  # gen_ai.choice: {"message": {"role", "content"}}
    if content is None and depth < 2 and isinstance(_loads(nested), Mapping):
        return _parts(_loads(nested), depth + 1)
    return [content] if isinstance(content, str) else []


def _flattened(attributes: Mapping[str, Any], kind: str) -> list[Message]:
    """`gen_ai.prompt.0.role`, `gen_ai.prompt.0.content`, ... as messages in index order."""
    found: dict[int, Message] = {}
    for key, value in attributes.items():
        match = _FLAT.match(key)
        if match and match.group(1) == kind:
            found.setdefault(int(match.group(2)), {})[match.group(3)] = value
    return [found[i] for i in sorted(found)]


def input_messages(attributes: Mapping[str, Any], events: Sequence[Any]) -> list[Message]:
    """The span's input messages, from the first form that has any."""
    for value in (
        attributes.get("gen_ai.input.messages"),
        *(e.attributes.get("gen_ai.input.messages") for e in events if e.name == DETAILS_EVENT),
        attributes.get("gen_ai.prompt"),
    ):
        if value is not None and (found := as_messages(value, "user")):
            return found
    if found := _flattened(attributes, "prompt"):
        return found
    from_events: list[Message] = []
    for event in events:
        if event.name in INPUT_EVENTS:
            default = INPUT_EVENTS[event.name]
            role = event.attributes.get("role", default)
            from_events.append({"role": role, "content": event.attributes.get("content")})
        elif event.name == "gen_ai.content.prompt":
            from_events += as_messages(event.attributes.get("gen_ai.prompt"), "user")
    return from_events


def output_messages(attributes: Mapping[str, Any], events: Sequence[Any]) -> list[Message]:
    """The span's output messages (choices), from the first form that has any."""
    for value in (
        attributes.get("gen_ai.output.messages"),
        *(e.attributes.get("gen_ai.output.messages") for e in events if e.name == DETAILS_EVENT),
        attributes.get("gen_ai.completion"),
    ):
        if value is not None and (found := as_messages(value, "assistant")):
            return found
    if found := _flattened(attributes, "completion"):
        return found
    from_events: list[Message] = []
    for event in events:
        if event.name == "gen_ai.choice":
            from_events.append(dict(event.attributes))
        elif event.name == "gen_ai.content.completion":
            from_events += as_messages(event.attributes.get("gen_ai.completion"), "assistant")
    return from_events


def prompt_and_response(
    attributes: Mapping[str, Any], events: Sequence[Any]
) -> tuple[str | None, str | None, int]:
    """(prompt, response, earlier input messages); None where the span holds no such text."""
    inputs = input_messages(attributes, events)
    users = [m for m in inputs if m.get("role", "user") == "user"]
    asked = users[-1] if users else (inputs[-1] if inputs else None)
    outputs = output_messages(attributes, events)
    prompt = message_text(asked) if asked is not None else None
    response = message_text(outputs[0]) if outputs else None
    return prompt or None, response, max(len(inputs) - 1, 0)
