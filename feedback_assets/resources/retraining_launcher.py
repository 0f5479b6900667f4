"""Retraining launchers: one Dagster resource class per kind, bound to the `retraining_launcher` key.

`CommandLauncher` runs a local process (by default the training stand-in), `OpenAIFineTuneLauncher`
drives any OpenAI-compatible fine-tuning API, and `WebhookLauncher` POSTs the manifest. Remote
failures never raise: they come back as a LaunchResult with status "failed", an error and the
attempt count. A new kind is one class here plus its entry in LAUNCHERS.
"""

import time
from typing import ClassVar

import dagster as dg
from pydantic import Field

from feedback_assets.resources.circuit import DEFAULT_THRESHOLD
from feedback_assets.resources.launchers.base import LaunchRequest, LaunchResult, Redactor, Retrier
from feedback_assets.resources.launchers.command import run_command
from feedback_assets.resources.launchers.openai_finetune import run_openai_finetune
from feedback_assets.resources.launchers.promote import (
    RECORD_ONLY,
    PromoteRequest,
    PromoteResult,
    promote_by_command,
    promote_by_webhook,
)
from feedback_assets.resources.launchers.webhook import run_webhook

__all__ = [
    "LAUNCHERS",
    "CommandLauncher",
    "LaunchRequest",
    "LaunchResult",
    "OpenAIFineTuneLauncher",
    "PromoteRequest",
    "PromoteResult",
    "RetrainingLauncher",
    "WebhookLauncher",
]


class RetrainingLauncher(dg.ConfigurableResource):
    """What every launcher shares: a time budget and retries with exponential backoff."""

    kind: ClassVar[str] = ""
    timeout_s: float = Field(default=3600.0, description="give up (and cancel) after this long")
    max_retries: int = Field(default=3, description="retries of transient errors (429, 5xx)")
    backoff_s: float = Field(default=1.0, description="first retry delay; doubles each retry")
    circuit_failures: int = Field(
        default=DEFAULT_THRESHOLD,
        description="transient errors in a row after which the launch stops trying",
    )

    def launch(self, request: LaunchRequest) -> LaunchResult:
        raise NotImplementedError(f"{type(self).__name__} must implement launch()")

    def promote(self, request: PromoteRequest) -> PromoteResult:
        """Point the deployment at request.model_version_id (promotion or rollback)."""
        return RECORD_ONLY


class CommandLauncher(RetrainingLauncher):
    """Runs a training command on the export batch (argv, no shell)."""

    kind: ClassVar[str] = "command"
    command: list[str] = Field(
        default=["python", "-m", "feedback_assets.demo.train_standin"],
        description="argv (no shell); a leading 'python' runs in this interpreter",
    )
    workdir: str | None = Field(default=None, description="cwd of the command")
    model_dir: str = Field(default="data/models", description="where local models are written")
    api_key: str | None = Field(
        default=None, description="a secret the command may print; removed from its output"
    )
    promote_command: list[str] | None = Field(
        default=None,
        description="argv run on promotion and rollback (FEEDBACK_ACTION, "
        "FEEDBACK_PROMOTE_MODEL_VERSION); unset: the model history is the only record",
    )

    def launch(self, request: LaunchRequest) -> LaunchResult:
        return run_command(
            request,
            self.command,
            model_dir=self.model_dir,
            workdir=self.workdir,
            timeout_s=self.timeout_s,
            redact=Redactor([self.api_key]),
        )

    def promote(self, request: PromoteRequest) -> PromoteResult:
        if not self.promote_command:
            return RECORD_ONLY
        return promote_by_command(
            request, self.promote_command, self.timeout_s, Redactor([self.api_key])
        )


class OpenAIFineTuneLauncher(RetrainingLauncher):
    """Uploads the OpenAI chat file, creates a fine-tuning job and polls it to the end."""

    kind: ClassVar[str] = "openai_finetune"
    base_url: str | None = Field(default=None, description="OpenAI-compatible API base URL")
    api_key: str | None = Field(default=None, description="FEEDBACK_LAUNCHER_API_KEY (EnvVar)")
    base_model: str = "gpt-4o-mini-2024-07-18"
    poll_interval_s: float = 5.0

    def launch(self, request: LaunchRequest) -> LaunchResult:
        return run_openai_finetune(
            request,
            base_url=self.base_url,
            api_key=self.api_key,
            base_model=self.base_model,
            poll_interval_s=self.poll_interval_s,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            backoff_s=self.backoff_s,
            circuit_failures=self.circuit_failures,
            redact=Redactor([self.api_key]),
            sleep=time.sleep,
        )


class WebhookLauncher(RetrainingLauncher):
    """POSTs the manifest to a training service, with a bearer token."""

    kind: ClassVar[str] = "webhook"
    webhook_url: str | None = Field(default=None, description="FEEDBACK_WEBHOOK_URL")
    webhook_token: str | None = Field(default=None, description="FEEDBACK_WEBHOOK_TOKEN (EnvVar)")
    promote_url: str | None = Field(
        default=None, description="where promote/rollback actions are POSTed (default webhook_url)"
    )
    poll_interval_s: float = Field(
        default=5.0, description="between GETs of a reply's status_url, until a terminal status"
    )

    def launch(self, request: LaunchRequest) -> LaunchResult:
        return run_webhook(
            request,
            url=self.webhook_url,
            token=self.webhook_token,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            backoff_s=self.backoff_s,
            circuit_failures=self.circuit_failures,
            redact=Redactor([self.webhook_token]),
            poll_interval_s=self.poll_interval_s,
        )

    def promote(self, request: PromoteRequest) -> PromoteResult:
        url = self.promote_url or self.webhook_url
        if not url:
            return PromoteResult(False, "webhook_url: not configured")
        retrier = Retrier(self.max_retries, self.backoff_s, time.sleep, self.circuit_failures)
        return promote_by_webhook(
            request, url, self.webhook_token, retrier, Redactor([self.webhook_token])
        )


LAUNCHERS: dict[str, type[RetrainingLauncher]] = {
    cls.kind: cls for cls in (CommandLauncher, OpenAIFineTuneLauncher, WebhookLauncher)
}
