"""The workspace: one directory holding settings, journey maps and (later) the event store.

``Workspace`` is the one object the CLI, the web app and the reports share::

    my-workspace/
      jornada.toml      settings (name, language, saved column mappings, ...)
      maps/             journey map files (*.yaml, *.yml, *.json)

>>> import tempfile, pathlib
>>> ws = Workspace.init(pathlib.Path(tempfile.mkdtemp()) / "ws", name="Demo")
>>> ws.settings.name, [m.id for m in ws.list_maps()]
('Demo', [])
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jornada.errors import JornadaError
from jornada.model import Journey, Language
from jornada.model.io import dump_journey
from jornada.model.problems import MapFileError
from jornada.model.validation import ValidationReport, validate_file

__all__ = ["MapEntry", "Workspace", "WorkspaceError", "WorkspaceSettings"]

CONFIG_FILE = "jornada.toml"
MAPS_DIR = "maps"
MAP_SUFFIXES = (".yaml", ".yml", ".json")


class WorkspaceError(JornadaError):
    """A workspace that cannot be opened or changed, with a message saying what to do."""


class WorkspaceSettings(BaseModel):
    """What ``jornada.toml`` holds. Unknown keys are kept, so newer versions' settings survive."""

    model_config = ConfigDict(extra="allow")

    name: str = "jornada workspace"
    language: Language = "en"
    format_version: int = Field(default=1, ge=1)


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

    def __init__(self, root: Path, settings: WorkspaceSettings) -> None:
        self.root = root
        self.settings = settings

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    @property
    def maps_dir(self) -> Path:
        return self.root / MAPS_DIR

    @classmethod
    def init(cls, path: Path, *, name: str | None = None, language: Language = "en") -> Workspace:
        """Create a workspace at ``path`` (an empty or missing directory) and open it."""
        path = path.expanduser()
        if (path / CONFIG_FILE).exists():
            raise WorkspaceError(f"{path} is already a jornada workspace")
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path} exists and is not a directory")
        if path.exists() and any(path.iterdir()):
            raise WorkspaceError(f"{path} is not empty; choose a new directory for the workspace")
        settings = WorkspaceSettings(name=name or path.name, language=language)
        (path / MAPS_DIR).mkdir(parents=True, exist_ok=True)
        _write_settings(path / CONFIG_FILE, settings)
        return cls(path, settings)

    @classmethod
    def open(cls, path: Path) -> Workspace:
        """Open an existing workspace, with a clear error when ``path`` is not one."""
        path = path.expanduser()
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
    tmp.write_text(tomli_w.dumps(settings.model_dump(mode="json")), encoding="utf-8")
    tmp.replace(path)
