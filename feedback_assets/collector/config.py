"""The collector's settings: defaults here, values from settings.COLLECTOR_VARIABLES."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from feedback_assets.settings import COLLECTOR_VARIABLES, ConfigurationError, Settings

DEFAULT_PORT = 4318  # OTLP/HTTP's port: an OpenTelemetry SDK's default endpoint reaches us


@dataclass(frozen=True)
class CollectorConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_body_bytes: int = 16 << 20  # per request, on the wire and after gunzip (413 above)
    max_spool_bytes: int = 1 << 30  # spooled but not yet stored; 429 above
    retry_after_seconds: int = 1  # Retry-After of a 429
    key_cache_seconds: float = 5.0  # how long a key lookup (or a revocation) may be stale
    delivery: str = "process"  # the FeedbackClient's store delivery: "process" or "thread"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> CollectorConfig:
        return replace(cls(), **{**settings.collector, **overrides}).checked()

    def checked(self) -> CollectorConfig:
        """Self, or ConfigurationError naming the variable of the first bad value."""
        problems = {
            "port": not 0 <= self.port <= 65535 and "must be from 0 to 65535",
            "max_body_bytes": self.max_body_bytes < 1024 and "must be at least 1024",
            "max_spool_bytes": self.max_spool_bytes < 1 and "must be positive",
            "retry_after_seconds": self.retry_after_seconds < 1 and "must be at least 1",
            "key_cache_seconds": self.key_cache_seconds < 0 and "must be >= 0",
            "delivery": self.delivery not in ("process", "thread")
            and "must be 'process' or 'thread'",
        }
        for field in fields(self):
            reason = problems.get(field.name)
            if reason:
                variable = COLLECTOR_VARIABLES[field.name][0]
                value = getattr(self, field.name)
                raise ConfigurationError(f"{variable}: {reason}, got {value!r}")
        return self
