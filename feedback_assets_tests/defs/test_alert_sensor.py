"""alert_sensor against a real webhook on 127.0.0.1, through Dagster's sensor evaluation."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from feedback_assets.defs.alert_sensor import alert_sensor
from feedback_assets.defs.partitions import loop_check, loop_key, loop_partitions
from feedback_assets.resources.alert_webhook import AlertWebhook
from feedback_assets.resources.feedback_store import FeedbackStoreResource
from feedback_assets.resources.loop_settings import TriggerSettings
from feedback_assets.store import FeedbackStore, now_us

QUOTE = "secret prompt of a user"  # what a drift reason may quote; never sent


class Webhook:
    """A Slack-style incoming webhook: records each JSON body, answers `status`."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(json.loads(body))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/B0/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def _dead_url() -> str:
    with socket.socket() as s:  # nothing listens here once the socket is closed
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"


@dg.asset(
    partitions_def=loop_partitions,
    check_specs=[loop_check("rows_ok", "probe", "A blocking check that fails.", blocking=True)],
)
def probe():
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="rows_ok", passed=False, description="3 bad rows")


def _seed(store: FeedbackStore) -> None:
    """A drifted verdict, a day of poor quality, and (with the gate's columns) a rejection."""
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(150)],
            "deployment_id": "support-bot",
            "prompt": "p",
            "response": "r",
            "metadata": "{}",
            "timestamp": pd.Timestamp("2026-11-02", tz="UTC"),
        }
    )
    store.insert_events(events)
    quality = events[["event_id", "deployment_id"]].assign(
        timestamp_us=now_us(), score=0.3, hard_fail=False
    )
    store.replace_partition("quality_scores", "2026-11-02", quality)
    reasons = json.dumps([f"prompt_text: novelty 40% novel, e.g. {QUOTE!r}", "latency_ms: KS"])
    store.append(
        "drift_history",
        [
            {
                "id": "h1",
                "deployment_id": "json-extractor",
                "partition_key": "2026-11-02",
                "source": "asset",
                "drifted": True,
                "severity": "drift",
                "score": 0.61,
                "reasons": reasons,
                "created_us": now_us(),
            }
        ],
    )
    store.append(
        "model_versions",
        [
            {
                "model_version_id": "sb-ft-2",
                "deployment_id": "support-bot",
                "registered_us": 1,
                "status": "candidate",
            }
        ],
    )
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE model_versions SET status = 'rejected', decided_us = :t"),
            {"t": now_us()},
        )


def _tick(instance, store_url: str, hook: AlertWebhook, cursor: str | None = None):
    resources = {
        "feedback_store": FeedbackStoreResource(url=store_url),
        "trigger_settings": TriggerSettings(),
        "alert_webhook": hook,
    }
    definitions = dg.Definitions(assets=[probe], sensors=[alert_sensor])
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=definitions, resources=resources
    ) as ctx:
        return alert_sensor(ctx)


def _fail_the_probe_check(instance: dg.DagsterInstance) -> None:
    instance.add_dynamic_partitions("deployment", ["code-assistant"])
    result = dg.materialize(
        [probe],
        partition_key=loop_key("2026-11-02", "code-assistant"),
        instance=instance,
        raise_on_error=False,
    )
    assert [e.passed for e in result.get_asset_check_evaluations()] == [False]


def test_each_reason_alerts_once_then_waits_for_the_cooldown(
    sqlite_url: str, webhook: Webhook
) -> None:
    store = FeedbackStore(sqlite_url)
    _seed(store)
    with dg.instance_for_test() as instance:
        _fail_the_probe_check(instance)
        hook = AlertWebhook(webhook_url=webhook.url, cooldown_seconds=1)
        first = _tick(instance, sqlite_url, hook)
        assert first.skip_reason is not None and "sent 4" in first.skip_reason.skip_message
        by_reason = {
            p["blocks"][2]["elements"][0]["text"].split("reason `")[1].split("`")[0]: p
            for p in webhook.posts
        }
        assert set(by_reason) == {
            "drift",
            "quality_drop",
            "check_failed:probe:rows_ok",
            "model_rejected",
        }
        assert "json-extractor drifted" in by_reason["drift"]["text"]
        assert "prompt_text, latency_ms" in by_reason["drift"]["blocks"][1]["text"]["text"]
        assert "code-assistant" in by_reason["check_failed:probe:rows_ok"]["text"]
        assert "sb-ft-2" in by_reason["model_rejected"]["text"]
        assert QUOTE not in json.dumps(webhook.posts)  # traffic text never leaves
        assert all(set(p) == {"text", "blocks"} for p in webhook.posts)

        second = _tick(instance, sqlite_url, hook, first.cursor)
        assert len(webhook.posts) == 4  # same state: nothing new, quality held by cooldown
        assert "held by cooldown 1" in second.skip_reason.skip_message
        time.sleep(1.1)
        _tick(instance, sqlite_url, hook, second.cursor)
        assert len(webhook.posts) == 5 and "quality dropped" in webhook.posts[-1]["text"]
    store.dispose()


def test_a_dead_webhook_skips_the_tick_and_the_alert_comes_next_tick(
    sqlite_url: str, webhook: Webhook
) -> None:
    store = FeedbackStore(sqlite_url)
    store.append(
        "drift_history",
        [
            {
                "id": "h1",
                "deployment_id": "bot",
                "source": "live",
                "drifted": True,
                "severity": "drift",
                "score": 0.5,
                "reasons": "[]",
                "created_us": now_us(),
            }
        ],
    )
    with dg.instance_for_test() as instance:
        dead = _tick(instance, sqlite_url, AlertWebhook(webhook_url=_dead_url(), timeout_seconds=2))
        message = dead.skip_reason.skip_message
        assert "webhook unreachable" in message and "kept for the next tick 1" in message
        assert "127.0.0.1" not in message  # the URL is a credential
        webhook.status = 500
        refused = _tick(instance, sqlite_url, AlertWebhook(webhook_url=webhook.url), dead.cursor)
        assert "HTTP 500" in refused.skip_reason.skip_message
        webhook.status = 200
        ok = _tick(instance, sqlite_url, AlertWebhook(webhook_url=webhook.url), refused.cursor)
        assert "sent 1" in ok.skip_reason.skip_message
        # One refused post, then the same alert delivered.
        assert [p["text"] for p in webhook.posts][0] == webhook.posts[1]["text"]
        assert len(webhook.posts) == 2 and "bot drifted" in webhook.posts[1]["text"]
    store.dispose()


def test_no_destination_or_missing_dagster_slack_is_a_clear_skip(sqlite_url: str) -> None:
    FeedbackStore(sqlite_url).dispose()
    with dg.instance_for_test() as instance:
        result = _tick(instance, sqlite_url, AlertWebhook())
        assert "FEEDBACK_ALERT_WEBHOOK_URL" in result.skip_message
        if importlib.util.find_spec("dagster_slack") is None:
            FeedbackStore(sqlite_url).append(
                "drift_history",
                [
                    {
                        "id": "h1",
                        "deployment_id": "bot",
                        "source": "live",
                        "drifted": True,
                        "severity": "drift",
                        "score": 0.5,
                        "reasons": "[]",
                        "created_us": now_us(),
                    }
                ],
            )
            slack = AlertWebhook(slack_token="xoxb-test", slack_channel="#alerts")
            skipped = _tick(instance, sqlite_url, slack)
            assert "dagster-slack is not installed" in skipped.skip_reason.skip_message
