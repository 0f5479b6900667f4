"""The demo's tiny model and its OpenAI-compatible server, end to end: the training stand-in run by
the command launcher on a real export, the server as a real subprocess, the real openai client."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pandas as pd
import pytest

from feedback_assets.demo.model_server_process import ModelServerError, ModelServerProcess
from feedback_assets.resources.retraining_launcher import CommandLauncher, LaunchRequest
from feedback_assets.store import FeedbackStore
from feedback_assets.store.eval_set import add_splits

APPROVED = {
    "How do I reset my password? The reset email never arrives.": (
        "Check your spam folder, then request a new reset link from the sign-in page."
    ),
    "I was charged twice for my subscription this month.": (
        "The duplicate charge has been refunded; it appears within 5 business days."
    ),
    "Where is my order? The tracking page has not updated in days.": (
        "Your parcel is with the carrier; tracking can lag by up to 48 hours."
    ),
    "How can I delete my account and all of my data?": (
        "Go to Settings > Privacy > Delete account; deletion is final after 30 days."
    ),
    "Can I return a product I already opened?": (
        "Opened items can be returned within 30 days if all accessories are included."
    ),
}
# Unseen paraphrases of the training prompts above, in the same order.
PARAPHRASES = (
    "the password reset email never arrives - how can I reset my password?",
    "why was my subscription charged twice this month",
    "my order tracking page has not updated, where is my order",
    "please delete my account and my data, how?",
    "I already opened the product, can I still return it?",
)
FAST = {"backoff_s": 0.01, "max_retries": 0, "timeout_s": 120.0}


def _train(tmp: Path, models: Path, version: str, pairs: dict[str, str], base: str | None) -> str:
    """Write an openai_chat export and train `version` through the command launcher."""
    batch = tmp / f"export-{version}"
    batch.mkdir(parents=True)
    chat = batch / "openai_chat.jsonl"
    with chat.open("w") as fh:
        for prompt, response in pairs.items():
            msgs = [
                {"role": "system", "content": "You are a support agent."},
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": response},
            ]
            fh.write(json.dumps({"messages": msgs}) + "\n")
    (batch / "manifest.json").write_text(json.dumps({"batch_id": version}))
    request = LaunchRequest(
        deployment_id="support-bot",
        export_batch_id=f"batch-{version}",
        export_dir=str(batch),
        files={"openai_chat": str(chat)},
        manifest_path=str(batch / "manifest.json"),
        new_model_version_id=version,
        base_model_version_id=base,
        reasons=["quality drop"],
    )
    result = CommandLauncher(model_dir=str(models), **FAST).launch(request)
    assert result.status == "succeeded", result.error
    assert result.new_model_version_id is not None
    return result.new_model_version_id


def _events(version: str, deployment: str, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    n = len(pairs)
    return pd.DataFrame(
        {
            "event_id": [f"{version}-e{i}" for i in range(n)],
            "deployment_id": deployment,
            "model_version_id": version,
            "prompt": [p for p, _ in pairs],
            "response": [r for _, r in pairs],
            "metadata": "{}",
            "timestamp": pd.Timestamp("2026-11-01", tz="UTC") + pd.to_timedelta(range(n), unit="h"),
        }
    )


@dataclass
class Served:
    server: ModelServerProcess
    client: openai.OpenAI
    store: FeedbackStore
    models: Path
    tmp: Path
    candidate: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("model_server")
    models = tmp / "models"
    candidate = _train(tmp, models, "support-bot-c1", APPROVED, base="support-bot-v1")
    store = FeedbackStore(f"sqlite:///{tmp / 'feedback.db'}")
    prompts = list(APPROVED)
    store.insert_events(
        _events(
            "support-bot-v1",
            "support-bot",
            [(p, f"v1 logged answer {i}") for i, p in enumerate(prompts)],
        )
    )
    store.insert_events(
        _events(
            "support-bot-v2",
            "support-bot",
            [(p, f"v2 logged answer {i}") for i, p in enumerate(prompts)],
        )
    )
    with ModelServerProcess(models, store.url, startup_timeout_s=90) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=30)
        yield Served(server, client, store, models, tmp, candidate)
    store.dispose()


def _ask(client: openai.OpenAI, model: str, prompt: str) -> str:
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}]
    )
    assert reply.model == model
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    content = reply.choices[0].message.content
    assert content is not None
    return content


def test_candidate_answers_a_paraphrase_with_the_approved_response(served: Served) -> None:
    out = served.models / served.candidate
    assert {"retrieval.json", "retrieval_idf.npy", "retrieval_prompts.npz"} <= {
        p.name for p in out.iterdir()
    }
    stats = json.loads((out / "model.json").read_text())
    assert (
        stats["retrieval_examples"] == len(APPROVED) and stats["retrieval_examples_from_base"] == 0
    )
    for paraphrase, approved in zip(PARAPHRASES, APPROVED.values(), strict=True):
        assert paraphrase not in APPROVED
        assert _ask(served.client, served.candidate, paraphrase) == approved


def test_traffic_stand_in_answers_from_its_own_versions_logged_events(served: Served) -> None:
    for i, paraphrase in enumerate(PARAPHRASES):
        assert _ask(served.client, "support-bot-v1", paraphrase) == f"v1 logged answer {i}"
        assert _ask(served.client, "support-bot-v2", paraphrase) == f"v2 logged answer {i}"
    listed = {m.id: m.owned_by for m in served.client.models.list()}
    assert listed[served.candidate] == "demo-trained"
    assert listed["support-bot-v1"] == listed["support-bot-v2"] == "demo-traffic"


def test_stand_in_leaves_out_eval_prompts_once_the_eval_set_holds_them(served: Served) -> None:
    logged = [
        ("How do I export my invoices as PDF files?", "faq answer invoices"),
        ("How do I export my contacts to a CSV file?", "faq answer contacts"),
    ]
    served.store.insert_events(_events("faq-bot-v1", "faq-bot", logged))
    question = "How do I export my invoices as PDF files?"
    assert _ask(served.client, "faq-bot-v1", question) == "faq answer invoices"
    split = pd.DataFrame(
        {
            "prompt_key": ["k-invoices"],
            "cluster_key": ["c-invoices"],
            "split": ["eval"],
            "prompt": [question],
            "reference_answer": ["faq answer invoices"],
            "source": ["high_quality"],
        }
    )
    assert add_splits(served.store, "faq-bot", "2026-11-01", split) == 1
    # The running server sees the grown eval set and no longer replays the held-out answer.
    assert _ask(served.client, "faq-bot-v1", question) == "faq answer contacts"


def test_unknown_model_is_an_openai_not_found_error(served: Served) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        _ask(served.client, "support-bot-v9", "hello")
    assert err.value.status_code == 404
    assert err.value.code == "model_not_found"
    assert "support-bot-v9" in err.value.message


def _post(base_url: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(
        base_url + "/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "model"),
        (b'{"model": "support-bot-v1"}', "messages"),
        (b'{"model": "support-bot-v1", "messages": "hi"}', "messages"),
        (
            b'{"model": "support-bot-v1", "messages": [{"role": "system", "content": "x"}]}',
            "messages",
        ),
        (b'{"model": "support-bot-v1", "messages": [{"content": "hi"}]}', "messages[0]"),
        (
            b'{"model": "support-bot-v1", "messages": [{"role": "user", "content": 5}]}',
            "messages[0].content",
        ),
        (
            b'{"model": "support-bot-v1", "stream": true, '
            b'"messages": [{"role": "user", "content": "hi"}]}',
            "stream",
        ),
    ],
)
def test_malformed_request_is_400_naming_the_field(served: Served, body: bytes, field: str) -> None:
    status, payload = _post(served.server.base_url, body)
    assert status == 400
    assert payload["error"]["param"] == field
    assert payload["error"]["message"].startswith(field)
    assert payload["error"]["type"] == "invalid_request_error"
    # Still serving afterwards.
    assert _ask(served.client, "support-bot-v1", PARAPHRASES[0]) == "v1 logged answer 0"


def _raw(base_url: str, request: bytes) -> bytes:
    host, port = base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(65536)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: abc\r\n\r\n", b" 400 "),
        (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", b" 413 "),
        (b"GARBAGE\r\n\r\n", b" 400 "),
        (b"GET /v1/nothing HTTP/1.1\r\n\r\n", b" 404 "),
    ],
)
def test_broken_http_gets_an_error_and_the_server_keeps_serving(
    served: Served, request_bytes: bytes, status: bytes
) -> None:
    assert status in _raw(served.server.base_url, request_bytes).split(b"\r\n", 1)[0]
    assert served.server.proc is not None and served.server.proc.poll() is None
    assert _ask(served.client, "support-bot-v2", PARAPHRASES[3]) == "v2 logged answer 3"


def test_concurrent_requests_each_get_their_own_answer(served: Served) -> None:
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(m, i) for m in (served.candidate, "support-bot-v1") for i in range(5)] * 3
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda job: _ask(served.client, job[0], PARAPHRASES[job[1]]), jobs))
    expected = [
        list(APPROVED.values())[i] if m == served.candidate else f"v1 logged answer {i}"
        for m, i in jobs
    ]
    assert answers == expected


def test_content_parts_and_the_last_user_message_make_the_prompt(served: Served) -> None:
    reply = served.client.chat.completions.create(
        model=served.candidate,
        messages=[
            {"role": "user", "content": PARAPHRASES[0]},
            {"role": "assistant", "content": "Anything else?"},
            {"role": "user", "content": [{"type": "text", "text": PARAPHRASES[1]}]},
        ],
    )
    assert reply.choices[0].message.content == list(APPROVED.values())[1]


def test_candidate_trained_while_serving_continues_from_its_base(served: Served) -> None:
    extra = {"Do you ship to Canada, and how long does it take?": "We ship to Canada in 5-8 days."}
    second = _train(served.tmp, served.models, "support-bot-c2", extra, base=served.candidate)
    stats = json.loads((served.models / second / "model.json").read_text())
    assert stats["retrieval_examples"] == len(APPROVED) + 1
    assert stats["retrieval_examples_from_base"] == len(APPROVED)
    assert (
        _ask(served.client, second, "how long does shipping to canada take")
        == extra[next(iter(extra))]
    )
    assert _ask(served.client, second, PARAPHRASES[2]) == list(APPROVED.values())[2]


def test_server_process_stops_on_exit(tmp_path: Path) -> None:
    with ModelServerProcess(tmp_path / "models", None) as server:
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        assert list(client.models.list()) == []
        with pytest.raises(openai.NotFoundError):
            _ask(client, "anything", "hello")
    assert server.proc is not None and server.proc.returncode == 0  # SIGTERM: a clean exit
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_server_that_cannot_start_reports_its_stderr(tmp_path: Path) -> None:
    with pytest.raises(ModelServerError, match="unsupported scheme") as err:
        ModelServerProcess(tmp_path, "mysql://nowhere/db", startup_timeout_s=60).start()
    assert "exit code 2" in str(err.value)
