"""The tables of the app state (SQLAlchemy 2 typed ORM).

Every table here has an Alembic migration in ``migrations/versions``; a test compares
these models with the migrated database, so a model changed without a migration fails.

Times are stored as naive UTC and read back as aware UTC (:class:`UTCDateTime`), the
same on SQLite (no time zones) and PostgreSQL.

>>> sorted(Base.metadata.tables)
['api_tokens', 'login_attempts', 'login_sessions', 'map_comments', 'map_versions', 'memberships', 'users']
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ROLES",
    "ApiToken",
    "Base",
    "LoginAttempt",
    "LoginSession",
    "MapComment",
    "MapVersion",
    "Membership",
    "UTCDateTime",
    "User",
]

ROLES = ("viewer", "editor", "admin")
"""The roles a user can hold on a workspace, weakest first."""

# Named constraints, so that later migrations can alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime, stored as naive UTC (SQLite keeps no time zone).

    >>> column = UTCDateTime()
    >>> stored = column.process_bind_param(
    ...     dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=-3))), None
    ... )
    >>> stored
    datetime.datetime(2026, 1, 1, 12, 0)
    >>> column.process_result_value(stored, None).isoformat()
    '2026-01-01T12:00:00+00:00'
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect | None) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError("app-state times must be aware datetimes")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect | None) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


class User(Base):
    """A person who signs in. ``email`` is stored lower-case and is the login name."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime]
    password_changed_at: Mapped[dt.datetime]
    last_login_at: Mapped[dt.datetime | None]
    # The interface language the user chose (``en``, ``pt-BR``, ``es``); ``None`` until
    # they choose one. No CHECK constraint: a new language must not need a migration.
    language: Mapped[str | None] = mapped_column(String(16))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class Membership(Base):
    """The role of a user on one workspace (keyed by the workspace's key, see
    :func:`jornada.accounts.workspace_key`)."""

    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'editor', 'admin')", name="role"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    workspace: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[dt.datetime]

    user: Mapped[User] = relationship(back_populates="memberships")


class ApiToken(Base):
    """A token for scripts (``Authorization: Bearer ...``). Only its SHA-256 is kept:
    tokens are long random strings, so a fast hash is enough and a stolen database
    holds no usable token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]


class LoginSession(Base):
    """A signed-in browser. The cookie holds a random id; the table holds its SHA-256,
    so the database alone cannot be used to hijack a session."""

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class LoginAttempt(Base):
    """One sign-in attempt, kept for the length of the rate-limit window."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    succeeded: Mapped[bool] = mapped_column(Boolean)


class MapVersion(Base):
    """One saved version of a map of a workspace: the map file's YAML text as saved,
    who saved it and when. ``number`` counts 1, 2, 3... per map.

    The author's e-mail is copied, so the history still names them after their
    account is deleted (``author_id`` then becomes null).
    """

    __tablename__ = "map_versions"
    __table_args__ = (
        UniqueConstraint("workspace", "map_id", "number", name="uq_map_versions_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace: Mapped[str] = mapped_column(String(200))
    map_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    author_email: Mapped[str | None] = mapped_column(String(254))
    message: Mapped[str] = mapped_column(String(500), default="")
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class MapComment(Base):
    """A comment pinned to one cell of a map (``cell`` names it by ids, see
    :func:`jornada.accounts.comments.check_cell`); resolvable."""

    __tablename__ = "map_comments"
    __table_args__ = (Index("ix_map_comments_map", "workspace", "map_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace: Mapped[str] = mapped_column(String(200))
    map_id: Mapped[str] = mapped_column(String(64))
    cell: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    author_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(254))
