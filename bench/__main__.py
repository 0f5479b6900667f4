"""`python -m bench [--quick]`: run every bench/bench_*.py, printing their tables in turn.

Modules exposing `main(quick: bool = False)` are called in this process; the others run as
`python -m bench.<name> [--quick]` subprocesses. A failing bench is reported, the rest still run.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import subprocess
import sys
import traceback
from pathlib import Path


def _takes_quick(fn: object) -> bool:
    try:
        return "quick" in inspect.signature(fn).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def run_all(quick: bool, only: list[str] | None = None) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if only:
        names = [n for n in names if n in only or n.removeprefix("bench_") in only]
    failed: list[str] = []
    for name in names:
        print(f"\n# bench.{name}{' --quick' if quick else ''}", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            main = getattr(module, "main", None)
            if main is not None and _takes_quick(main):
                main(quick=quick)
            else:
                cmd = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if quick else [])]
                if subprocess.run(cmd, check=False).returncode != 0:
                    failed.append(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        sys.stdout.flush()
    if failed:
        print(f"\nfailed benches: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
    parser.add_argument("names", nargs="*", help="only these benches (e.g. ingest drift)")
    args = parser.parse_args()
    sys.exit(run_all(args.quick, args.names or None))


if __name__ == "__main__":
    main()
