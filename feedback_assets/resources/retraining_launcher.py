"""RetrainingLauncher: the Dagster resource that starts a retraining from an export batch.

Kinds: "command" (a local process, the default runs the training stand-in), "openai_finetune"
(any OpenAI-compatible API) and "webhook" (POST the manifest). Remote failures never raise:
they come back as a LaunchResult with status "failed", an error and the attempt count.
"""

import time

import dagster as dg
from pydantic import Field

from feedback_assets.resources.launchers.base import (
    LaunchRequest,
    LaunchResult,
    Redactor,
    failed,
    utcnow,
)
from feedback_assets.resources.launchers.command import run_command
from feedback_assets.resources.launchers.openai_finetune import run_openai_finetune
from feedback_assets.resources.launchers.webhook import run_webhook

__all__ = ["LAUNCHER_KINDS", "LaunchRequest", "LaunchResult", "RetrainingLauncher"]

LAUNCHER_KINDS = ("command", "openai_finetune", "webhook")


class RetrainingLauncher(dg.ConfigurableResource):
    """Launches retraining on an export batch through the configured `kind`."""

    kind: str = Field(default="command", description="command | openai_finetune | webhook")
    command: list[str] = Field(
        default=["python", "-m", "feedback_assets.demo.train_standin"],
        description="argv (no shell); a leading 'python' runs in this interpreter",
    )
    workdir: str | None = Field(default=None, description="cwd of the command")
    model_dir: str = Field(default="data/models", description="where local models are written")
    base_url: str | None = Field(default=None, description="OpenAI-compatible API base URL")
    api_key: str | None = Field(
        default=None, description='pass dg.EnvVar("FEEDBACK_LAUNCHER_API_KEY")'
    )
    base_model: str = "gpt-4o-mini-2024-07-18"
    webhook_url: str | None = None
    webhook_token: str | None = None
    poll_interval_s: float = 5.0
    timeout_s: float = 3600.0
    max_retries: int = 3
    backoff_s: float = 1.0

    def launch(self, request: LaunchRequest) -> LaunchResult:
        redact = Redactor([self.api_key, self.webhook_token])
        if self.kind == "command":
            return run_command(
                request,
                self.command,
                model_dir=self.model_dir,
                workdir=self.workdir,
                timeout_s=self.timeout_s,
                redact=redact,
            )
        if self.kind == "openai_finetune":
            return run_openai_finetune(
                request,
                base_url=self.base_url,
                api_key=self.api_key,
                base_model=self.base_model,
                poll_interval_s=self.poll_interval_s,
                timeout_s=self.timeout_s,
                max_retries=self.max_retries,
                backoff_s=self.backoff_s,
                redact=redact,
                sleep=time.sleep,
            )
        if self.kind == "webhook":
            return run_webhook(
                request,
                url=self.webhook_url,
                token=self.webhook_token,
                timeout_s=self.timeout_s,
                max_retries=self.max_retries,
                backoff_s=self.backoff_s,
                redact=redact,
            )
        error = f"kind: unknown launcher {self.kind!r}; expected one of {list(LAUNCHER_KINDS)}"
        return failed(utcnow(), error, attempts=0)
