"""The SDK apps use to log inferences and user signals."""

from feedback_assets.client.feedback_client import Accepted, FeedbackClient
from feedback_assets.client.spool import SpoolFull
from feedback_assets.client.telemetry import Telemetry, telemetry

__all__ = ["Accepted", "FeedbackClient", "SpoolFull", "Telemetry", "telemetry"]
