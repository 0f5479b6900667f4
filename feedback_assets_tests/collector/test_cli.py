"""`python -m feedback_assets.collector`: key management and the server, as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from feedback_assets.collector.__main__ import main
from feedback_assets.domain.api_keys import ERASURE_SCOPE, key_digest
from feedback_assets.store import FeedbackStore
from feedback_assets.store.api_keys import ApiKeyStore

ROOT = Path(__file__).resolve().parents[2]


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "FEEDBACK_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_keys_create_list_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "feedback_assets.collector", "keys", "create", "shop"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = created.stdout.strip()
    assert key.startswith("fbk_") and len(key) > 50
    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.db'}")
    (row,) = ApiKeyStore(store).list()
    assert row.deployment_id == "shop" and row.key_sha256 == key_digest(key)
    assert key not in (tmp_path / "feedback.db").read_bytes().decode("latin-1")  # hashed at rest

    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(tmp_path))
    assert main(["keys", "list"]) == 0
    assert f"{row.key_id}\tshop\t" in capsys.readouterr().out
    assert main(["keys", "revoke", row.key_id]) == 0
    assert main(["keys", "revoke", row.key_id]) == 1  # already revoked
    assert main(["keys", "list", "shop"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "create", " "]) == 2
    # An erasure key belongs to no deployment; a deployment and --erasure together are refused.
    assert main(["keys", "create", "--erasure"]) == 0
    assert main(["keys", "create", "shop", "--erasure"]) == 2
    assert main(["keys", "create"]) == 2
    assert any(r.deployment_id == ERASURE_SCOPE for r in ApiKeyStore(store).list())
    store.dispose()


def test_the_server_starts_on_the_given_port(tmp_path: Path) -> None:
    port = _free_port()
    env = {**_env(tmp_path), "FEEDBACK_COLLECTOR_DELIVERY": "thread"}
    cmd = [sys.executable, "-m", "feedback_assets.collector", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.1)
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/events", json={})
        assert answer.status_code == 401
    finally:
        server.terminate()
        server.wait(20)


def test_bad_settings_name_their_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEEDBACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FEEDBACK_COLLECTOR_DELIVERY", "carrier-pigeon")
    assert main([]) == 2
    assert "FEEDBACK_COLLECTOR_DELIVERY: must be 'process' or 'thread'" in capsys.readouterr().err
    monkeypatch.delenv("FEEDBACK_COLLECTOR_DELIVERY")
    monkeypatch.setenv("FEEDBACK_COLLECTOR_MAX_BODY_BYTES", "lots")
    assert main(["--port", "0"]) == 2
    assert "FEEDBACK_COLLECTOR_MAX_BODY_BYTES: cannot read 'lots'" in capsys.readouterr().err
