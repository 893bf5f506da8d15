"""The demo workspace: one seeded example that feeds the quick start, the docs and the tests.

>>> import tempfile, pathlib
>>> ws = create_demo_workspace(pathlib.Path(tempfile.mkdtemp()) / "demo")
>>> [entry.id for entry in ws.list_maps()]
['b2c-ecommerce', 'support-experience']
"""

from __future__ import annotations

from pathlib import Path

from jornada.model import Language
from jornada.model.templates import load_template
from jornada.workspace import Workspace

__all__ = ["DEFAULT_DEMO_DIR", "DEMO_MAPS", "create_demo_workspace"]

DEFAULT_DEMO_DIR = Path("demo-workspace")
DEMO_MAPS = ("b2c-ecommerce", "support-experience")
"""The holistic e-commerce journey (the demo's main map) and one experience map."""


def create_demo_workspace(path: Path, *, language: Language = "en") -> Workspace:
    """Create the demo workspace at ``path`` (which must be new or empty)."""
    names = {
        "en": "Demo: Aurora Shoes",
        "pt-BR": "Demo: Aurora Calçados",
        "es": "Demo: Calzados Aurora",
    }
    workspace = Workspace.init(path, name=names[language], language=language)
    for template in DEMO_MAPS:
        workspace.save_map(load_template(template, language))
    return workspace
