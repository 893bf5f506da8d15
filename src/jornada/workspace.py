"""The workspace: one directory holding settings, journey maps and (later) the event store.

``Workspace`` is the one object the CLI, the web app and the reports share::

    my-workspace/
      jornada.toml      settings (name, language, saved column mappings, ...)
      maps/             journey map files (*.yaml, *.yml, *.json)
      jornada.duckdb    events, identifiers, customers, quarantine and load history

>>> import tempfile, pathlib
>>> ws = Workspace.init(pathlib.Path(tempfile.mkdtemp()) / "ws", name="Demo")
>>> ws.settings.name, [m.id for m in ws.list_maps()]
('Demo', [])
"""

from __future__ import annotations

import os
import re
import threading
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jornada.engine import Engine
from jornada.engine.store import (
    data_version,
    ensure_store,
    rebuild_derived,
    rebuild_pending,
    store_outdated,
)
from jornada.errors import JornadaError
from jornada.events.load import ColumnMapping, LoadResult, load_events, load_profiles
from jornada.model import Journey, Language
from jornada.model.io import dump_journey
from jornada.model.problems import MapFileError
from jornada.model.validation import ValidationReport, validate_file

__all__ = ["MapEntry", "Workspace", "WorkspaceError", "WorkspaceSettings"]

CONFIG_FILE = "jornada.toml"
MAPS_DIR = "maps"
DATABASE_FILE = "jornada.duckdb"
MAP_SUFFIXES = (".yaml", ".yml", ".json")


class WorkspaceError(JornadaError):
    """A workspace that cannot be opened or changed, with a message saying what to do."""


class WorkspaceSettings(BaseModel):
    """What ``jornada.toml`` holds. Unknown keys are kept, so newer versions' settings survive."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(
        default=None, description="Stable key of this workspace (its roles in the app state)."
    )
    name: str = "jornada workspace"
    language: Language = "en"
    format_version: int = Field(default=1, ge=1)
    session_gap_minutes: int = Field(
        default=30, ge=1, description="Inactivity that ends a session when a source has none."
    )
    max_keys_per_identifier: int = Field(
        default=20,
        ge=2,
        description="An identifier shared by more customer keys than this is not used to merge.",
    )
    mappings: dict[str, ColumnMapping] = Field(
        default_factory=dict, description="Saved column mappings, by name (`--mapping NAME`)."
    )
    bind_maps_after_load: bool = Field(
        default=True,
        description="After each load, label the new events for every valid saved map and keep "
        "them, so that the next living map and report of those maps start from the labels "
        "(`jornada load --no-bind` skips it once).",
    )
    memory_limit: str | None = Field(
        default=None,
        description="Most memory the engine may hold (e.g. '4GB'); past it, it works on disk "
        "in the workspace's folder. Default: the engine's own (80% of the machine's).",
    )

    @field_validator("memory_limit")
    @classmethod
    def _memory_size(cls, value: str | None) -> str | None:
        if value is None:
            return value
        match = _MEMORY_SIZE.fullmatch(value)
        if not match:
            raise ValueError(
                f"memory_limit {value!r} is not a size: write it like '4GB' or '512MB'"
            )
        size = float(match["number"]) * _UNIT_BYTES[match["unit"].upper()]
        if size < _LEAST_MEMORY:
            # Below this the engine cannot even open the store, and every later open
            # would fail: refused here, where the setting is named.
            raise ValueError(f"memory_limit {value!r} is too small: give at least '100MB'")
        return value


_MEMORY_SIZE = re.compile(
    r"\s*(?P<number>\d+(\.\d+)?)\s*(?P<unit>B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", re.IGNORECASE
)
_UNIT_BYTES = {
    "B": 1,
    **{unit: 1000**power for power, unit in enumerate(("KB", "MB", "GB", "TB"), start=1)},
    **{unit: 1024**power for power, unit in enumerate(("KIB", "MIB", "GIB", "TIB"), start=1)},
}
_LEAST_MEMORY = 100 * 1000**2


@dataclass(frozen=True)
class MapEntry:
    """A map file of the workspace and the outcome of checking it."""

    id: str
    path: Path
    report: ValidationReport

    @property
    def journey(self) -> Journey | None:
        return self.report.journey

    @property
    def title(self) -> str:
        return self.journey.title if self.journey else self.path.name


class Workspace:
    """A jornada workspace directory. Open one with :meth:`open`, create one with :meth:`init`."""

    def __init__(self, root: Path, settings: WorkspaceSettings, *, in_memory: bool = False) -> None:
        self.root = root
        self.settings = settings
        self._in_memory = in_memory
        self._engine: Engine | None = None
        # One DuckDB connection is not safe to use from two threads at once: the web app
        # runs each request in a thread, so its routes hold this lock around queries.
        self.lock: threading.RLock = threading.RLock()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def maps_dir(self) -> Path:
        return self.root / MAPS_DIR

    # --- events -------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The workspace's engine, opened (and its store created) on first use."""
        with self.lock:
            if self._engine is None:
                path = None if self._in_memory else self.root / DATABASE_FILE
                engine = Engine.duckdb(path, memory_limit=self.settings.memory_limit)
                ensure_store(engine)
                self._engine = engine
                pending = rebuild_pending(engine)  # a load was stopped before it finished
                # A store older than a per-event fact gets it from its raw rows (the
                # identities resolved by its loads are kept).
                if pending or store_outdated(engine):
                    rebuild_derived(
                        engine,
                        resolve=self._resolve_identities if pending else None,
                        session_gap_seconds=self.settings.session_gap_minutes * 60,
                    )
            return self._engine

    def events(self) -> Any:
        """The ``events`` table as an Ibis expression (one row per event, facts included).

        >>> import tempfile, pathlib
        >>> Workspace.init(pathlib.Path(tempfile.mkdtemp()) / "w").events().count().execute()
        0
        """
        return self.engine.table("events")

    @property
    def data_version(self) -> int:
        """Changes whenever the stored events change: the key of cached results."""
        return data_version(self.engine)

    def load(
        self,
        source: Path | Any,
        mapping: ColumnMapping,
        *,
        source_name: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> LoadResult:
        """Load a file (CSV, Parquet, JSON Lines, Excel) or an Arrow table, atomically."""
        return load_events(
            self.engine,
            source,
            mapping,
            source_name=source_name,
            session_gap_seconds=self.settings.session_gap_minutes * 60,
            progress=progress,
            after_insert=self._resolve_identities,
        )

    def load_customers(self, source: Path, *, id_column: str, identities: dict[str, str]) -> int:
        """Load a customer file (CRM export): its identifiers link events of one customer,
        its other columns become customer attributes. Returns the profiles stored."""
        return load_profiles(
            self.engine,
            source,
            id_column=id_column,
            identities=identities,
            after_insert=self._resolve_identities,
            session_gap_seconds=self.settings.session_gap_minutes * 60,
        )

    def _resolve_identities(self, engine: Engine) -> None:
        from jornada.events.identity import resolve_identities

        has_profiles = engine.sql("SELECT count(*) > 0 FROM profiles").fetchone()
        resolve_identities(
            engine,
            profiles="profiles" if has_profiles and has_profiles[0] else None,
            max_keys_per_identifier=self.settings.max_keys_per_identifier,
        )

    def mapping(self, name: str) -> ColumnMapping:
        """A saved column mapping."""
        try:
            return self.settings.mappings[name]
        except KeyError:
            known = ", ".join(sorted(self.settings.mappings)) or "none saved yet"
            raise WorkspaceError(
                f"no mapping {name!r} in {self.root / CONFIG_FILE}; mappings: {known}"
            ) from None

    def update_settings(self, **values: Any) -> None:
        """Change settings (known or a table of an analysis, e.g. ``churn={...}``) and save
        them to ``jornada.toml``.

        >>> import tempfile, pathlib
        >>> ws = Workspace.init(pathlib.Path(tempfile.mkdtemp()) / "w")
        >>> ws.update_settings(session_gap_minutes=45, churn={"inactive_days": 90})
        >>> reopened = Workspace.open(ws.root).settings
        >>> reopened.session_gap_minutes, reopened.model_extra["churn"]
        (45, {'inactive_days': 90})
        """
        data = {**self.settings.model_dump(mode="json"), **values}
        try:
            self.settings = WorkspaceSettings.model_validate(data)
        except ValidationError as error:
            raise WorkspaceError(f"invalid settings: {error.errors()[0]['msg']}") from None
        if not self._in_memory:
            _write_settings(self.root / CONFIG_FILE, self.settings)

    def save_mapping(self, name: str, mapping: ColumnMapping) -> None:
        """Remember a column mapping in ``jornada.toml`` for ``--mapping NAME``."""
        mappings = {**self.settings.mappings, name: mapping}
        self.settings = self.settings.model_copy(update={"mappings": mappings})
        if not self._in_memory:
            _write_settings(self.root / CONFIG_FILE, self.settings)

    @classmethod
    def from_events(
        cls, source: Path, mapping: ColumnMapping, *, progress: Callable[[str], None] | None = None
    ) -> Workspace:
        """A throw-away workspace in memory holding one event file: how analyses run on a
        file directly (``jornada funnel events.csv --customer ...``)."""
        workspace = cls(source.parent, WorkspaceSettings(name=source.name), in_memory=True)
        workspace.load(source, mapping, progress=progress)
        return workspace

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    @classmethod
    def init(
        cls, path: str | os.PathLike[str], *, name: str | None = None, language: Language = "en"
    ) -> Workspace:
        """Create a workspace at ``path`` (an empty or missing directory) and open it."""
        path = Path(path).expanduser()
        if (path / CONFIG_FILE).exists():
            raise WorkspaceError(f"{path} is already a jornada workspace")
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path} exists and is not a directory")
        if path.exists() and any(path.iterdir()):
            raise WorkspaceError(f"{path} is not empty; choose a new directory for the workspace")
        settings = WorkspaceSettings(
            id=uuid.uuid4().hex[:12], name=name or path.name, language=language
        )
        (path / MAPS_DIR).mkdir(parents=True, exist_ok=True)
        _write_settings(path / CONFIG_FILE, settings)
        # The data and the app state are rebuilt or private; the maps and settings are shared.
        (path / ".gitignore").write_text(
            "jornada.duckdb*\napp.sqlite*\n.uploads/\n", encoding="utf-8"
        )
        return cls(path, settings)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Workspace:
        """Open an existing workspace, with a clear error when ``path`` is not one (a
        string or a path: ``Workspace.open("shop")`` in a notebook)."""
        path = Path(path).expanduser()
        config = path / CONFIG_FILE
        if not config.is_file():
            raise WorkspaceError(
                f"{path} is not a jornada workspace (no {CONFIG_FILE}); "
                f"create one with `jornada init {path}`"
            )
        try:
            data: dict[str, Any] = tomllib.loads(config.read_text("utf-8"))
            settings = WorkspaceSettings.model_validate(data)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise WorkspaceError(f"{config}: not valid TOML: {error}") from None
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise WorkspaceError(f"{config}: {where}: {first['msg']}") from None
        return cls(path, settings)

    def map_files(self) -> list[Path]:
        if not self.maps_dir.is_dir():
            return []
        return sorted(
            p for p in self.maps_dir.iterdir() if p.suffix.lower() in MAP_SUFFIXES and p.is_file()
        )

    def list_maps(self) -> list[MapEntry]:
        """Every map file, checked. Invalid files are listed too, with their problems."""
        return [MapEntry(path.stem, path, validate_file(path)) for path in self.map_files()]

    def map_path(self, map_id: str) -> Path:
        """The file of map ``map_id`` (the file name without suffix)."""
        for path in self.map_files():
            if path.stem == map_id:
                return path
        known = ", ".join(p.stem for p in self.map_files()) or "none yet"
        raise WorkspaceError(f"no map {map_id!r} in {self.maps_dir}; maps: {known}")

    def load_map(self, map_id: str) -> Journey:
        """The journey of map ``map_id``; :class:`MapFileError` when the file has problems."""
        report = validate_file(self.map_path(map_id))
        if report.journey is None:
            raise MapFileError(list(report.problems))
        return report.journey

    def save_map(self, journey: Journey) -> Path:
        """Write ``journey`` to ``maps/<id>.yaml`` (replacing that file atomically)."""
        self.maps_dir.mkdir(exist_ok=True)
        existing = [p for p in self.map_files() if p.stem == journey.id]
        path = existing[0] if existing else self.maps_dir / f"{journey.id}.yaml"
        dump_journey(journey, path)
        return path


def _write_settings(path: Path, settings: WorkspaceSettings) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    data = settings.model_dump(mode="json", exclude_none=True)
    data["mappings"] = {
        name: mapping.model_dump(mode="json", exclude_defaults=True)
        for name, mapping in settings.mappings.items()
    }
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    tmp.replace(path)
