"""Alembic's environment: runs on the connection FeedbackStore.migrate() passes in.

From the `alembic` command line (e.g. `alembic revision --autogenerate`), it opens the configured
store: `-x url=...`, else the project's settings (FEEDBACK_STORE_URL or the embedded default).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from feedback_assets.store import schema


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by table copy
    )
    with context.begin_transaction():
        context.run_migrations()


def _cli_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from feedback_assets.settings import load_settings

    return load_settings().store_url


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
elif context.is_offline_mode():
    context.configure(url=_cli_url(), target_metadata=schema.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    from feedback_assets.store.engines import make_engine as _make_engine

    engine = _make_engine(_cli_url())
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
