"""The single instance of every resource key. Offline defaults; secrets only via dg.EnvVar."""

import os
import shlex

import dagster as dg

from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.resources.retraining_launcher import RetrainingLauncher


def _secret(name: str) -> dg.EnvVar | None:
    # EnvVar keeps the value out of run config and the UI; only bound when set.
    return dg.EnvVar(name) if os.environ.get(name) else None


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    launcher_command = _env("FEEDBACK_LAUNCHER_COMMAND")
    return {
        "feedback_store": FeedbackStoreResource(
            url=_secret("FEEDBACK_STORE_URL"), export_root=_env("FEEDBACK_EXPORT_ROOT")
        ),
        "embedder": EmbedderResource(
            kind=_env("FEEDBACK_EMBEDDER", "hashing"),
            base_url=_env("FEEDBACK_EMBEDDER_BASE_URL"),
            api_key=_secret("FEEDBACK_EMBEDDER_API_KEY"),
            model=_env("FEEDBACK_EMBEDDER_MODEL", "text-embedding-3-small"),
        ),
        "llm_judge": LLMJudgeResource(
            enabled=_env("FEEDBACK_JUDGE_ENABLED", "false").lower() in ("1", "true", "yes"),
            base_url=_env("FEEDBACK_JUDGE_BASE_URL"),
            api_key=_secret("FEEDBACK_JUDGE_API_KEY"),
            model=_env("FEEDBACK_JUDGE_MODEL", "gpt-4o-mini"),
            sample_rate=float(_env("FEEDBACK_JUDGE_SAMPLE_RATE", "0.1")),
        ),
        "retraining_launcher": RetrainingLauncher(
            kind=_env("FEEDBACK_LAUNCHER", "command"),
            **({"command": shlex.split(launcher_command)} if launcher_command else {}),
            model_dir=_env(
                "FEEDBACK_MODEL_DIR", os.path.join(_env("FEEDBACK_DATA_DIR", "data"), "models")
            ),
            base_url=_env("FEEDBACK_LAUNCHER_BASE_URL"),
            api_key=_secret("FEEDBACK_LAUNCHER_API_KEY"),
            webhook_url=_env("FEEDBACK_WEBHOOK_URL"),
            webhook_token=_secret("FEEDBACK_WEBHOOK_TOKEN"),
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
