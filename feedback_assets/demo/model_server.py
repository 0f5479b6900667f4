"""The demo's local OpenAI-compatible model server: trained tiny models and traffic stand-ins.

    python -m feedback_assets.demo.model_server --host 127.0.0.1 --port 0 \
        --model-dir data/models --store-url sqlite:///data/feedback.db

Serves `GET /v1/models` and non-streaming `POST /v1/chat/completions`; the `model` field names a
trained model or a logged model version (see `served_models`). Unknown models get 404
`model_not_found`, malformed requests 400 naming the field; no input crashes it. Prints
`model_server listening on http://H:P/v1` when ready and exits cleanly on SIGTERM or SIGINT.
`ModelServerProcess` runs it as a subprocess for the demo and tests.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from feedback_assets.demo.model_server_process import READY_PREFIX, ModelServerProcess
from feedback_assets.demo.served_models import (
    MAX_TRAFFIC_EVENTS,
    TRAFFIC_TABLES,
    ModelCatalog,
    ModelNotFound,
)

__all__ = ["ModelServerProcess", "build_server", "main"]

MAX_BODY_BYTES = 4 << 20
_TOKEN = re.compile(r"\w+|[^\w\s]")


class RequestError(Exception):
    """A client error: HTTP status, OpenAI error type and code, and the offending field."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.param, self.code, self.kind = status, param, code, kind


def error_body(message: str, kind: str, code: str | None, param: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def count_tokens(text: str) -> int:
    """A tokenizer-free estimate: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def _text_of(content: object, field: str) -> str:
    """A message's text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise RequestError(400, f"{field}[{j}]: must be an object with a 'type'", field)
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise RequestError(400, f"{field}[{j}].text: must be a string", field)
                texts.append(part["text"])
        return "\n".join(texts)
    raise RequestError(400, f"{field}: must be a string or a list of content parts", field)


def parse_chat_request(body: object) -> tuple[str, str]:
    """(model, prompt) of a chat completion request; the prompt is the last user message."""
    if not isinstance(body, dict):
        raise RequestError(400, "body: must be a JSON object", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RequestError(400, "model: required, a non-empty string", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages: required, a non-empty array", "messages")
    prompt: str | None = None
    for i, msg in enumerate(messages):
        field = f"messages[{i}]"
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise RequestError(400, f"{field}: must be an object with a string 'role'", field)
        content = msg.get("content")
        if msg["role"] == "user":
            prompt = _text_of(content, f"{field}.content")
        elif content is not None:
            _text_of(content, f"{field}.content")
    if prompt is None:
        raise RequestError(400, "messages: no message has role 'user'", "messages")
    if body.get("stream"):
        raise RequestError(400, "stream: streaming is not supported by this server", "stream")
    n = body.get("n", 1)
    if n not in (None, 1):
        raise RequestError(400, "n: only 1 choice per request is supported", "n")
    return model, prompt


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY each reply waits ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: no prompts logged
        return

    def do_GET(self) -> None:
        self._safely(self._get)

    def do_POST(self) -> None:
        self._safely(self._post)

    def _safely(self, action: Any) -> None:
        try:
            status, payload = action()
        except RequestError as exc:
            status, payload = exc.status, error_body(str(exc), exc.kind, exc.code, exc.param)
        except Exception as exc:  # noqa: BLE001 - a bad request must never take the server down
            message = f"internal error: {type(exc).__name__}: {exc}"
            status, payload = 500, error_body(message, "server_error", None, None)
        self._send(status, payload)

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/")

    def _get(self) -> tuple[int, dict[str, Any]]:
        path = self._path()
        if path in ("/v1/models", "/models"):
            created = int(self.server.started)
            data = [
                {"id": name, "object": "model", "created": created, "owned_by": f"demo-{kind}"}
                for name, kind in self.server.catalog.names()
            ]
            return 200, {"object": "list", "data": data}
        raise RequestError(404, f"path: no route for GET {path or '/'}", "path", "not_found")

    def _post(self) -> tuple[int, dict[str, Any]]:
        path = self._path()
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._read_body()  # keep the connection usable
            raise RequestError(404, f"path: no route for POST {path or '/'}", "path", "not_found")
        model, prompt = parse_chat_request(self._json_body())
        try:
            reply = self.server.catalog.reply(model, prompt)
        except ModelNotFound as exc:
            raise RequestError(404, str(exc), "model", "model_not_found") from exc
        prompt_tokens, completion_tokens = count_tokens(prompt), count_tokens(reply.content)
        return 200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": None,
            # Not OpenAI's: how close the retrieved prompt was (clients ignore extra fields).
            "retrieval": {"similarity": round(reply.similarity, 6), "source_id": reply.source_id},
        }

    def _read_body(self) -> bytes:
        raw_length = self.headers.get("Content-Length")
        try:
            length = int(raw_length) if raw_length is not None else 0
        except ValueError as exc:
            self.close_connection = True
            raise RequestError(400, "Content-Length: not an integer", "Content-Length") from exc
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(
                413 if length > 0 else 400,
                f"body: {length} bytes; at most {MAX_BODY_BYTES} are accepted",
                "body",
            )
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> object:
        raw = self._read_body()
        if not raw:
            raise RequestError(400, "body: missing; send a JSON object", "body")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(400, f"body: not valid JSON ({exc})", "body") from exc

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client went away


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], catalog: ModelCatalog) -> None:
        super().__init__(address, _Handler)
        self.catalog = catalog
        self.started = time.time()


def build_server(host: str, port: int, catalog: ModelCatalog) -> _Server:
    return _Server((host, port), catalog)


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m feedback_assets.demo.model_server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--model-dir", required=True, type=Path, help="where trained models live")
    p.add_argument("--store-url", default=None, help="the feedback store with logged traffic")
    p.add_argument("--traffic-table", choices=TRAFFIC_TABLES, default="events")
    p.add_argument("--max-traffic-events", type=int, default=MAX_TRAFFIC_EVENTS)
    p.add_argument(
        "--no-exclude-eval",
        dest="exclude_eval",
        action="store_false",
        help="let traffic stand-ins answer from eval-set prompts too (replays reference answers)",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    try:
        catalog = ModelCatalog(
            args.model_dir,
            args.store_url,
            args.traffic_table,
            args.max_traffic_events,
            args.exclude_eval,
        )
        server = build_server(args.host, args.port, catalog)
    except (ValueError, OSError) as exc:
        print(f"model_server: {exc}", file=sys.stderr)
        return 2

    def stop(_signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever() to return, so it runs outside this main thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"{READY_PREFIX}http://{host}:{port}/v1", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        catalog.close()
    print("model_server stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
