"""A small OpenAI-compatible HTTP server for tests (real sockets, no mocks).

Usage::

    with OpenAICompatServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        server.script("POST", "/v1/chat/completions", [(429, {"error": {...}}, 0.0)])
        client.chat.completions.create(...)
        assert server.calls("/chat/completions") == 1

Routes: chat completions, embeddings, files (upload/get/content), fine-tuning jobs
(create/get/cancel). Scripted replies (``script``) are consumed FIFO per route before the
default handler answers. ``requests`` records every request as
``{"method", "path", "json" (parsed JSON body or None), "headers" (lower-cased names)}``.
"""

import base64
import email.parser
import email.policy
import hashlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

DEFAULT_JUDGE_CONTENT = '{"score": 4, "pass": true, "reason": "ok"}'
EMBEDDING_DIM = 64


def _default_chat_handler(_request: dict) -> str:
    return DEFAULT_JUDGE_CONTENT


def hash_embedding(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    """Deterministic unit vector derived from sha256(text); same text -> same vector."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dim)
    vec /= np.linalg.norm(vec)
    return [float(x) for x in vec]


def _error_body(message: str, code: str = "invalid_request") -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


class OpenAICompatServer:
    """ThreadingHTTPServer on 127.0.0.1:0 in a daemon thread; use as a context manager."""

    def __init__(self, chat_handler: Callable[[dict], str] | None = None) -> None:
        self.chat_handler: Callable[[dict], str] = chat_handler or _default_chat_handler
        self.requests: list[dict] = []
        self.finetune_outcome: str = "succeeded"
        self.files: dict[str, dict] = {}
        self.file_bytes: dict[str, bytes] = {}
        self.jobs: dict[str, dict] = {}
        self._scripts: dict[tuple[str, str], deque[tuple[int, Any, float]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> "OpenAICompatServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_GET(self) -> None:
                server._dispatch(self, "GET")

            def do_POST(self) -> None:
                server._dispatch(self, "POST")

            def do_DELETE(self) -> None:
                server._dispatch(self, "DELETE")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "OpenAICompatServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test API --------------------------------------------------------------------
    def script(self, method: str, path: str, responses: list[tuple[int, Any, float]]) -> None:
        """Queue (status, body, delay_s) replies for METHOD PATH (path incl. /v1, no query)."""
        with self._lock:
            self._scripts[(method.upper(), path)].extend(responses)

    def calls(self, path_suffix: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["path"].endswith(path_suffix))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._scripts.clear()

    # ---- internals -------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        ctype = h.headers.get("Content-Type", "")
        body_json: Any = None
        if raw and ctype.startswith("application/json"):
            try:
                body_json = json.loads(raw)
            except ValueError:
                body_json = None
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "json": body_json,
                    "headers": {k.lower(): v for k, v in h.headers.items()},
                }
            )
            queue = self._scripts.get((method, path))
            scripted = queue.popleft() if queue else None
        if scripted is not None:
            status, body, delay = scripted
            if delay:
                time.sleep(delay)
            self._send(h, status, body)
            return
        try:
            status, body = self._default(method, path, body_json, raw, ctype)
        except Exception as exc:  # a test-server bug must surface as a 500, not a hang
            status, body = 500, _error_body(f"test server error: {exc!r}", "server_error")
        self._send(h, status, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        if isinstance(body, bytes):
            payload, ctype = body, "application/octet-stream"
        elif isinstance(body, str):
            payload, ctype = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            payload, ctype = json.dumps(body).encode("utf-8"), "application/json"
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # the client gave up (timeout test); nothing to deliver
            pass

    def _default(
        self, method: str, path: str, body: Any, raw: bytes, ctype: str
    ) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts[:1] != ["v1"]:
            return 404, _error_body(f"unknown path {path}", "not_found")
        route = parts[1:]
        if method == "POST" and route == ["chat", "completions"]:
            return 200, self._chat(body or {})
        if method == "POST" and route == ["embeddings"]:
            return 200, self._embeddings(body or {})
        if method == "POST" and route == ["files"]:
            return self._upload(raw, ctype)
        if method == "GET" and len(route) == 2 and route[0] == "files":
            meta = self.files.get(route[1])
            return (200, meta) if meta else (404, _error_body("no such file", "not_found"))
        if method == "GET" and len(route) == 3 and route[0] == "files" and route[2] == "content":
            data = self.file_bytes.get(route[1])
            return (200, data) if data is not None else (404, _error_body("no such file"))
        if route[:2] == ["fine_tuning", "jobs"]:
            return self._jobs(method, route[2:], body or {})
        return 404, _error_body(f"unknown route {method} {path}", "not_found")

    def _chat(self, body: dict) -> dict:
        content = self.chat_handler(body)
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        prompt_tokens = max(1, prompt_chars // 4)
        completion_tokens = max(1, len(content) // 4)
        return {
            "id": self._new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _embeddings(self, body: dict) -> dict:
        inputs = body.get("input", [])
        if isinstance(inputs, str):
            inputs = [inputs]
        as_b64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(inputs):
            vec = hash_embedding(str(text))
            emb: Any = (
                base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode("ascii")
                if as_b64
                else vec
            )
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(max(1, len(str(t)) // 4) for t in inputs)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "test-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _upload(self, raw: bytes, ctype: str) -> tuple[int, Any]:
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + raw
        )
        fields: dict[str, str] = {}
        filename, content = "upload", b""
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename():
                filename, content = str(part.get_filename()), payload
            elif name:
                fields[str(name)] = payload.decode("utf-8")
        file_id = self._new_id("file")
        meta = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": fields.get("purpose", "fine-tune"),
            "status": "processed",
        }
        with self._lock:
            self.files[file_id] = meta
            self.file_bytes[file_id] = content
        return 200, meta

    def _jobs(self, method: str, rest: list[str], body: dict) -> tuple[int, Any]:
        if method == "POST" and not rest:
            if body.get("training_file") not in self.files:
                return 400, _error_body("training_file not found", "invalid_file")
            job_id = self._new_id("ftjob")
            job = {
                "id": job_id,
                "object": "fine_tuning.job",
                "created_at": int(time.time()),
                "model": body.get("model", "test-model"),
                "organization_id": "org-test",
                "status": "queued",
                "training_file": body["training_file"],
                "validation_file": body.get("validation_file"),
                "hyperparameters": body.get("hyperparameters") or {"n_epochs": "auto"},
                "result_files": [],
                "seed": int(body.get("seed") or 0),
                "fine_tuned_model": None,
                "finished_at": None,
                "error": None,
                "trained_tokens": None,
                "suffix": body.get("suffix"),
            }
            with self._lock:
                self.jobs[job_id] = job
            return 200, job
        if not rest or rest[0] not in self.jobs:
            return 404, _error_body("no such job", "not_found")
        job_id = rest[0]
        with self._lock:
            job = self.jobs[job_id]
            if method == "POST" and rest[1:] == ["cancel"]:
                if job["status"] not in ("succeeded", "failed"):
                    job["status"] = "cancelled"
                    job["finished_at"] = int(time.time())
                return 200, dict(job)
            if method == "GET" and len(rest) == 1:
                self._advance(job)
                return 200, dict(job)
        return 404, _error_body("unknown job route", "not_found")

    def _advance(self, job: dict) -> None:
        """queued -> running -> succeeded|failed over successive GETs (lock held)."""
        if job["status"] == "queued":
            job["status"] = "running"
        elif job["status"] == "running":
            job["finished_at"] = int(time.time())
            if self.finetune_outcome == "failed":
                job["status"] = "failed"
                job["error"] = {
                    "code": "training_failed",
                    "message": "scripted fine-tune failure",
                    "param": None,
                }
            else:
                job["status"] = "succeeded"
                suffix = job.get("suffix") or "test"
                job["fine_tuned_model"] = f"ft:{job['model']}:org-test:{suffix}:{job['id']}"
                job["trained_tokens"] = 1000
