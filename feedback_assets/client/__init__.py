"""The SDK apps use to log inferences and user signals."""

from feedback_assets.client.feedback_client import FeedbackClient
from feedback_assets.client.telemetry import Telemetry, telemetry

__all__ = ["FeedbackClient", "Telemetry", "telemetry"]
