"""The embedded hash key is created atomically: processes starting together on a fresh data dir
all read the same complete key, and a reader waits for a key file still being written."""

from __future__ import annotations

import multiprocessing as mp
import stat
import threading
import time
from pathlib import Path
from typing import Any

from feedback_assets.settings import resolve_hash_key

FORK = mp.get_context("fork")
PROCESSES = 6
ROUNDS = 40


def _resolve(data_dir: str, barrier: Any, out: Any) -> None:
    barrier.wait(timeout=60)
    try:
        out.put(resolve_hash_key(Path(data_dir), production=False, env_value="").decode())
    except Exception as exc:
        out.put(f"error: {type(exc).__name__}: {exc}")


def test_concurrent_first_starts_share_one_complete_key(tmp_path: Path) -> None:
    for n in range(ROUNDS):
        data_dir = tmp_path / f"round-{n}"  # fresh, not yet created
        barrier, out = FORK.Barrier(PROCESSES), FORK.Queue()
        procs = [
            FORK.Process(target=_resolve, args=(str(data_dir), barrier, out))
            for _ in range(PROCESSES)
        ]
        for p in procs:
            p.start()
        keys = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert len(set(keys)) == 1, keys
        assert len(keys[0]) == 64 and int(keys[0], 16) >= 0
        key_file = data_dir / "hash_key"
        assert key_file.read_text() == keys[0]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert [p.name for p in data_dir.iterdir()] == ["hash_key"]  # no temp files left


def test_a_reader_waits_for_a_key_being_written(tmp_path: Path) -> None:
    key_file = tmp_path / "hash_key"
    key_file.touch(mode=0o600)  # created first, written after (as older versions did)

    def write_later() -> None:
        time.sleep(0.3)
        key_file.write_text("k" * 64)

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        assert resolve_hash_key(tmp_path, production=False, env_value="") == b"k" * 64
    finally:
        writer.join()
