"""Where the app state lives, and opening it: a database URL, migrated on open.

The URL comes from ``--state URL``, else ``$JORNADA_STATE_URL``, else the SQLite file
``app.sqlite`` inside the workspace directory (:func:`state_url`). SQLite is the
default; a PostgreSQL URL (``postgresql://user@host/db``) works the same way.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> state = AppState.open(f"sqlite:///{root / 'app.sqlite'}")
>>> state.revision() == head_revision()
True
>>> state.close()
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from jornada.accounts.errors import AccountError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "DEFAULT_STATE_FILE",
    "MIGRATIONS_DIR",
    "STATE_ENV",
    "VERSION_TABLE",
    "AppState",
    "head_revision",
    "migration_config",
    "state_url",
]

STATE_ENV = "JORNADA_STATE_URL"
DEFAULT_STATE_FILE = "app.sqlite"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "jornada_alembic_version"
"""Alembic's version table, named so that a PostgreSQL database can be shared."""


def state_url(workspace_root: Path, explicit: str | None = None) -> str:
    """The state database URL: ``explicit``, else ``$JORNADA_STATE_URL``, else
    ``sqlite:///<workspace>/app.sqlite``.

    >>> state_url(Path("/srv/shop"), "postgresql://app@db/jornada")
    'postgresql://app@db/jornada'
    """
    chosen = explicit or os.environ.get(STATE_ENV)
    if chosen:
        return chosen
    return f"sqlite:///{workspace_root.expanduser().resolve() / DEFAULT_STATE_FILE}"


def _driver_url(url: str) -> URL:
    """The URL SQLAlchemy needs: ``postgresql://`` uses psycopg (3), the driver installed.

    >>> _driver_url("postgres://u@h/db").drivername
    'postgresql+psycopg'
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise AccountError(
            f"{_shown(url)} is not a database URL; use sqlite:///path/app.sqlite or "
            "postgresql://user@host/database"
        ) from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise AccountError(
            f"{_shown(url)}: the app state lives in SQLite or PostgreSQL; "
            "use sqlite:///path/app.sqlite or postgresql://user@host/database"
        )
    return parsed


def _shown(url: str) -> str:
    """A URL fit for messages: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the state URL"


def migration_config() -> Config:
    """Alembic's configuration, built in code: the scripts ship inside this package."""
    from alembic.config import Config  # Alembic loads only when a database is opened

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of jornada."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migration_config()).get_current_head()
    assert head is not None
    return head


def _prepare_sqlite_file(url: URL) -> None:
    """Create the SQLite file readable by its owner only: it holds password hashes."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        return
    if not path.parent.is_dir():
        raise AccountError(
            f"cannot create the app state {path}: the directory {path.parent} does not exist"
        )
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys make deletes cascade (SQLite leaves them off by default); WAL lets
    # requests read while another one writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AppState:
    """The app-state database: users, roles, tokens, sessions, login attempts.

    Open it with :meth:`open` (which runs pending migrations); use :meth:`session` for
    one transaction. ``clock`` gives "now" (aware UTC) to everything in
    ``jornada.accounts``.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"AppState({self.url!r})"

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @classmethod
    def open(
        cls, url: str, *, migrate: bool = True, engine_options: Mapping[str, Any] | None = None
    ) -> AppState:
        """Connect to ``url`` and bring its tables up to date (unless ``migrate=False``)."""
        parsed = _driver_url(url)
        options: dict[str, Any] = dict(engine_options or {})
        if parsed.get_backend_name() == "sqlite":
            _prepare_sqlite_file(parsed)
            # Requests run on a thread pool; each connection waits for a writer up to 15 s.
            options.setdefault("connect_args", {"check_same_thread": False, "timeout": 15})
        else:
            options.setdefault("pool_pre_ping", True)
        try:
            engine = create_engine(parsed, **options)
        except NoSuchModuleError:
            raise AccountError(f"{_shown(url)}: no database driver for this URL") from None
        except ImportError as error:
            raise AccountError(
                f"{_shown(url)}: its database driver is not installed ({error.name}); "
                "for PostgreSQL: pip install 'psycopg[binary]'"
            ) from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        state = cls(engine)
        if migrate:
            try:
                state.migrate()
            except OperationalError as error:
                engine.dispose()
                reason = str(error.orig).strip().splitlines()[0]  # one line, for the CLI
                raise AccountError(f"cannot open the app state {_shown(url)}: {reason}") from None
        return state

    def migrate(self) -> None:
        """Run the migrations this database has not had yet (idempotent)."""
        from alembic import command

        config = migration_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        """The migration the database is at (``None`` before the first)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an error."""
        with self._sessions.begin() as db:
            yield db

    def now(self) -> dt.datetime:
        return self.clock()

    def close(self) -> None:
        self.engine.dispose()
