"""Where alerts go: a Slack-compatible webhook, or Slack's API through dagster-slack if installed.

The webhook URL is a credential (a Slack incoming-webhook URL grants posting), so it is bound with
dg.EnvVar and never shown or logged. A failed post raises AlertDeliveryError with a short reason
that never quotes the URL; the alert sensor keeps the alert for its next tick.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import httpx
from pydantic import Field


class AlertDeliveryError(RuntimeError):
    """The alert could not be delivered; the message is safe to show (no URL, no token)."""


class AlertWebhook(dg.ConfigurableResource):
    """FEEDBACK_ALERT_WEBHOOK_URL (Slack-compatible JSON), or FEEDBACK_ALERT_SLACK_TOKEN +
    FEEDBACK_ALERT_SLACK_CHANNEL through dagster-slack when that package is installed."""

    webhook_url: str | None = Field(default=None, description="FEEDBACK_ALERT_WEBHOOK_URL")
    slack_token: str | None = Field(default=None, description="FEEDBACK_ALERT_SLACK_TOKEN")
    slack_channel: str | None = Field(default=None, description="FEEDBACK_ALERT_SLACK_CHANNEL")
    cooldown_seconds: int = Field(
        default=3600, ge=1, description="one alert per deployment and reason within this time"
    )
    timeout_seconds: float = Field(default=5.0, gt=0, description="per post")

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or (self.slack_token and self.slack_channel))

    def send(self, message: dict[str, Any]) -> None:
        """Post one message ({"text", "blocks"}); raises AlertDeliveryError on any failure."""
        if self.slack_token and self.slack_channel:
            self._send_slack(message)
            return
        if not self.webhook_url:
            raise AlertDeliveryError("FEEDBACK_ALERT_WEBHOOK_URL: not configured")
        try:
            reply = httpx.post(self.webhook_url, json=message, timeout=self.timeout_seconds)
        except httpx.HTTPError as exc:  # the URL is never part of the reason
            raise AlertDeliveryError(f"webhook unreachable: {type(exc).__name__}") from None
        if reply.status_code >= 300:
            raise AlertDeliveryError(f"webhook answered HTTP {reply.status_code}")

    def _send_slack(self, message: dict[str, Any]) -> None:
        try:
            from dagster_slack import SlackResource  # optional: never a hard dependency
        except ImportError:
            raise AlertDeliveryError(
                "FEEDBACK_ALERT_SLACK_TOKEN: set, but dagster-slack is not installed "
                "(pip install dagster-slack, or use FEEDBACK_ALERT_WEBHOOK_URL)"
            ) from None
        try:
            SlackResource(token=str(self.slack_token)).get_client().chat_postMessage(
                channel=str(self.slack_channel), text=message["text"], blocks=message["blocks"]
            )
        except Exception as exc:  # slack_sdk errors carry the reply, never the token
            raise AlertDeliveryError(f"slack: {type(exc).__name__}") from None
