"""The single instance of every resource key, built from feedback_assets.settings.

Secrets are bound with dg.EnvVar only (never read into values, never shown in the UI). The facade
builds the same objects through `build_resources`, so it reads the same settings as the assets.
"""

import shlex
from typing import Any

import dagster as dg

from feedback_assets.resources.alert_webhook import AlertWebhook
from feedback_assets.resources.embedder import EmbedderResource
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.llm_judge import LLMJudgeResource
from feedback_assets.resources.loop_settings import (
    CurationSettings,
    DriftSettings,
    QualitySettings,
    RetentionSettings,
    TriggerSettings,
)
from feedback_assets.resources.model_evaluator import ModelEvaluatorResource
from feedback_assets.resources.retraining_launcher import LAUNCHERS, RetrainingLauncher
from feedback_assets.settings import ConfigurationError, Settings, load_settings, secret_is_set


def _secret(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if secret_is_set(name) else None


def build_launcher(settings: Settings) -> RetrainingLauncher:
    values: dict[str, Any] = dict(settings.launcher)
    kind = values.pop("kind", "command")
    if kind not in LAUNCHERS:
        raise ConfigurationError(
            f"FEEDBACK_LAUNCHER: must be one of {list(LAUNCHERS)}, got {kind!r}"
        )
    cls = LAUNCHERS[kind]
    for argv in ("command", "promote_command"):
        if argv in values:
            values[argv] = shlex.split(values[argv])
    secrets = {"api_key": "FEEDBACK_LAUNCHER_API_KEY", "webhook_token": "FEEDBACK_WEBHOOK_TOKEN"}
    for field, var in secrets.items():
        if field in cls.model_fields and _secret(var) is not None:
            values[field] = _secret(var)
    return cls(**{k: v for k, v in values.items() if k in cls.model_fields})


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    settings = settings or load_settings()
    circuits = str(settings.data_dir / "circuits")  # open circuits, remembered across runs
    return {
        "feedback_store": FeedbackStoreResource(
            url=_secret("FEEDBACK_STORE_URL"), export_root=settings.export_root
        ),
        "trigger_settings": TriggerSettings(**settings.triggers),
        "drift_settings": DriftSettings(**settings.drift),
        "quality_settings": QualitySettings(**settings.quality),
        "curation_settings": CurationSettings(**settings.curation),
        "embedder": EmbedderResource(
            **settings.embedder,
            api_key=_secret("FEEDBACK_EMBEDDER_API_KEY"),
            circuit_state_dir=circuits,
        ),
        "llm_judge": LLMJudgeResource(
            **settings.judge, api_key=_secret("FEEDBACK_JUDGE_API_KEY"), circuit_state_dir=circuits
        ),
        "retraining_launcher": build_launcher(settings),
        "model_evaluator": ModelEvaluatorResource(
            **settings.evaluation,
            api_key=_secret("FEEDBACK_EVAL_API_KEY") or _secret("FEEDBACK_LAUNCHER_API_KEY"),
        ),
        "retention_settings": RetentionSettings(**settings.retention),
        "alert_webhook": AlertWebhook(
            **settings.alerts,
            webhook_url=_secret("FEEDBACK_ALERT_WEBHOOK_URL"),
            slack_token=_secret("FEEDBACK_ALERT_SLACK_TOKEN"),
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
