"""Alembic's environment for the app state: runs on the connection jornada passes in.

Migrations run in code (:meth:`jornada.accounts.state.AppState.migrate`), never from an
``alembic.ini``; the version table is ``jornada_alembic_version``.
"""

from __future__ import annotations

from alembic import context

from jornada.accounts.models import Base
from jornada.accounts.state import VERSION_TABLE


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run the app-state migrations through AppState.migrate()")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: later migrations copy the table instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


# Alembic sets up `context` before it runs this file; a plain import (pytest collecting
# doctests) must do nothing.
if hasattr(context, "config"):
    run_migrations()
