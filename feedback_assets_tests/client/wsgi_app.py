"""A tiny WSGI app for the gunicorn --preload test: the client is made, and used, in the master
before it forks its workers (FEEDBACK_STORE_URL and FEEDBACK_DATA_DIR come from the test)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from feedback_assets.client import FeedbackClient

PER_REQUEST = 5
CLIENT = FeedbackClient(flush_interval=0.2)
CLIENT.log_inference(deployment_id="gunicorn", prompt="master", response="r")  # fills the pool


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    ids = [
        CLIENT.log_inference(deployment_id="gunicorn", prompt=f"worker {os.getpid()}", response="")
        for _ in range(PER_REQUEST)
    ]
    body = orjson.dumps({"pid": os.getpid(), "ids": ids})
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
