"""The collector's HTTP app: OTLP/HTTP traces and a small JSON API, per-deployment API keys.

POST /v1/traces   OTLP/HTTP (protobuf or JSON): GenAI spans -> events, feedback -> signals
POST /v1/events   one event or an array (202 once spooled)
POST /v1/signals  one signal or an array
POST /v1/edits    one edit or an array (signal_type "edit")
DELETE /v1/users/{user_id}  erase a user everywhere (an erasure key: `keys create --erasure`)
GET  /healthz     liveness; /docs the OpenAPI page
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from feedback_assets.collector.body import read_body
from feedback_assets.collector.config import CollectorConfig
from feedback_assets.collector.errors import CollectorError, json_response
from feedback_assets.collector.otlp import JSON, PROTOBUF, encode_response, media_type
from feedback_assets.collector.schemas import (
    ERRORS,
    AcceptedOut,
    EditIn,
    EventIn,
    SignalIn,
    one_or_many,
)
from feedback_assets.collector.service import Collector, parse_rows
from feedback_assets.domain.api_keys import ERASURE_SCOPE
from feedback_assets.settings import Settings, load_settings

_TRACES_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            JSON: {"schema": {"type": "object", "description": "OTLP/JSON"}},
        },
    }
}
router = APIRouter()


async def _read(request: Request) -> tuple[Collector, str, bytes]:
    """The request's collector, its key's deployment (else 401) and its body (else 413...)."""
    collector: Collector = request.app.state.collector
    deployment = await collector.keyring.deployment_for(request.headers.get("authorization"))
    if deployment == ERASURE_SCOPE:
        raise CollectorError(403, "an erasure key may only erase users (DELETE /v1/users/{id})")
    return collector, deployment, await read_body(request, collector.config.max_body_bytes)


async def _rows(request: Request, route: str, **options: Any) -> Response:
    collector, deployment, body = await _read(request)
    rows, _ = parse_rows(body)
    # The client's work (validation, redaction, spool write) runs off the event loop.
    status, answer = await run_in_threadpool(getattr(collector, route), deployment, rows, **options)
    return json_response(answer, status)


@router.post(
    "/v1/events", status_code=202, response_model=AcceptedOut, openapi_extra=one_or_many(EventIn)
)
async def post_events(request: Request) -> Response:
    """Inference events. A row without `deployment_id` gets the key's deployment."""
    return await _rows(request, "events")


@router.post(
    "/v1/signals", status_code=202, response_model=AcceptedOut, openapi_extra=one_or_many(SignalIn)
)
async def post_signals(request: Request) -> Response:
    """User signals about events (thumbs_up, thumbs_down, regenerate, edit, copy, share, report)."""
    return await _rows(request, "signals")


@router.post(
    "/v1/edits", status_code=202, response_model=AcceptedOut, openapi_extra=one_or_many(EditIn)
)
async def post_edits(request: Request) -> Response:
    """User edits of a response: signals of type `edit` with `edited_response`."""
    return await _rows(request, "signals", edits=True)


@router.post("/v1/traces", openapi_extra=_TRACES_BODY)
async def post_traces(request: Request) -> Response:
    """OTLP/HTTP traces. GenAI inference spans become events, user feedback becomes signals;
    refused spans are counted in the answer's `partial_success`."""
    collector, deployment, body = await _read(request)
    kind = media_type(request.headers.get("content-type"))
    rejected, message = await run_in_threadpool(collector.traces, deployment, body, kind)
    return Response(encode_response(kind, rejected, message), 200, media_type=kind)


@router.delete("/v1/users/{user_id}")
async def delete_user(user_id: str, request: Request) -> Response:
    """Erase everything stored about a user (the id the app logged): every table, export batch
    and drift explanation (`api.forget_user`). Needs an erasure key; answers the erasure report
    (counts only, never the id)."""
    collector: Collector = request.app.state.collector
    scope = await collector.keyring.deployment_for(request.headers.get("authorization"))
    if scope != ERASURE_SCOPE:
        raise CollectorError(403, "erasing users needs an erasure key (`keys create --erasure`)")
    report = await run_in_threadpool(collector.forget_user, user_id)
    return json_response(report, 200)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _answer(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CollectorError)
    return exc.response()


def create_app(config: CollectorConfig | None = None, settings: Settings | None = None) -> FastAPI:
    """The app; its Collector (store, keys, FeedbackClient) is built once at startup and closed,
    its spool flushed, at shutdown."""
    settings = settings or load_settings()
    config = config or CollectorConfig.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.collector = await run_in_threadpool(Collector, config, settings)
        try:
            yield
        finally:
            await run_in_threadpool(app.state.collector.close)

    app = FastAPI(
        title="feedback-loop collector", description=__doc__, lifespan=lifespan, responses=ERRORS
    )
    app.add_exception_handler(CollectorError, _answer)
    app.include_router(router)
    return app
