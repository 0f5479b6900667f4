"""Self-test of the OpenAI-compatible test server with the real openai client."""

import base64
import time

import httpx
import numpy as np
import openai
import pytest

from feedback_assets_tests.openai_server import DEFAULT_JUDGE_CONTENT, OpenAICompatServer


@pytest.fixture
def server():
    with OpenAICompatServer() as srv:
        yield srv


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=5)


def test_chat_default_and_custom_handler(server, client):
    out = client.chat.completions.create(
        model="judge-1", messages=[{"role": "user", "content": "hello"}]
    )
    assert out.choices[0].message.content == DEFAULT_JUDGE_CONTENT
    assert out.usage is not None and out.usage.total_tokens > 0
    server.chat_handler = lambda req: "echo:" + req["messages"][-1]["content"]
    out = client.chat.completions.create(
        model="judge-1", messages=[{"role": "user", "content": "abc"}]
    )
    assert out.choices[0].message.content == "echo:abc"
    assert server.calls("/chat/completions") == 2
    assert server.requests[0]["json"]["model"] == "judge-1"
    assert server.requests[0]["headers"]["authorization"] == "Bearer sk-test"


def test_scripted_errors_then_default(server, client):
    server.script(
        "POST",
        "/v1/chat/completions",
        [(429, {"error": {"message": "slow down"}}, 0.0), (500, "boom", 0.0)],
    )
    msgs = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=msgs)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=msgs)
    assert client.chat.completions.create(model="m", messages=msgs).choices[0].message.content
    assert server.calls("/chat/completions") == 3


def test_scripted_delay_causes_timeout(server):
    server.script("POST", "/v1/chat/completions", [(200, {}, 1.0)])
    fast = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        fast.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert time.monotonic() - t0 < 1.0


def test_embeddings_deterministic(server, client):
    a = client.embeddings.create(model="e", input=["one", "two", "one"])
    vecs = [d.embedding for d in a.data]
    assert len(vecs) == 3 and all(len(v) == 64 for v in vecs)
    assert vecs[0] == vecs[2] and vecs[0] != vecs[1]
    b = client.embeddings.create(model="e", input="one", encoding_format="base64")
    raw = base64.b64decode(b.data[0].embedding)
    assert np.frombuffer(raw, dtype="<f4").tolist() == pytest.approx(vecs[0], abs=1e-6)


def test_files_and_fine_tuning_success(server, client):
    f = client.files.create(file=("train.jsonl", b'{"a": 1}\n'), purpose="fine-tune")
    assert f.id.startswith("file-") and f.bytes == 9 and f.filename == "train.jsonl"
    assert f.purpose == "fine-tune" and f.status == "processed"
    assert client.files.retrieve(f.id).id == f.id
    assert server.file_bytes[f.id] == b'{"a": 1}\n'
    job = client.fine_tuning.jobs.create(model="base-model", training_file=f.id)
    assert job.id.startswith("ftjob-") and job.status == "queued"
    statuses = [client.fine_tuning.jobs.retrieve(job.id).status for _ in range(3)]
    assert statuses == ["running", "succeeded", "succeeded"]
    final = client.fine_tuning.jobs.retrieve(job.id)
    assert final.fine_tuned_model and final.fine_tuned_model.startswith("ft:")


def test_fine_tuning_failure_and_cancel(server, client):
    server.finetune_outcome = "failed"
    f = client.files.create(file=("t.jsonl", b"{}\n"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="m", training_file=f.id)
    client.fine_tuning.jobs.retrieve(job.id)
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "training_failed"
    job2 = client.fine_tuning.jobs.create(model="m", training_file=f.id)
    assert client.fine_tuning.jobs.cancel(job2.id).status == "cancelled"
    assert client.fine_tuning.jobs.retrieve(job2.id).status == "cancelled"
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-missing")


def test_unknown_route_is_404(server):
    r = httpx.get(server.base_url + "/nope")
    assert r.status_code == 404
