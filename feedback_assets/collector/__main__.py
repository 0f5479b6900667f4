"""`python -m feedback_assets.collector [--host H] [--port P]` serves the collector;
`python -m feedback_assets.collector keys create|list|revoke ...` manages its API keys."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from feedback_assets.collector.config import CollectorConfig
from feedback_assets.settings import ConfigurationError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m feedback_assets.collector")
    parser.add_argument("--host", help="address to listen on (FEEDBACK_COLLECTOR_HOST)")
    parser.add_argument("--port", type=int, help="port (FEEDBACK_COLLECTOR_PORT, 4318)")
    commands = parser.add_subparsers(dest="command")
    keys = commands.add_parser("keys", help="API keys (one deployment per key)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="print a new key for DEPLOYMENT (shown once)")
    create.add_argument("deployment", nargs="?")
    create.add_argument(
        "--erasure",
        action="store_true",
        help="a key that may only erase users (DELETE /v1/users/{id}), for no deployment",
    )
    listing = actions.add_parser("list", help="key ids, deployments, created/revoked times")
    listing.add_argument("deployment", nargs="?")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    return parser


def _time(us: int | None) -> str:
    return (
        "-" if us is None else datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")
    )


def keys_command(args: argparse.Namespace) -> int:
    from feedback_assets.domain.api_keys import ERASURE_SCOPE
    from feedback_assets.store import FeedbackStore
    from feedback_assets.store.api_keys import ApiKeyStore

    store = FeedbackStore(load_settings().store_url)
    try:
        keys = ApiKeyStore(store)
        if args.action == "create":
            if bool(args.erasure) == bool(args.deployment):
                print("keys create: give a DEPLOYMENT or --erasure (not both)", file=sys.stderr)
                return 2
            try:
                _, key = keys.create(ERASURE_SCOPE if args.erasure else args.deployment)
            except ValueError as exc:
                print(exc, file=sys.stderr)
                return 2
            print(key)  # the only time the key is shown: it is stored hashed
            return 0
        if args.action == "list":
            for row in keys.list(args.deployment):
                status = "active" if row.active else f"revoked {_time(row.revoked_us)}"
                print(f"{row.key_id}\t{row.deployment_id}\t{_time(row.created_us)}\t{status}")
            return 0
        if keys.revoke(args.key_id):
            print(f"revoked {args.key_id}")
            return 0
        print(f"no active key with id {args.key_id!r}", file=sys.stderr)
        return 1
    finally:
        store.dispose()


def serve(host: str | None, port: int | None) -> None:
    import uvicorn

    from feedback_assets.collector.app import create_app

    settings = load_settings()
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    config = CollectorConfig.from_settings(settings, **overrides)
    app = create_app(config, settings)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keys":
            return keys_command(args)
        serve(args.host, args.port)
        return 0
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
