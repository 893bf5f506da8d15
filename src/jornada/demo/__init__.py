"""The demo workspace: one seeded example that feeds the quick start, the docs and the tests.

>>> import tempfile, pathlib
>>> ws = create_demo_workspace(pathlib.Path(tempfile.mkdtemp()) / "demo", customers=0)
>>> [entry.id for entry in ws.list_maps()]
['b2c-ecommerce', 'support-experience']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jornada.events.load import ColumnMapping
from jornada.model import Language
from jornada.model.templates import load_template
from jornada.workspace import Workspace

__all__ = ["DEFAULT_DEMO_DIR", "DEMO_CUSTOMERS", "DEMO_MAPS", "create_demo_workspace"]

DEFAULT_DEMO_DIR = Path("demo-workspace")
DEMO_MAPS = ("b2c-ecommerce", "support-experience")
"""The holistic e-commerce journey (the demo's main map) and one experience map."""
DEMO_CUSTOMERS = 4_000
"""People simulated for the demo's events (about 65,000 events: a few seconds to load)."""

_NAMES = {
    "en": "Demo: Stride Running",
    "pt-BR": "Demo: Passada Corrida",
    "es": "Demo: Zancada Running",
}


def create_demo_workspace(
    path: Path,
    *,
    language: Language = "en",
    customers: int = DEMO_CUSTOMERS,
    progress: Callable[[str], None] | None = None,
) -> Workspace:
    """Create the demo workspace at ``path`` (new or empty): the maps, and the events and
    customer file of a running-shoe shop whose data hides three stories (see
    :mod:`jornada.demo.generator`). ``customers=0`` makes a maps-only workspace."""
    say = progress or (lambda _step: None)
    workspace = Workspace.init(path, name=_NAMES[language], language=language)
    for template in DEMO_MAPS:
        workspace.save_map(load_template(template, language))
    if customers <= 0:
        return workspace
    from jornada.demo.generator import LOAD_MAPPING, generate_dataset

    say("generating events")
    dataset = generate_dataset(path / "data", customers=customers)
    mapping = ColumnMapping(**LOAD_MAPPING)
    workspace.save_mapping("demo", mapping)
    # The shop's customers leave by closing their account or unsubscribing.
    workspace.update_settings(churn={"cancel": ["account_closed", "email_unsubscribed"]})
    say("loading events")
    workspace.load(dataset.events_path, mapping, progress=say)
    say("loading customers")
    workspace.load_customers(
        dataset.customers_path,
        id_column="crm_id",
        identities={"crm": "crm_id", "email": "email", "phone": "phone"},
    )
    return workspace
