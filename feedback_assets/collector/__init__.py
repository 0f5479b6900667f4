"""The collector: an HTTP server that feeds the feedback store from any app, over OTLP/HTTP
(OpenTelemetry GenAI traces) or a small JSON API, with per-deployment API keys.

    python -m feedback_assets.collector [--host H] [--port P]    (make collector)
    python -m feedback_assets.collector keys create DEPLOYMENT
"""

from feedback_assets.collector.app import create_app
from feedback_assets.collector.config import CollectorConfig

__all__ = ["CollectorConfig", "create_app"]
