"""Map versions and comments pinned to cells.

Revision ID: 0002_map_history
Revises: 0001_accounts
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_map_history"
down_revision: str | None = "0001_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "map_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace", sa.String(200), nullable=False),
        sa.Column("map_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_email", sa.String(254), nullable=True),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name="fk_map_versions_author_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_map_versions"),
        sa.UniqueConstraint("workspace", "map_id", "number", name="uq_map_versions_number"),
    )
    op.create_index("ix_map_versions_author_id", "map_versions", ["author_id"])
    op.create_table(
        "map_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace", sa.String(200), nullable=False),
        sa.Column("map_id", sa.String(64), nullable=False),
        sa.Column("cell", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_email", sa.String(254), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(254), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name="fk_map_comments_author_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_map_comments"),
    )
    op.create_index("ix_map_comments_author_id", "map_comments", ["author_id"])
    op.create_index("ix_map_comments_map", "map_comments", ["workspace", "map_id"])


def downgrade() -> None:
    op.drop_table("map_comments")
    op.drop_table("map_versions")
