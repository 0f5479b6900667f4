"""The peers' environment: `.venv-peers` beside the project's `.venv`, created on first use.

    python -m bench.peers      # create or refresh it (make bench does this first)

The peers (bench/peers-requirements.txt) cannot share the project's environment: Evidently
0.7.23 does not import with pandas 3. The environment is rebuilt when the requirements change
(their hash is stamped inside it). When it cannot be made (no network, no index), one line says
why and the benches still print the project's own figures, with the peers marked unavailable.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-peers"
REQUIREMENTS = Path(__file__).with_name("peers-requirements.txt")
STAMP = VENV / ".installed"
PYTHON = VENV / "bin" / "python"

_failure: str | None = None  # why creating the environment failed, once per process


def _wanted() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_ready() -> bool:
    return PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == _wanted()


def ensure() -> str | None:
    """Create or refresh the environment if needed; return why it is unavailable, else None."""
    global _failure
    if is_ready():
        return None
    if _failure is None:
        print(f"peers: installing {REQUIREMENTS.name} into {VENV} ...", flush=True)
        _failure = _create()
        if _failure is not None:
            print(
                f"peers: could not create {VENV} ({_failure}); peer comparisons are skipped, "
                "the project's own figures still run",
                flush=True,
            )
    return None if is_ready() else _failure


def python() -> Path | None:
    """The peers' interpreter, creating the environment first; None when it cannot be made."""
    return None if ensure() else PYTHON


def _create() -> str | None:
    if STAMP.exists() or (VENV.exists() and not PYTHON.exists()):
        shutil.rmtree(VENV)  # stale requirements or a broken half-made venv: start clean
    steps = {
        "python -m venv": [sys.executable, "-m", "venv", str(VENV)],
        "pip install": [str(PYTHON), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
    }
    for step, cmd in steps.items():
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{step}: {exc}"
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
            errors = [line for line in lines if "ERROR" in line] or lines
            return f"{step} failed: {errors[-1].strip()[:200]}"
    STAMP.write_text(_wanted() + "\n")
    return None


def main() -> None:
    reason = ensure()
    if reason is None:
        print(f"peers: ready ({PYTHON})")


if __name__ == "__main__":
    main()
