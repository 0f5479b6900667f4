import hashlib
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from feedback_assets.resources.retraining_launcher import (
    CommandLauncher,
    LaunchRequest,
    OpenAIFineTuneLauncher,
    PromoteRequest,
    RetrainingLauncher,
    WebhookLauncher,
)
from feedback_assets_tests.openai_server import OpenAICompatServer

SECRET = "sk-test-secret-0123456789"
FAST = {"backoff_s": 0.01, "max_retries": 2, "timeout_s": 20.0}
POLL = {"poll_interval_s": 0.02}


@pytest.fixture()
def export(tmp_path: Path) -> LaunchRequest:
    """A tiny export batch on disk: chat JSONL, plain JSONL and a manifest."""
    batch = tmp_path / "exports" / "batch-1"
    batch.mkdir(parents=True)
    chat = batch / "openai_chat.jsonl"
    plain = batch / "train.jsonl"
    with chat.open("w") as c, plain.open("w") as p:
        for i in range(20):
            prompt, response = f"how do I reset order {i}?", f"Open settings and reset order {i}."
            msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
            c.write(json.dumps({"messages": msgs}) + "\n")
            p.write(json.dumps({"prompt": prompt, "response": response}) + "\n")
    manifest = batch / "manifest.json"
    manifest.write_text(json.dumps({"batch_id": "batch-1", "counts": {"openai_chat": 20}}))
    return LaunchRequest(
        deployment_id="Support Bot/EU",
        export_batch_id="batch-1",
        export_dir=str(batch),
        files={"openai_chat": str(chat), "jsonl": str(plain)},
        manifest_path=str(manifest),
        new_model_version_id="support-v2",
        base_model_version_id="support-v1",
        reasons=["drift in 2 consecutive windows"],
    )


# --- command ----------------------------------------------------------------------------------


def test_command_runs_standin_end_to_end(export: LaunchRequest, tmp_path: Path) -> None:
    launcher = CommandLauncher(model_dir=str(tmp_path / "models"), **FAST)
    result = launcher.launch(export)
    assert result.status == "succeeded", result.error
    assert result.new_model_version_id == "support-v2"
    assert result.job_id is not None and result.job_id.startswith("standin-")
    assert result.attempts == 1 and result.finished_at >= result.started_at
    out = tmp_path / "models" / "support-v2"
    card = (out / "model_card.md").read_text()
    assert "batch-1" in card and "drift in 2 consecutive windows" in card
    stats = json.loads((out / "model.json").read_text())
    chat_bytes = Path(export.files["openai_chat"]).read_bytes()
    assert stats["training_file_sha256"] == hashlib.sha256(chat_bytes).hexdigest()
    assert stats["examples"] == 20 and stats["export_batch_id"] == "batch-1"
    assert stats["base_model_version_id"] == "support-v1"
    counts = json.loads((out / "unigram.json").read_text())
    assert counts["reset"] == 18  # 20 examples, every 10th held out
    assert "trained support-v2 on 20 examples" in result.output


def test_command_env_vars_and_version_override(export: LaunchRequest, tmp_path: Path) -> None:
    env_file = tmp_path / "env.json"
    script = (
        "import json, os, sys;"
        "json.dump({k: v for k, v in os.environ.items() if k.startswith('FEEDBACK_')},"
        f" open({str(env_file)!r}, 'w'));"
        "print('training...');"
        "print(json.dumps({'model_version_id': 'custom-v9', 'job_id': 'job-42'}))"
    )
    launcher = CommandLauncher(command=["python", "-c", script], model_dir=str(tmp_path), **FAST)
    result = launcher.launch(export)
    assert result.status == "succeeded", result.error
    assert result.new_model_version_id == "custom-v9" and result.job_id == "job-42"
    seen = json.loads(env_file.read_text())
    assert seen["FEEDBACK_EXPORT_DIR"] == export.export_dir
    assert seen["FEEDBACK_EXPORT_MANIFEST"] == export.manifest_path
    assert seen["FEEDBACK_EXPORT_OPENAI_CHAT"] == export.files["openai_chat"]
    assert seen["FEEDBACK_EXPORT_JSONL"] == export.files["jsonl"]
    assert seen["FEEDBACK_NEW_MODEL_VERSION"] == "support-v2"
    assert seen["FEEDBACK_DEPLOYMENT_ID"] == "Support Bot/EU"
    assert seen["FEEDBACK_BASE_MODEL_VERSION"] == "support-v1"
    assert seen["FEEDBACK_MODEL_DIR"] == str(tmp_path.resolve())
    assert "training..." in result.output


def test_command_failure_exit_code(export: LaunchRequest, tmp_path: Path) -> None:
    script = "import sys; print('loss=nan', file=sys.stderr); sys.exit(3)"
    result = CommandLauncher(command=[sys.executable, "-c", script], **FAST).launch(export)
    assert result.status == "failed"
    assert result.error == "command: exited with code 3: loss=nan"
    assert result.new_model_version_id is None and "loss=nan" in result.output


def test_standin_rejects_empty_training_data(export: LaunchRequest, tmp_path: Path) -> None:
    Path(export.files["openai_chat"]).write_text("")
    result = CommandLauncher(model_dir=str(tmp_path / "m"), **FAST).launch(export)
    assert result.status == "failed"
    assert result.error is not None and "training file is empty" in result.error
    assert not (tmp_path / "m" / "support-v2").exists()


def test_command_timeout_and_unstartable(export: LaunchRequest) -> None:
    slow = CommandLauncher(
        command=["python", "-c", "import time; time.sleep(30)"], **{**FAST, "timeout_s": 0.5}
    )
    result = slow.launch(export)
    assert result.status == "failed" and result.error == "command: timed out after 0.5s"
    missing = CommandLauncher(command=["/nonexistent/trainer"], **FAST).launch(export)
    assert missing.status == "failed"
    assert missing.error is not None and "cannot start '/nonexistent/trainer'" in missing.error


def test_command_output_never_contains_secrets(export: LaunchRequest) -> None:
    script = f"print('token is {SECRET}'); import sys; sys.exit(1)"
    launcher = CommandLauncher(command=["python", "-c", script], api_key=SECRET, **FAST)
    result = launcher.launch(export)
    assert SECRET not in result.output and "[REDACTED]" in result.output


def test_unknown_kind_fails_clearly() -> None:
    from feedback_assets.defs.resources import build_launcher
    from feedback_assets.settings import ConfigurationError, load_settings

    with pytest.raises(ConfigurationError, match="FEEDBACK_LAUNCHER: must be one of"):
        build_launcher(load_settings({"FEEDBACK_LAUNCHER": "sagemaker"}))


def test_launcher_kind_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from feedback_assets.defs.resources import build_launcher
    from feedback_assets.settings import load_settings

    env = {"FEEDBACK_LAUNCHER": "webhook", "FEEDBACK_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    launcher = build_launcher(load_settings(env))
    assert (
        isinstance(launcher, WebhookLauncher)
        and launcher.webhook_url == env["FEEDBACK_WEBHOOK_URL"]
    )


def test_api_key_from_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_LAUNCHER_API_KEY", SECRET)
    launcher = OpenAIFineTuneLauncher(api_key=dg.EnvVar("FEEDBACK_LAUNCHER_API_KEY"))
    assert launcher.process_config_and_initialize().api_key == SECRET


# --- openai_finetune --------------------------------------------------------------------------


@pytest.fixture()
def server() -> Iterator[OpenAICompatServer]:
    with OpenAICompatServer() as s:
        yield s


def _openai(server: OpenAICompatServer, **kw: Any) -> RetrainingLauncher:
    return OpenAIFineTuneLauncher(
        base_url=server.base_url, api_key=SECRET, **{**FAST, **POLL, **kw}
    )


def test_openai_upload_create_poll_succeeds(
    server: OpenAICompatServer, export: LaunchRequest
) -> None:
    result = _openai(server).launch(export)
    assert result.status == "succeeded", result.error
    assert result.new_model_version_id is not None
    assert result.new_model_version_id.startswith("ft:gpt-4o-mini-2024-07-18:")
    assert result.job_id is not None and result.job_id.startswith("ftjob-")
    [uploaded] = server.file_bytes.values()
    assert uploaded == Path(export.files["openai_chat"]).read_bytes()
    create = next(r for r in server.requests if r["path"] == "/v1/fine_tuning/jobs")
    assert create["json"]["model"] == "gpt-4o-mini-2024-07-18"
    assert create["json"]["training_file"] in server.files
    assert create["json"]["suffix"] == "support-bot-eu"
    assert create["headers"]["authorization"] == f"Bearer {SECRET}"
    assert server.calls(f"/v1/fine_tuning/jobs/{result.job_id}") >= 2  # queued -> running -> done
    assert "running -> succeeded" in result.output
    assert SECRET not in result.output and result.attempts >= 4


def test_openai_failed_job(server: OpenAICompatServer, export: LaunchRequest) -> None:
    server.finetune_outcome = "failed"
    result = _openai(server).launch(export)
    assert result.status == "failed" and result.new_model_version_id is None
    assert result.job_id is not None
    assert result.error == f"fine-tune job {result.job_id} ended failed: scripted fine-tune failure"


def test_openai_retries_429_then_succeeds(
    server: OpenAICompatServer, export: LaunchRequest
) -> None:
    busy = {"error": {"message": "slow down", "type": "rate_limit", "code": "rate_limit"}}
    server.script("POST", "/v1/files", [(429, busy, 0.0)])
    result = _openai(server).launch(export)
    assert result.status == "succeeded", result.error
    assert server.calls("/v1/files") == 2
    assert "files.create: transient error (HTTP 429" in result.output


def test_openai_persistent_5xx_fails_after_retries(
    server: OpenAICompatServer, export: LaunchRequest
) -> None:
    down = {"error": {"message": "down", "type": "server_error", "code": None}}
    server.script("POST", "/v1/fine_tuning/jobs", [(500, down, 0.0)] * 5)
    result = _openai(server, max_retries=2).launch(export)
    assert result.status == "failed"
    assert server.calls("/v1/fine_tuning/jobs") == 3
    assert result.attempts == 4  # one upload + three job creations
    assert result.error is not None and "still failing after 4 attempt(s)" in result.error


def test_openai_bad_request_not_retried(server: OpenAICompatServer, export: LaunchRequest) -> None:
    bad = {"error": {"message": f"invalid model for key {SECRET}", "type": "invalid", "code": None}}
    server.script("POST", "/v1/fine_tuning/jobs", [(400, bad, 0.0)])
    result = _openai(server).launch(export)
    assert result.status == "failed" and server.calls("/v1/fine_tuning/jobs") == 1
    assert result.error is not None and "HTTP 400" in result.error
    assert SECRET not in result.error


def test_openai_timeout_cancels_job(server: OpenAICompatServer, export: LaunchRequest) -> None:
    result = _openai(server, timeout_s=0.05, poll_interval_s=0.1).launch(export)
    assert result.status == "failed"
    assert result.error is not None and "timed out after 0.05s" in result.error
    assert server.calls("/cancel") == 1
    assert server.jobs[result.job_id or ""]["status"] == "cancelled"


def test_openai_requires_chat_export(server: OpenAICompatServer, export: LaunchRequest) -> None:
    no_chat = LaunchRequest(**{**export.__dict__, "files": {"jsonl": export.files["jsonl"]}})
    result = _openai(server).launch(no_chat)
    assert result.status == "failed" and result.error is not None
    assert "no 'openai_chat' export" in result.error and server.requests == []


# --- webhook ----------------------------------------------------------------------------------


class Hook:
    """A real HTTP receiver on 127.0.0.1 replying from a scripted queue."""

    def __init__(self, replies: list[tuple[int, str]]) -> None:
        self.replies = list(replies)
        self.received: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.received.append({"headers": dict(self.headers), "json": json.loads(body)})
                status, text = hook.replies.pop(0) if hook.replies else (200, '{"job_id": "j"}')
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/launch"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _hook_launch(replies: list[tuple[int, str]], export: LaunchRequest) -> tuple[Hook, Any]:
    hook = Hook(replies)
    try:
        launcher = WebhookLauncher(webhook_url=hook.url, webhook_token=SECRET, **FAST)
        return hook, launcher.launch(export)
    finally:
        hook.close()


def test_webhook_posts_manifest_and_returns_job(export: LaunchRequest) -> None:
    hook, result = _hook_launch([(202, '{"job_id": "remote-7"}')], export)
    assert result.status == "succeeded" and result.job_id == "remote-7"
    assert result.new_model_version_id == "support-v2" and result.attempts == 1
    [req] = hook.received
    assert req["headers"]["Authorization"] == f"Bearer {SECRET}"
    body = req["json"]
    assert body["manifest"] == {"batch_id": "batch-1", "counts": {"openai_chat": 20}}
    assert body["files"] == dict(export.files) and body["reasons"] == list(export.reasons)
    assert body["new_model_version_id"] == "support-v2"


def test_webhook_retries_500_then_succeeds(export: LaunchRequest) -> None:
    hook, result = _hook_launch([(500, "oops"), (200, '{"job_id": "r2"}')], export)
    assert result.status == "succeeded" and result.job_id == "r2"
    assert result.attempts == 2 and len(hook.received) == 2


def test_webhook_400_fails_without_retry(export: LaunchRequest) -> None:
    hook, result = _hook_launch([(400, f'{{"detail": "bad token {SECRET}"}}')], export)
    assert result.status == "failed" and len(hook.received) == 1
    assert result.error is not None and "HTTP 400" in result.error
    assert SECRET not in result.error and "[REDACTED]" in result.error


def test_webhook_missing_job_id_fails(export: LaunchRequest) -> None:
    _, result = _hook_launch([(200, '{"accepted": true}')], export)
    assert result.status == "failed"
    assert result.error is not None and "no job_id" in result.error


def test_webhook_unreachable_fails_after_retries(export: LaunchRequest) -> None:
    hook = Hook([])
    url = hook.url
    hook.close()  # nothing listens on that port any more
    launcher = WebhookLauncher(webhook_url=url, **{**FAST, "max_retries": 1})
    result = launcher.launch(export)
    assert result.status == "failed" and result.attempts == 2
    assert result.error is not None and "still failing after 2 attempt(s)" in result.error


def _promote(action: str = "rollback") -> PromoteRequest:
    return PromoteRequest("support-bot", "support-v1", "support-v2", action, ("thumbs_down rose",))


def test_webhook_promote_posts_the_action_and_retries(export: LaunchRequest) -> None:
    hook = Hook([(503, "{}"), (200, "{}")])
    try:
        launcher = WebhookLauncher(webhook_url=hook.url, webhook_token=SECRET, **FAST)
        result = launcher.promote(_promote())
    finally:
        hook.close()
    assert result.ok and "rollback" in result.detail
    assert len(hook.received) == 2  # the 503 was retried
    body = hook.received[-1]["json"]
    assert body["action"] == "rollback" and body["model_version_id"] == "support-v1"
    assert body["previous_model_version_id"] == "support-v2"
    assert hook.received[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_webhook_promote_refused_is_not_ok_and_hides_the_token() -> None:
    hook = Hook([(403, '{"error": "no"}')])
    try:
        result = WebhookLauncher(webhook_url=hook.url, webhook_token=SECRET, **FAST).promote(
            _promote("promote")
        )
    finally:
        hook.close()
    assert not result.ok and "HTTP 403" in result.detail and SECRET not in result.detail


def test_command_promote_runs_the_promote_command_with_the_action(tmp_path: Path) -> None:
    out = tmp_path / "serving.json"
    script = (
        "import json, os, sys; "
        f"open({str(out)!r}, 'w').write(json.dumps({{k: v for k, v in os.environ.items() "
        "if k.startswith('FEEDBACK_')}))"
    )
    launcher = CommandLauncher(promote_command=[sys.executable, "-c", script])
    assert launcher.promote(_promote()).ok
    env = json.loads(out.read_text())
    assert env["FEEDBACK_ACTION"] == "rollback"
    assert env["FEEDBACK_PROMOTE_MODEL_VERSION"] == "support-v1"
    assert env["FEEDBACK_PREVIOUS_MODEL_VERSION"] == "support-v2"
    failing = CommandLauncher(promote_command=[sys.executable, "-c", "raise SystemExit(3)"])
    result = failing.promote(_promote())
    assert not result.ok and "exit 3" in result.detail
    # Without a promote command the model history is the only record, and that is not an error.
    assert CommandLauncher().promote(_promote()).ok


class PollingTrainer:
    """A remote trainer on 127.0.0.1: POST accepts with a status_url; GET answers `statuses`
    in turn (the last one repeats)."""

    def __init__(self, statuses: list[dict[str, Any]]) -> None:
        self.statuses, self.gets = list(statuses), 0
        trainer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _reply(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(202 if self.command == "POST" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._reply({"job_id": "j1", "status_url": f"{trainer.base}/status/j1"})

            def do_GET(self) -> None:
                trainer.gets += 1
                i = min(trainer.gets, len(trainer.statuses)) - 1
                self._reply(trainer.statuses[i])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize(
    ("final", "ok"),
    [
        ({"status": "succeeded", "model_version_id": "remote-model-9"}, True),
        ({"status": "failed", "error": "out of GPU memory"}, False),
    ],
)
def test_webhook_polls_the_status_url_for_the_trained_model(
    export: LaunchRequest, final: dict, ok: bool
) -> None:
    trainer = PollingTrainer([{"status": "running"}, {"status": "running"}, final])
    try:
        launcher = WebhookLauncher(
            webhook_url=f"{trainer.base}/train", poll_interval_s=0.01, **FAST
        )
        result = launcher.launch(export)
    finally:
        trainer.close()
    assert trainer.gets == 3
    assert result.succeeded is ok
    if ok:
        assert result.new_model_version_id == "remote-model-9" and result.job_id == "j1"
    else:
        assert "out of GPU memory" in (result.error or "")
