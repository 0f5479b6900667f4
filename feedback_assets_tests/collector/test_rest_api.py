"""The collector's JSON API over real HTTP (uvicorn on 127.0.0.1), into a real SQLite store."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from feedback_assets.store import FeedbackStore
from feedback_assets_tests.collector.collector_server import CollectorServer

EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorServer]:
    with CollectorServer(tmp_path_factory.mktemp("collector")) as running:
        yield running


@pytest.fixture(scope="module")
def key(server: CollectorServer) -> str:
    return server.key("shop")


def _post(server: CollectorServer, path: str, key: str | None, json: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server.base_url}{path}", json=json, headers=headers, timeout=10)


def _events(server: CollectorServer, ids: list[str]) -> dict[str, dict]:
    server.flush()
    frame = FeedbackStore(server.settings.store_url).read_events()
    rows = frame[frame["event_id"].isin(ids)]
    return {row["event_id"]: row for row in rows.to_dict("records")}


def test_a_batch_is_spooled_redacted_and_stored(server: CollectorServer, key: str) -> None:
    rows = [{"prompt": f"question {i} from {EMAIL}", "response": f"answer {i}"} for i in range(300)]
    answer = _post(server, "/v1/events", key, rows)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 300 and body["errors"] == [] and None not in body["ids"]
    stored = _events(server, body["ids"])
    assert len(stored) == 300
    assert {row["deployment_id"] for row in stored.values()} == {"shop"}  # the key's deployment
    assert all(EMAIL not in row["prompt"] and "[EMAIL]" in row["prompt"] for row in stored.values())


def test_bad_rows_are_named_and_dead_lettered_and_good_neighbours_kept(
    server: CollectorServer, key: str
) -> None:
    rows = [
        {"prompt": "fine", "response": "ok"},
        {"prompt": "", "response": "ok", "latency_ms": -1},
        {"prompt": "also fine", "response": "ok", "colour": "red"},
    ]
    answer = _post(server, "/v1/events", key, rows)
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 1 and body["ids"][0] and body["ids"][1:] == [None, None]
    assert {(e["index"], e["field"]) for e in body["errors"]} == {
        (1, "prompt"),
        (1, "latency_ms"),
        (2, "colour"),
    }
    assert len(_events(server, [body["ids"][0]])) == 1
    dead = FeedbackStore(server.settings.store_url).read_table("dead_letters")
    assert dead["reason"].str.contains("colour: unknown field").any()

    only_bad = _post(server, "/v1/events", key, {"response": "no prompt"})
    assert only_bad.status_code == 422
    assert only_bad.json()["errors"] == [{"index": 0, "field": "prompt", "reason": "is required"}]


def test_signals_and_edits_reach_the_store(server: CollectorServer, key: str) -> None:
    event_id = _post(server, "/v1/events", key, {"prompt": "p", "response": "r"}).json()["ids"][0]
    signal = _post(server, "/v1/signals", key, {"event_id": event_id, "signal_type": "thumbs_up"})
    edit = _post(server, "/v1/edits", key, [{"event_id": event_id, "edited_response": "better"}])
    bad = _post(server, "/v1/signals", key, [{"event_id": event_id, "signal_type": "meh"}])
    assert signal.status_code == edit.status_code == 202
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "signal_type"
    server.flush()
    signals = FeedbackStore(server.settings.store_url).read_signals(event_ids=[event_id])
    assert sorted(signals["signal_type"]) == ["edit", "thumbs_up"]
    assert signals.loc[signals["signal_type"] == "edit", "edited_response"].item() == "better"


def test_keys_are_required_and_bound_to_one_deployment(server: CollectorServer, key: str) -> None:
    row = {"prompt": "p", "response": "r"}
    assert _post(server, "/v1/events", None, row).status_code == 401
    wrong = _post(server, "/v1/events", "fbk_000000000000_" + "x" * 43, row)
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["field"] == "Authorization"
    assert wrong.headers["www-authenticate"].startswith("Bearer")

    other = _post(server, "/v1/events", key, [row, {**row, "deployment_id": "billing"}])
    assert other.status_code == 403
    assert other.json()["errors"] == [
        {"index": 1, "field": "deployment_id", "reason": "is another deployment"}
    ]
    billing_key = server.key("billing")
    billing_event = _post(server, "/v1/events", billing_key, row).json()["ids"][0]
    server.flush()  # stored: now its deployment is known
    signal = {"event_id": billing_event, "signal_type": "thumbs_down"}
    assert _post(server, "/v1/signals", key, signal).status_code == 403
    assert _post(server, "/v1/signals", billing_key, signal).status_code == 202


def test_a_revoked_key_is_refused(server: CollectorServer) -> None:
    key = server.key("shop")
    assert _post(server, "/v1/events", key, {"prompt": "p", "response": "r"}).status_code == 202
    server.collector.keys.revoke(key.split("_")[1])
    assert _post(server, "/v1/events", key, {"prompt": "p", "response": "r"}).status_code == 401


def test_gzip_bodies_are_accepted(server: CollectorServer, key: str) -> None:
    raw = httpx.Request("POST", "/", json=[{"prompt": "zipped", "response": "r"}] * 3).content
    answer = httpx.post(
        f"{server.base_url}/v1/events",
        content=gzip.compress(raw),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 202 and answer.json()["accepted"] == 3
    assert len(_events(server, answer.json()["ids"])) == 3


def test_unreadable_bodies_name_the_problem(server: CollectorServer, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    url = f"{server.base_url}/v1/events"
    not_json = httpx.post(url, content=b"{nope", headers=headers)
    assert not_json.status_code == 400 and not_json.json()["errors"][0]["field"] == "body"
    scalar = httpx.post(url, content=b"42", headers=headers)
    assert scalar.status_code == 400
    bad_zip = httpx.post(url, content=b"not gzip", headers={**headers, "Content-Encoding": "gzip"})
    assert bad_zip.status_code == 400 and "gzip" in bad_zip.json()["errors"][0]["reason"]
    brotli = httpx.post(url, content=b"[]", headers={**headers, "Content-Encoding": "br"})
    assert brotli.status_code == 415
    assert brotli.json()["errors"][0]["field"] == "Content-Encoding"


def test_size_limits_hold_on_the_wire_and_after_gunzip(tmp_path: Path) -> None:
    with CollectorServer(tmp_path, max_body_bytes=4096) as server:
        key = server.key("shop")
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        url = f"{server.base_url}/v1/events"
        big = [{"prompt": "x" * 5000, "response": "r"}]
        assert _post(server, "/v1/events", key, big).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts as it streams
            yield b'[{"prompt": "'
            yield b"y" * 5000
            yield b'", "response": "r"}]'

        assert httpx.post(url, content=chunks(), headers=headers).status_code == 413
        bomb = gzip.compress(b"[" + b" " * 3_000_000 + b"]")  # 3 MB of JSON in ~3 KB
        assert len(bomb) < 4096
        answer = httpx.post(url, content=bomb, headers={**headers, "Content-Encoding": "gzip"})
        assert answer.status_code == 413
        assert "FEEDBACK_COLLECTOR_MAX_BODY_BYTES" in answer.json()["errors"][0]["reason"]
        small = [{"prompt": "fits", "response": "r"}]
        assert _post(server, "/v1/events", key, small).status_code == 202


def test_a_full_spool_answers_429_with_retry_after(tmp_path: Path) -> None:
    with CollectorServer(tmp_path, max_spool_bytes=1, retry_after_seconds=7) as server:
        key = server.key("shop")
        db = sqlite3.connect(tmp_path / "feedback.db", isolation_level=None)
        db.execute("BEGIN IMMEDIATE")  # the store stalls: nothing spooled can be delivered
        try:
            first = _post(server, "/v1/events", key, {"prompt": "first", "response": "r"})
            assert first.status_code == 202
            refused = _post(server, "/v1/events", key, {"prompt": "second", "response": "r"})
            assert refused.status_code == 429 and refused.headers["retry-after"] == "7"
            signal = {"event_id": first.json()["ids"][0], "signal_type": "copy"}
            assert _post(server, "/v1/signals", key, signal).status_code == 429
        finally:
            db.execute("ROLLBACK")
            db.close()
        server.flush()  # the store is back: the spool drains and the collector accepts again
        retried = _post(server, "/v1/events", key, {"prompt": "second", "response": "r"})
        assert retried.status_code == 202
        stored = _events(server, [first.json()["ids"][0], retried.json()["ids"][0]])
        assert sorted(row["prompt"] for row in stored.values()) == ["first", "second"]


def test_the_openapi_page_documents_the_routes(server: CollectorServer) -> None:
    assert httpx.get(f"{server.base_url}/docs").status_code == 200
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    assert {"/v1/traces", "/v1/events", "/v1/signals", "/v1/edits"} <= set(spec["paths"])
    events = spec["paths"]["/v1/events"]["post"]
    assert "prompt" in str(events["requestBody"]) and "429" in events["responses"]


def test_an_unreadable_key_table_answers_503_not_500(tmp_path: Path) -> None:
    with CollectorServer(tmp_path) as server:
        key = server.key("shop")
        with server.collector.store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE api_keys")
        answer = _post(server, "/v1/events", key, {"prompt": "p", "response": "r"})
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"


def test_delete_user_erases_with_an_erasure_key_only(tmp_path: Path) -> None:
    from feedback_assets.domain.api_keys import ERASURE_SCOPE

    with CollectorServer(tmp_path) as srv:
        shop = srv.key("shop")
        rows = [
            {
                "prompt": "alice asks about the zebra-teal lamp",
                "response": "ok",
                "user_id": "u-alice",
            },
            {"prompt": "bob asks about chairs", "response": "ok", "user_id": "u-bob"},
        ]
        assert _post(srv, "/v1/events", shop, rows).status_code == 202
        srv.flush()
        url = f"{srv.base_url}/v1/users/u-alice"
        assert httpx.delete(url, timeout=10).status_code == 401
        as_writer = httpx.delete(url, headers={"Authorization": f"Bearer {shop}"}, timeout=10)
        assert as_writer.status_code == 403
        erasure = srv.key(ERASURE_SCOPE)
        # An erasure key cannot write events.
        assert _post(srv, "/v1/events", erasure, rows[:1]).status_code == 403
        done = httpx.delete(url, headers={"Authorization": f"Bearer {erasure}"}, timeout=30)
        assert done.status_code == 200, done.text
        assert "u-alice" not in done.text and "user_hash" not in done.json()
        prompts = FeedbackStore(srv.settings.store_url).read_events()["prompt"].tolist()
        assert prompts == ["bob asks about chairs"]
