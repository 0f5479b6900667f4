"""Request and answer shapes, for the OpenAPI page only: bodies are parsed with orjson and
validated by the FeedbackClient (one validator for the SDK and the collector, field-named)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from feedback_assets.domain.records import SIGNAL_TYPES

SignalType = Literal[SIGNAL_TYPES]  # type: ignore[valid-type]


class EventIn(BaseModel):
    """An inference event, as FeedbackClient.log_inference takes it."""

    deployment_id: str | None = Field(None, description="default: the API key's deployment")
    prompt: str
    response: str
    event_id: str | None = Field(None, description="default: a new UUIDv7; send one to retry")
    model_version_id: str | None = None
    user_id: str | None = Field(None, description="hashed (HMAC) before it is stored")
    latency_ms: float | None = None
    token_count: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    trace_id: str | None = None
    session_id: str | None = None
    metadata: dict[str, Any] | None = None
    timestamp: str | float | None = Field(None, description="ISO-8601 or epoch seconds")


class SignalIn(BaseModel):
    event_id: str
    signal_type: SignalType
    signal_id: str | None = None
    user_id: str | None = None
    edited_response: str | None = Field(None, description="required on 'edit' signals only")
    metadata: dict[str, Any] | None = None
    timestamp: str | float | None = None


class EditIn(BaseModel):
    event_id: str
    edited_response: str
    signal_type: Literal["edit"] = "edit"
    signal_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] | None = None
    timestamp: str | float | None = None


class FieldProblem(BaseModel):
    index: int | None = Field(None, description="the row of a batch; null for the request")
    field: str
    reason: str


class AcceptedOut(BaseModel):
    accepted: int
    ids: list[str | None] = Field(description="per row: its id, or null when invalid")
    errors: list[FieldProblem]


class ErrorOut(BaseModel):
    detail: str
    errors: list[FieldProblem]


def one_or_many(model: type[BaseModel]) -> dict[str, Any]:
    """openapi_extra for a JSON body that is one object or an array of them."""
    item = model.model_json_schema()
    schema = {"anyOf": [item, {"type": "array", "items": item}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "unreadable body",
        401: "no valid API key",
        403: "a row of another deployment",
        413: "body too large (also after gunzip)",
        415: "unsupported Content-Type or Content-Encoding",
        422: "every row invalid (each dead-lettered)",
        429: "spool full; see Retry-After",
        503: "the store cannot be read (keys, event deployments); see Retry-After",
    }.items()
}
