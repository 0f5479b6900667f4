"""Command launcher: runs a local training command with the export named in env vars."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from feedback_assets.resources.launchers.base import (
    LaunchRequest,
    LaunchResult,
    Redactor,
    failed,
    truncate,
    utcnow,
)

# Directory holding the feedback_assets package: `-m feedback_assets...` resolves from any cwd.
_PROJECT_ROOT = str(Path(__file__).resolve().parents[3])


def format_env_name(fmt: str) -> str:
    """FEEDBACK_EXPORT_<FORMAT>: upper case, anything but letters/digits becomes '_'."""
    return "FEEDBACK_EXPORT_" + re.sub(r"[^A-Za-z0-9]", "_", fmt).upper()


def launch_env(request: LaunchRequest, model_dir: str) -> dict[str, str]:
    """The FEEDBACK_* variables a training command reads."""
    env = {
        "FEEDBACK_EXPORT_DIR": request.export_dir,
        "FEEDBACK_EXPORT_MANIFEST": request.manifest_path,
        "FEEDBACK_EXPORT_BATCH_ID": request.export_batch_id,
        "FEEDBACK_NEW_MODEL_VERSION": request.new_model_version_id,
        "FEEDBACK_DEPLOYMENT_ID": request.deployment_id,
        "FEEDBACK_BASE_MODEL_VERSION": request.base_model_version_id or "",
        "FEEDBACK_MODEL_DIR": str(Path(model_dir).resolve()),
        "FEEDBACK_TRIGGER_REASONS": json.dumps(list(request.reasons)),
    }
    for fmt, path in request.files.items():
        env[format_env_name(fmt)] = path
    return env


def resolve_command(command: Sequence[str]) -> list[str]:
    """'python' means this interpreter, so the command runs in the project's venv."""
    cmd = list(command)
    if cmd and cmd[0] in ("python", "python3"):
        cmd[0] = sys.executable
    return cmd


def _last_json_line(stdout: str) -> dict[str, object]:
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        return {}
    try:
        parsed = json.loads(lines[-1])
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def run_command(
    request: LaunchRequest,
    command: Sequence[str],
    model_dir: str,
    workdir: str | None,
    timeout_s: float,
    redact: Redactor,
    extra_env: Mapping[str, str] | None = None,
) -> LaunchResult:
    started = utcnow()
    cmd = resolve_command(command)
    if not cmd:
        return failed(started, "command: is empty", attempts=0)
    env = dict(os.environ)
    env.update(launch_env(request, model_dir))
    env.update(extra_env or {})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT_ROOT, env.get("PYTHONPATH")) if p)
    try:
        # Own session, so a timeout can stop the whole process group, not just the leader.
        proc = subprocess.Popen(
            cmd,
            cwd=workdir or None,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        return failed(started, redact(f"command: cannot start {cmd[0]!r}: {exc}"))
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        output = redact(truncate(_join(stdout, stderr)))
        return failed(started, f"command: timed out after {timeout_s:g}s", output)
    output = redact(truncate(_join(stdout, stderr)))
    if proc.returncode != 0:
        tail = redact(stderr.strip().splitlines()[-1]) if stderr.strip() else "no stderr"
        error = f"command: exited with code {proc.returncode}: {tail}"
        return failed(started, error, output)
    info = _last_json_line(stdout)
    version = info.get("model_version_id")
    job_id = info.get("job_id")
    return LaunchResult(
        status="succeeded",
        job_id=str(job_id) if job_id else f"pid-{proc.pid}",
        new_model_version_id=str(version) if version else request.new_model_version_id,
        started_at=started,
        finished_at=utcnow(),
        output=output,
        error=None,
        attempts=1,
    )


def _join(stdout: str, stderr: str) -> str:
    parts = [stdout.rstrip()]
    if stderr.strip():
        parts.append("--- stderr ---\n" + stderr.rstrip())
    return "\n".join(p for p in parts if p)
