"""Run the demo's model server as a subprocess: started on a free port, stopped on exit.

with ModelServerProcess(model_dir, store_url) as server:
    client = openai.OpenAI(base_url=server.base_url, api_key="local")
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from queue import Empty, Queue
from types import TracebackType

READY_PREFIX = "model_server listening on "
# Directory holding the feedback_assets package: `-m feedback_assets...` resolves from any cwd.
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
_STDERR_LINES = 200


class ModelServerError(RuntimeError):
    """The server did not come up: the message carries its exit code and stderr."""


class ModelServerProcess:
    """Context manager: `python -m feedback_assets.demo.model_server` on 127.0.0.1."""

    def __init__(
        self,
        model_dir: str | Path,
        store_url: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        traffic_table: str = "events",
        exclude_eval: bool = True,
        startup_timeout_s: float = 60.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.store_url = store_url
        self.host, self.port = host, port
        self.traffic_table = traffic_table
        self.exclude_eval = exclude_eval
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.base_url = ""
        self.proc: subprocess.Popen[str] | None = None
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._lines: Queue[str | None] = Queue()

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "feedback_assets.demo.model_server"]
        cmd += ["--host", self.host, "--port", str(self.port), "--model-dir", str(self.model_dir)]
        cmd += ["--traffic-table", self.traffic_table]
        if self.store_url:
            cmd += ["--store-url", self.store_url]
        if not self.exclude_eval:
            cmd.append("--no-exclude-eval")
        return cmd

    def start(self) -> ModelServerProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT_ROOT, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            self.command(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        try:
            self.base_url = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _pump_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # end of output: the process is exiting

    def _pump_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line.rstrip("\n"))

    def _wait_ready(self) -> str:
        try:
            while True:
                line = self._lines.get(timeout=self.startup_timeout_s)
                if line is None:
                    raise self._failure("exited before it was ready")
                if line.startswith(READY_PREFIX):
                    return line[len(READY_PREFIX) :].strip()
        except Empty:
            raise self._failure(f"not ready after {self.startup_timeout_s:g}s") from None

    def _failure(self, what: str) -> ModelServerError:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            code = None
        stderr = "\n".join(self._stderr) or "(no stderr)"
        return ModelServerError(f"model_server {what} (exit code {code}); stderr:\n{stderr}")

    @property
    def stderr(self) -> str:
        return "\n".join(self._stderr)

    def stop(self) -> int | None:
        """Terminate (SIGTERM), then kill after `stop_timeout_s`; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=self.stop_timeout_s)
        return proc.returncode

    def __enter__(self) -> ModelServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
