"""The collector's error answers: one JSON shape, every problem named by field (and row)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.responses import Response

from feedback_assets.domain.ingest.validate import ValidationError


class CollectorError(Exception):
    """An answer other than 2xx: `errors` name the field (and the row of a batch) and why."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def response(self) -> Response:
        body = {"detail": self.detail, "errors": self.errors}
        return json_response(body, self.status, self.headers)


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    # orjson directly: FastAPI's ORJSONResponse is deprecated, and its default encoder is slower.
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def unavailable(retry_after: int) -> CollectorError:
    """The store cannot be read (keys, event deployments): the client should retry."""
    detail = "the feedback store is unavailable; retry later"
    return CollectorError(503, detail, headers={"Retry-After": str(retry_after)})


def field_error(field: str, reason: str, index: int | None = None) -> dict[str, Any]:
    return {"index": index, "field": field, "reason": reason}


def row_errors(errors: Iterable[tuple[int, ValidationError]]) -> list[dict[str, Any]]:
    """A batch's validation errors, one entry per bad field of each bad row."""
    return [field_error(e.field, e.reason, index) for index, exc in errors for e in exc.errors]
