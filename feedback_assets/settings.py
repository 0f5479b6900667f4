"""Configuration from the environment, with the embedded defaults (no server needed).

| variable | default | meaning |
| FEEDBACK_DATA_DIR | ./data | embedded store, spool, hash key, models |
| FEEDBACK_STORE_URL | sqlite:///<data dir>/feedback.db | postgresql://user:pw@host:port/db in production |
| FEEDBACK_HASH_KEY | generated once into <data dir>/hash_key | HMAC key for user ids (hex or text) |
| FEEDBACK_MODE | embedded | `production` refuses to run without FEEDBACK_HASH_KEY |
| FEEDBACK_EXPORT_ROOT | ./exports | export root (local path or fsspec URL) |
| FEEDBACK_PII_PATTERNS | (none) | JSON list of {"name", "regex"} custom PII patterns |
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


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

    @property
    def production(self) -> bool:
        return self.mode == "production"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    data_dir = Path(env.get("FEEDBACK_DATA_DIR") or "data").resolve()
    mode = env.get("FEEDBACK_MODE", "embedded")
    if mode not in ("embedded", "production"):
        raise ConfigurationError(f"FEEDBACK_MODE: must be 'embedded' or 'production', got {mode!r}")
    store_url = env.get("FEEDBACK_STORE_URL") or f"sqlite:///{data_dir / 'feedback.db'}"
    delivery = env.get("FEEDBACK_DELIVERY") or "thread"
    if delivery not in ("thread", "process"):
        raise ConfigurationError(
            f"FEEDBACK_DELIVERY: must be 'thread' or 'process', got {delivery!r}"
        )
    return Settings(
        data_dir=data_dir,
        store_url=store_url,
        export_root=env.get("FEEDBACK_EXPORT_ROOT") or str(Path("exports").resolve()),
        mode=mode,
        pii_patterns=env.get("FEEDBACK_PII_PATTERNS"),
        delivery=delivery,
    )


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
        # Create with 0600 atomically; a concurrent creator wins and we read its key.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return key_file.read_text().strip().encode()
