"""The history of the maps: every save is a version (the map file's text, the author,
the time), and comments are pinned to cells of a map.

Functions take the :class:`AppState` and the workspace key, and return frozen
dataclasses. The map text itself is not checked here (the web layer validates maps);
this module only keeps what it is given.

>>> import tempfile, pathlib
>>> from jornada.accounts.state import AppState
>>> state = AppState.open(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'app.sqlite'}")
>>> first = save_version(state, "shop", "cx", "id: cx\\n", author=None, message="imported")
>>> second = save_version(state, "shop", "cx", "id: cx\\ntitle: CX\\n", author=None)
>>> [v.number for v in list_versions(state, "shop", "cx")]
[2, 1]
>>> get_version(state, "shop", "cx", 1).content
'id: cx\\n'
>>> note = add_comment(state, "shop", "cx", "stage:a/touchpoint:b/lane:actions", "Check", author=None)
>>> [c.body for c in list_comments(state, "shop", "cx")]
['Check']
>>> resolve_comment(state, "shop", "cx", note.id, author=None).resolved
True
>>> state.close()
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select

from jornada.accounts.errors import AccountError
from jornada.accounts.models import MapComment, MapVersion, User
from jornada.accounts.state import AppState

__all__ = [
    "MAX_COMMENT",
    "MAX_MESSAGE",
    "CommentInfo",
    "UnknownCommentError",
    "UnknownVersionError",
    "VersionInfo",
    "add_comment",
    "check_cell",
    "get_version",
    "latest_version",
    "list_comments",
    "list_versions",
    "resolve_comment",
    "save_version",
]

MAX_COMMENT = 4000
MAX_MESSAGE = 500
_CELL = re.compile(
    r"^(map|persona:[A-Za-z0-9][\w.-]{0,63}|stage:[A-Za-z0-9][\w.-]{0,63}"
    r"(/touchpoint:[A-Za-z0-9][\w.-]{0,63})?(/lane:[A-Za-z0-9][\w.-]{0,63})?)$"
)


class UnknownVersionError(AccountError):
    """The map has no version with this number."""


class UnknownCommentError(AccountError):
    """The map has no comment with this id."""


@dataclass(frozen=True)
class VersionInfo:
    """One saved version; ``content`` is the map's YAML text as saved."""

    map_id: str
    number: int
    author: str | None
    message: str
    created_at: dt.datetime
    content: str

    def to_dict(self, *, with_content: bool = False) -> dict[str, object]:
        data: dict[str, object] = {
            "number": self.number,
            "author": self.author,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
        }
        if with_content:
            data["content"] = self.content
        return data


@dataclass(frozen=True)
class CommentInfo:
    """A comment pinned to ``cell`` of a map."""

    id: int
    map_id: str
    cell: str
    body: str
    author: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: str | None

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "cell": self.cell,
            "body": self.body,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "resolved": self.resolved,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_by": self.resolved_by,
        }


def check_cell(cell: str) -> str:
    """A cell reference, checked: ``map``, ``persona:ID``, ``stage:ID``,
    ``stage:ID/touchpoint:ID`` and either followed by ``/lane:ID``.

    >>> check_cell("stage:awareness/touchpoint:ads/lane:actions")
    'stage:awareness/touchpoint:ads/lane:actions'
    >>> check_cell("stages[0]")
    Traceback (most recent call last):
    ...
    jornada.accounts.errors.AccountError: 'stages[0]' is not a cell of a map; use map, persona:ID, stage:ID, stage:ID/touchpoint:ID, optionally followed by /lane:ID
    """
    if not _CELL.fullmatch(cell) or len(cell) > 300:
        raise AccountError(
            f"{cell[:80]!r} is not a cell of a map; use map, persona:ID, stage:ID, "
            "stage:ID/touchpoint:ID, optionally followed by /lane:ID"
        )
    return cell


def _email(state: AppState, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    with state.session() as db:
        return db.scalar(select(User.email).where(User.id == user_id))


def _version(row: MapVersion) -> VersionInfo:
    return VersionInfo(
        row.map_id, row.number, row.author_email, row.message, row.created_at, row.content
    )


def save_version(
    state: AppState,
    workspace: str,
    map_id: str,
    content: str,
    *,
    author: int | None,
    message: str = "",
) -> VersionInfo:
    """Store ``content`` as the next version of ``map_id`` (numbered from 1)."""
    email = _email(state, author)
    with state.session() as db:
        latest = db.scalar(
            select(func.max(MapVersion.number)).where(
                MapVersion.workspace == workspace, MapVersion.map_id == map_id
            )
        )
        row = MapVersion(
            workspace=workspace,
            map_id=map_id,
            number=(latest or 0) + 1,
            author_id=author,
            author_email=email,
            message=message[:MAX_MESSAGE],
            content=content,
            created_at=state.now(),
        )
        db.add(row)
        db.flush()
        return _version(row)


def list_versions(state: AppState, workspace: str, map_id: str) -> list[VersionInfo]:
    """The versions of ``map_id``, newest first."""
    with state.session() as db:
        rows = db.scalars(
            select(MapVersion)
            .where(MapVersion.workspace == workspace, MapVersion.map_id == map_id)
            .order_by(MapVersion.number.desc())
        )
        return [_version(row) for row in rows]


def latest_version(state: AppState, workspace: str, map_id: str) -> VersionInfo | None:
    """The newest version of ``map_id``, or ``None`` when it was never saved here."""
    with state.session() as db:
        row = db.scalar(
            select(MapVersion)
            .where(MapVersion.workspace == workspace, MapVersion.map_id == map_id)
            .order_by(MapVersion.number.desc())
            .limit(1)
        )
        return _version(row) if row is not None else None


def get_version(state: AppState, workspace: str, map_id: str, number: int) -> VersionInfo:
    """Version ``number`` of ``map_id``; :class:`UnknownVersionError` when there is none."""
    with state.session() as db:
        row = db.scalar(
            select(MapVersion).where(
                MapVersion.workspace == workspace,
                MapVersion.map_id == map_id,
                MapVersion.number == number,
            )
        )
        if row is None:
            raise UnknownVersionError(f"map {map_id!r} has no version {number}")
        return _version(row)


def _comment(row: MapComment) -> CommentInfo:
    return CommentInfo(
        row.id,
        row.map_id,
        row.cell,
        row.body,
        row.author_email,
        row.created_at,
        row.resolved_at,
        row.resolved_by,
    )


def add_comment(
    state: AppState, workspace: str, map_id: str, cell: str, body: str, *, author: int | None
) -> CommentInfo:
    """Pin a comment to ``cell`` of ``map_id``."""
    text = body.strip()
    if not text:
        raise AccountError("a comment needs some text")
    if len(text) > MAX_COMMENT:
        raise AccountError(f"a comment has at most {MAX_COMMENT} characters, this one {len(text)}")
    check_cell(cell)
    email = _email(state, author)
    with state.session() as db:
        row = MapComment(
            workspace=workspace,
            map_id=map_id,
            cell=cell,
            body=text,
            author_id=author,
            author_email=email,
            created_at=state.now(),
            resolved_at=None,
            resolved_by=None,
        )
        db.add(row)
        db.flush()
        return _comment(row)


def list_comments(
    state: AppState, workspace: str, map_id: str, *, include_resolved: bool = True
) -> list[CommentInfo]:
    """The comments on ``map_id``, oldest first."""
    with state.session() as db:
        query = select(MapComment).where(
            MapComment.workspace == workspace, MapComment.map_id == map_id
        )
        if not include_resolved:
            query = query.where(MapComment.resolved_at.is_(None))
        rows = db.scalars(query.order_by(MapComment.created_at, MapComment.id))
        return [_comment(row) for row in rows]


def resolve_comment(
    state: AppState, workspace: str, map_id: str, comment_id: int, *, author: int | None
) -> CommentInfo:
    """Mark a comment resolved (resolving twice keeps the first time)."""
    email = _email(state, author)
    with state.session() as db:
        row = db.scalar(
            select(MapComment).where(
                MapComment.id == comment_id,
                MapComment.workspace == workspace,
                MapComment.map_id == map_id,
            )
        )
        if row is None:
            raise UnknownCommentError(f"map {map_id!r} has no comment {comment_id}")
        if row.resolved_at is None:
            row.resolved_at = state.now()
            row.resolved_by = email
        db.flush()
        return _comment(row)
