"""The collector on a real uvicorn server in a thread, on 127.0.0.1 and a free port."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from feedback_assets.collector import CollectorConfig, create_app
from feedback_assets.collector.service import Collector
from feedback_assets.settings import load_settings
from feedback_assets.store.api_keys import ApiKeyStore


class CollectorServer:
    def __init__(self, data_dir: Path, store_url: str | None = None, **config: Any) -> None:
        env = {
            "FEEDBACK_DATA_DIR": str(data_dir),
            "FEEDBACK_EXPORT_ROOT": str(data_dir / "exports"),
        }
        if store_url:
            env["FEEDBACK_STORE_URL"] = store_url
        self.settings = load_settings(env)
        self.config = CollectorConfig(**{"delivery": "thread", "key_cache_seconds": 0, **config})
        self.app = create_app(self.config, self.settings)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        server_config = uvicorn.Config(self.app, log_level="warning", ws="none", lifespan="on")
        self._server = uvicorn.Server(server_config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def collector(self) -> Collector:
        return self.app.state.collector

    def key(self, deployment_id: str) -> str:
        return ApiKeyStore(self.collector.store).create(deployment_id)[1]

    def flush(self) -> None:
        assert self.collector.client.flush(10.0)

    def __enter__(self) -> CollectorServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the collector did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(20)
        self._sock.close()
