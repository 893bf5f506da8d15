"""The interface language each user chose (``users.language``, empty until they choose).

Revision ID: 0003_user_language
Revises: 0002_map_history
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_user_language"
down_revision: str | None = "0002_map_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column is a plain ALTER TABLE ADD COLUMN everywhere (SQLite included):
    # existing users keep their rows and simply have no language yet.
    op.add_column("users", sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite a batch copies and drops ``users``, and with foreign keys
    # on, dropping it would cascade and delete every membership, token and session.
    # SQLite 3.35+ drops a column in place.
    op.drop_column("users", "language")
