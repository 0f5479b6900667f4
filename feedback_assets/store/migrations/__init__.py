"""The feedback store's schema migrations (Alembic), run in code on the store's own engine.

A new store is created from the tables in `schema.py` and stamped at head (Alembic's recipe for
building an up-to-date database); an existing one is upgraded through `versions/`. Stores made
before Alembic carry a `schema_version` table instead: their version N is the N-th revision, which
they are stamped at before the upgrade. Concurrent first starts are serialized: PostgreSQL by an
advisory lock, SQLite by BEGIN IMMEDIATE (one writer; the others wait on the busy timeout).
A store's version is its revision's position in the history (1 = the first revision).
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from feedback_assets.store import schema

LOCATION = Path(__file__).parent
# The key the pre-Alembic migrate() locked on, so a store shared by old and new code serializes.
ADVISORY_LOCK_KEY = 74201


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's config, built in code: no alembic.ini is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection  # env.py runs on it
    return config


@functools.cache
def revisions() -> tuple[str, ...]:
    """Revision ids from the first to head."""
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    if len(heads) != 1:
        raise RuntimeError(
            f"store migrations: expected one head, found {sorted(heads)}; "
            "join them with `alembic merge heads`"
        )
    return tuple(reversed([rev.revision for rev in script.walk_revisions()]))


def head_version() -> int:
    return len(revisions())


def current_version(conn: sa.Connection) -> int:
    """The store's version: 0 for an empty database."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is not None:
        return revisions().index(revision) + 1
    if sa.inspect(conn).has_table("schema_version"):
        return int(conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar() or 0)
    return 0


def upgrade(engine: sa.Engine) -> int:
    """Bring the store to head (creating it if empty); return its version."""
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == revisions()[-1]:
            return head_version()  # the usual start: one cheap read, no lock
    with engine.connect() as conn:
        _lock(conn)
        _upgrade_locked(conn)
        version = current_version(conn)
        conn.commit()
    return version


def _lock(conn: sa.Connection) -> None:
    """Start the migration transaction holding the store's single-migrator lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # pysqlite would begin lazily and deferred; take the write lock before reading the schema.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        raise ValueError(f"store migrations: unsupported dialect {conn.dialect.name!r}")


def _upgrade_locked(conn: sa.Connection) -> None:
    config = alembic_config(conn)
    tables = set(sa.inspect(conn).get_table_names())
    if "alembic_version" not in tables:
        if "schema_version" in tables:  # made before Alembic: version N is the N-th revision
            legacy = conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar()
            command.stamp(config, revisions()[max(int(legacy or 1), 1) - 1])
        else:  # a new store: schema.py's tables are the current schema
            schema.metadata.create_all(conn)
            command.stamp(config, "head")
    command.upgrade(config, "head")
