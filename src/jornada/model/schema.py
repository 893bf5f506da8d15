"""The JSON Schema of journey map files, generated from the model (never written by hand)."""

from __future__ import annotations

from typing import Any

from jornada.__about__ import __version__
from jornada.model.journey import Journey

__all__ = ["SCHEMA_ID", "journey_json_schema"]

SCHEMA_ID = "https://jornada.dev/schema/journey-map-1.json"


def journey_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) a map file conforms to.

    Editors that understand ``# yaml-language-server: $schema=...`` use it for completion.

    >>> journey_json_schema()["title"]
    'Journey'
    """
    schema = Journey.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "description": f"A jornada customer journey map (jornada {__version__}).",
        **schema,
    }
