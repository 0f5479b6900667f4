"""Bearer API keys: which deployment a request may write to (401 without a valid key)."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from feedback_assets.collector.errors import CollectorError, field_error, unavailable
from feedback_assets.domain.api_keys import key_id_of, key_matches
from feedback_assets.store.api_keys import ApiKeyRow, ApiKeyStore

MAX_CACHED = 10_000  # key lookups kept in memory (unknown ids too: a bad client costs no query)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="feedback-collector"'}


def unauthorized(reason: str) -> CollectorError:
    errors = [field_error("Authorization", reason)]
    return CollectorError(401, "a valid API key is required", errors, dict(_CHALLENGE))


def forbidden(deployment_id: str, errors: list[dict[str, object]]) -> CollectorError:
    detail = f"this API key may only write to deployment {deployment_id!r}"
    return CollectorError(403, detail, errors)


class KeyRing:
    """Checks keys against the api_keys table; rows are cached for `cache_seconds`, so a
    revocation takes effect within that time."""

    def __init__(self, keys: ApiKeyStore, cache_seconds: float) -> None:
        self.keys = keys
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKeyRow | None]] = {}
        self._lock = threading.Lock()

    async def deployment_for(self, authorization: str | None) -> str:
        """The deployment of the request's key, or a 401 CollectorError."""
        scheme, _, key = (authorization or "").strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise unauthorized("must be 'Bearer <API key>'")
        key_id = key_id_of(key)
        if key_id is None:
            raise unauthorized("is not a feedback collector API key")
        row = self._cached(key_id)
        if row is False:
            try:
                row = await run_in_threadpool(self._load, key_id)
            except sa.exc.SQLAlchemyError:
                raise unavailable(1) from None
        if row is None or not row.active or not key_matches(key, row.key_sha256):
            raise unauthorized("unknown or revoked API key")  # the key is never echoed
        return row.deployment_id

    def _cached(self, key_id: str) -> ApiKeyRow | None | bool:
        """The cached row (None: known to be absent), or False when not cached or stale."""
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is None or time.monotonic() - hit[0] > self.cache_seconds:
            return False
        return hit[1]

    def _load(self, key_id: str) -> ApiKeyRow | None:
        row = self.keys.get(key_id)
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key_id] = (time.monotonic(), row)
        return row
