"""The one place that reads the environment. Every other module takes values from here.

Dagster resources (defs/resources.py) are built from these values, so the assets, sensors, the
schedule and the facade all see the same settings, and the UI shows them on the resource page.
Secrets are never held here: `SECRET_VARIABLES` are bound to resources with `dg.EnvVar` instead.

| variable | default | meaning |
| FEEDBACK_DATA_DIR | ./data | embedded store, spool, hash key, plots, models |
| FEEDBACK_STORE_URL | sqlite:///<data dir>/feedback.db | postgresql://user:pw@host:port/db |
| FEEDBACK_HASH_KEY | generated once into <data dir>/hash_key | HMAC key for user ids |
| FEEDBACK_MODE | embedded | `production` refuses to run without FEEDBACK_HASH_KEY |
| FEEDBACK_EXPORT_ROOT | ./exports | export root (local path or fsspec URL) |
| FEEDBACK_PII_PATTERNS | (none) | JSON list of {"name", "regex"} custom PII patterns |
| FEEDBACK_RETENTION_DAYS | (keep) | raw events, signals and dead letters older than this are purged |
| FEEDBACK_ALERT_WEBHOOK_URL | (none) | Slack-compatible webhook the alert sensor posts to (secret) |
| FEEDBACK_PII_STAGES | (none) | optional PII stages to switch on: `person`, `address` (comma list) |
The README's configuration table lists the rest (triggers, drift, quality, curation, embedder,
judge, launcher).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Bound with dg.EnvVar (never read into plain values, never shown in the UI).
SECRET_VARIABLES = (
    "FEEDBACK_STORE_URL",
    "FEEDBACK_EMBEDDER_API_KEY",
    "FEEDBACK_JUDGE_API_KEY",
    "FEEDBACK_LAUNCHER_API_KEY",
    "FEEDBACK_WEBHOOK_TOKEN",
    "FEEDBACK_EVAL_API_KEY",
    "FEEDBACK_ALERT_WEBHOOK_URL",  # a Slack webhook URL is itself the credential
    "FEEDBACK_ALERT_SLACK_TOKEN",
)
DEFAULT_PARTITION_START = "2026-01-01"
# KEY=VALUE lines in <data dir>/feedback.env apply where the variable is not set (make demo writes
# its partition start and declared formats there, so plain `dagster dev` sees the same settings).
ENV_FILE = "feedback.env"


# setting name -> (environment variable, parser)
Spec = Mapping[str, tuple[str, Callable[[str], Any]]]


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    store_url: str
    export_root: str
    mode: str
    pii_patterns: str | None
    delivery: str = "thread"  # FeedbackClient's store delivery: "thread" or "process"
    pii_stages: tuple[str, ...] = ()  # optional PII stages switched on (FEEDBACK_PII_STAGES)
    partition_start: str = DEFAULT_PARTITION_START
    sensor_interval_seconds: int = 30
    # name -> value of the non-secret settings of each resource (see defs/resources.py)
    triggers: Mapping[str, Any] = field(default_factory=dict)
    drift: Mapping[str, Any] = field(default_factory=dict)
    quality: Mapping[str, Any] = field(default_factory=dict)
    curation: Mapping[str, Any] = field(default_factory=dict)
    embedder: Mapping[str, Any] = field(default_factory=dict)
    judge: Mapping[str, Any] = field(default_factory=dict)
    launcher: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    collector: Mapping[str, Any] = field(default_factory=dict)
    retention: Mapping[str, Any] = field(default_factory=dict)
    alerts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.mode == "production"


def _get(env: Mapping[str, str], name: str, cast: Callable[[str], T]) -> T | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return cast(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name}: cannot read {raw!r} ({exc})") from None


def _bool(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _choice(name: str, raw: str | None, allowed: tuple[str, ...]) -> str:
    value = raw or allowed[0]
    if value not in allowed:
        raise ConfigurationError(f"{name}: must be one of {list(allowed)}, got {value!r}")
    return value


def _section(env: Mapping[str, str], spec: Spec) -> dict[str, Any]:
    """Only the variables that are set: the resources keep their own defaults otherwise."""
    values = {key: _get(env, var, cast) for key, (var, cast) in spec.items()}
    return {k: v for k, v in values.items() if v is not None}


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError("must be a whole number >= 1")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be > 0")
    return value


# The optional PII stages (domain.pii.pii_optional.OPTIONAL_STAGES; a test keeps them equal).
PII_STAGES = ("address", "person")


def _pii_stages(raw: str) -> tuple[str, ...]:
    wanted = [part.lower() for part in _list(raw)]
    unknown = [w for w in wanted if w not in PII_STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; expected some of {list(PII_STAGES)}")
    return tuple(s for s in PII_STAGES if s in wanted)


TRIGGER_VARIABLES: Spec = {
    "drift_threshold": ("FEEDBACK_DRIFT_THRESHOLD", float),
    "drift_consecutive_windows": ("FEEDBACK_DRIFT_CONSECUTIVE_WINDOWS", int),
    "quality_threshold": ("FEEDBACK_QUALITY_THRESHOLD", float),
    "data_count_threshold": ("FEEDBACK_DATA_COUNT_THRESHOLD", int),
    "schedule_interval_seconds": ("FEEDBACK_SCHEDULE_INTERVAL_SECONDS", int),
    "cooldown_seconds": ("FEEDBACK_COOLDOWN_SECONDS", int),
    "live_window_minutes": ("FEEDBACK_LIVE_WINDOW_MINUTES", int),
    "mode": ("FEEDBACK_TRIGGER_MODE", str),
}
DRIFT_VARIABLES: Spec = {
    "min_samples": ("FEEDBACK_DRIFT_MIN_SAMPLES", int),
    "alpha": ("FEEDBACK_DRIFT_ALPHA", float),
    "reference_days": ("FEEDBACK_DRIFT_REFERENCE_DAYS", int),
    "categorical_metadata_fields": ("FEEDBACK_DRIFT_CATEGORICAL_FIELDS", _list),
}


def _formats(raw: str) -> dict[str, str]:
    """`deployment=format,...`, e.g. `json-extractor=json`."""
    pairs = [part.split("=", 1) for part in _list(raw)]
    if any(len(p) != 2 or not p[0].strip() for p in pairs):
        raise ValueError("expected deployment=format pairs separated by commas")
    return {k.strip(): v.strip() for k, v in pairs}


QUALITY_VARIABLES: Spec = {
    "min_length": ("FEEDBACK_QUALITY_MIN_LENGTH", int),
    "max_length": ("FEEDBACK_QUALITY_MAX_LENGTH", int),
    "expected_formats": ("FEEDBACK_EXPECTED_FORMATS", _formats),
}
CURATION_VARIABLES: Spec = {
    "limit": ("FEEDBACK_CURATION_LIMIT", int),
    "min_quality_score": ("FEEDBACK_CURATION_MIN_QUALITY", float),
    "max_hard_quality": ("FEEDBACK_CURATION_MAX_HARD_QUALITY", float),
    "min_judge_score": ("FEEDBACK_CURATION_MIN_JUDGE_SCORE", float),
    "eval_share": ("FEEDBACK_CURATION_EVAL_SHARE", float),
}
EMBEDDER_VARIABLES: Spec = {
    "kind": ("FEEDBACK_EMBEDDER", str),
    "base_url": ("FEEDBACK_EMBEDDER_BASE_URL", str),
    "model": ("FEEDBACK_EMBEDDER_MODEL", str),
}
JUDGE_VARIABLES: Spec = {
    "enabled": ("FEEDBACK_JUDGE_ENABLED", _bool),
    "base_url": ("FEEDBACK_JUDGE_BASE_URL", str),
    "model": ("FEEDBACK_JUDGE_MODEL", str),
    "sample_rate": ("FEEDBACK_JUDGE_SAMPLE_RATE", float),
}
LAUNCHER_VARIABLES: Spec = {
    "kind": ("FEEDBACK_LAUNCHER", str),
    "command": ("FEEDBACK_LAUNCHER_COMMAND", str),
    "model_dir": ("FEEDBACK_MODEL_DIR", str),
    "base_url": ("FEEDBACK_LAUNCHER_BASE_URL", str),
    "webhook_url": ("FEEDBACK_WEBHOOK_URL", str),
    "promote_command": ("FEEDBACK_PROMOTE_COMMAND", str),
    "promote_url": ("FEEDBACK_PROMOTE_URL", str),
}


def _one_of(*allowed: str) -> Callable[[str], str]:
    def cast(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {list(allowed)}")
        return raw

    return cast


EVALUATION_VARIABLES: Spec = {
    "base_url": ("FEEDBACK_EVAL_BASE_URL", str),
    "max_prompts": ("FEEDBACK_EVAL_MAX_PROMPTS", int),
    "max_concurrency": ("FEEDBACK_EVAL_CONCURRENCY", int),
    "timeout_s": ("FEEDBACK_EVAL_TIMEOUT_S", float),
    "alpha": ("FEEDBACK_EVAL_ALPHA", float),
    "tie_margin": ("FEEDBACK_EVAL_TIE_MARGIN", float),
    "min_prompts": ("FEEDBACK_EVAL_MIN_PROMPTS", int),
    "on_inconclusive": (
        "FEEDBACK_EVAL_ON_INCONCLUSIVE",
        _one_of("promote_if_not_behind", "promote", "reject"),
    ),
    "regression_alpha": ("FEEDBACK_REGRESSION_ALPHA", float),
    "regression_min_events": ("FEEDBACK_REGRESSION_MIN_EVENTS", int),
}

# The collector (feedback_assets/collector/config.py holds the defaults and checks).
COLLECTOR_VARIABLES: Spec = {
    "host": ("FEEDBACK_COLLECTOR_HOST", str),
    "port": ("FEEDBACK_COLLECTOR_PORT", int),
    "max_body_bytes": ("FEEDBACK_COLLECTOR_MAX_BODY_BYTES", int),
    "max_spool_bytes": ("FEEDBACK_COLLECTOR_MAX_SPOOL_BYTES", int),
    "retry_after_seconds": ("FEEDBACK_COLLECTOR_RETRY_AFTER_SECONDS", int),
    "key_cache_seconds": ("FEEDBACK_COLLECTOR_KEY_CACHE_SECONDS", float),
    "delivery": ("FEEDBACK_COLLECTOR_DELIVERY", str),
}
# Unset: raw rows are kept forever.
RETENTION_VARIABLES: Spec = {"days": ("FEEDBACK_RETENTION_DAYS", _positive_int)}
ALERT_VARIABLES: Spec = {
    "cooldown_seconds": ("FEEDBACK_ALERT_COOLDOWN_SECONDS", _positive_int),
    "timeout_seconds": ("FEEDBACK_ALERT_TIMEOUT_SECONDS", _positive_float),
    "slack_channel": ("FEEDBACK_ALERT_SLACK_CHANNEL", str),
}


def read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {
        k.strip(): v.strip()
        for k, *rest in pairs
        for v in rest
        if k.strip() and not k.startswith("#")
    }


def _partition_start(env: Mapping[str, str]) -> str:
    raw = env.get("FEEDBACK_PARTITION_START") or DEFAULT_PARTITION_START
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ConfigurationError(
            f"FEEDBACK_PARTITION_START: expected a date like 2026-01-01, got {raw!r}"
        ) from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    data_dir = Path(env.get("FEEDBACK_DATA_DIR") or "data").resolve()
    env = {**read_env_file(data_dir / ENV_FILE), **env}
    mode = _choice("FEEDBACK_MODE", env.get("FEEDBACK_MODE"), ("embedded", "production"))
    delivery = _choice("FEEDBACK_DELIVERY", env.get("FEEDBACK_DELIVERY"), ("thread", "process"))
    launcher = _section(env, LAUNCHER_VARIABLES)
    launcher.setdefault("model_dir", str(data_dir / "models"))
    return Settings(
        data_dir=data_dir,
        store_url=env.get("FEEDBACK_STORE_URL") or f"sqlite:///{data_dir / 'feedback.db'}",
        export_root=env.get("FEEDBACK_EXPORT_ROOT") or str(Path("exports").resolve()),
        mode=mode,
        pii_patterns=env.get("FEEDBACK_PII_PATTERNS"),
        delivery=delivery,
        pii_stages=_get(env, "FEEDBACK_PII_STAGES", _pii_stages) or (),
        partition_start=_partition_start(env),
        sensor_interval_seconds=_get(env, "FEEDBACK_SENSOR_INTERVAL_SECONDS", int) or 30,
        triggers=_section(env, TRIGGER_VARIABLES),
        drift=_section(env, DRIFT_VARIABLES),
        quality=_section(env, QUALITY_VARIABLES),
        curation=_section(env, CURATION_VARIABLES),
        embedder=_section(env, EMBEDDER_VARIABLES),
        judge=_section(env, JUDGE_VARIABLES),
        launcher=launcher,
        # One OpenAI base URL serves fine-tunes and completions: the launcher's is the default.
        evaluation={"base_url": launcher.get("base_url"), **_section(env, EVALUATION_VARIABLES)},
        collector=_section(env, COLLECTOR_VARIABLES),
        retention=_section(env, RETENTION_VARIABLES),
        alerts=_section(env, ALERT_VARIABLES),
    )


def secret_is_set(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether a secret variable is set (its value is never returned)."""
    return bool((os.environ if env is None else env).get(name))


def openai_api_key_fallback() -> str | None:
    """OPENAI_API_KEY, the openai client's own default, for endpoints configured without a key."""
    return os.environ.get("OPENAI_API_KEY")


def resolve_hash_key(data_dir: Path, production: bool, env_value: str | None = None) -> bytes:
    """The user-id HMAC key: FEEDBACK_HASH_KEY, else (embedded only) a key persisted in data_dir."""
    value = env_value if env_value is not None else os.environ.get("FEEDBACK_HASH_KEY")
    if value:
        if len(value) < 16:
            raise ConfigurationError("FEEDBACK_HASH_KEY: must be at least 16 characters")
        return value.encode()
    if production:
        raise ConfigurationError(
            "FEEDBACK_HASH_KEY: required in production mode (user ids are hashed with a keyed HMAC)"
        )
    key_file = data_dir / "hash_key"
    if not key_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _create_key_file(key_file)
    return _read_key_file(key_file)


_KEY_WAIT_S = 10.0  # how long a reader waits for a key file another process is writing


def _create_key_file(key_file: Path) -> None:
    """Publish a new key whole, or keep the one a concurrent first start published.

    The key is written and fsynced under a temp name (0600), then hard-linked to its final name:
    link never replaces an existing file, and the final name only ever holds a complete key.
    """
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # a concurrent start won: use its key
            os.link(tmp, key_file)
    finally:
        tmp.unlink(missing_ok=True)


def _read_key_file(key_file: Path) -> bytes:
    """The key, waiting briefly for one still being written (a store made by older code
    created the file first and wrote it after)."""
    deadline = time.monotonic() + _KEY_WAIT_S
    while True:
        key = key_file.read_text().strip()
        if len(key) >= 16:
            return key.encode()
        if time.monotonic() > deadline:
            raise ConfigurationError(
                f"FEEDBACK_HASH_KEY: the key file {key_file} is empty or truncated; "
                "delete it to make a new key, or set FEEDBACK_HASH_KEY"
            )
        time.sleep(0.01)
