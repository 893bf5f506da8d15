"""The whole API fuzzed against its own OpenAPI schema: no request gets a 5xx.

Schemathesis reads ``/openapi.json`` from the app and sends each operation generated
requests (valid and invalid) in-process. One workspace with events and maps serves
the module; state-changing operations run too, so the admin's token and session are
restored before every request (a fuzzed request may revoke, demote or sign them out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis import APIOperation, BaseSchema, GenerationMode
from schemathesis.checks import not_a_server_error

from jornada.accounts import AppState, workspace_key
from jornada.accounts.sessions import resolve_session, start_session
from jornada.accounts.tokens import create_token, resolve_token
from jornada.accounts.users import set_role
from jornada.demo.generator import LOAD_MAPPING, generate_dataset
from jornada.events.load import ColumnMapping
from jornada.model.templates import load_template
from jornada.web import create_app
from jornada.web.auth import SESSION_COOKIE
from jornada.workspace import Workspace
from tests.web.conftest import add_member, email_of, small_journey

pytestmark = pytest.mark.slow

SEED = 20240607
"""Schemathesis's own seed; Hypothesis runs derandomized: the same requests on every
run, so CI is stable."""
EXAMPLES = 25
"""Requests per operation as the admin's token (valid, invalid and with real ids,
drawn together); the session and anonymous runs send fewer."""
FEW_EXAMPLES = 3
MAP = "b2c-ecommerce"
REAL = {"map_id": MAP, "name": MAP, "map": MAP}
"""Values that exist, for path and query parameters of these names: random ones mostly
get a 404 before reaching the code that reads the map or the events."""


@dataclass
class Admin:
    """The workspace admin the fuzzer acts as; :meth:`fresh` undoes what fuzzed requests
    may have done to them (revoked the token, ended the session, taken the role)."""

    state: AppState
    workspace: Workspace
    user_id: int
    token: str = ""
    session: str = ""
    csrf: str = ""

    def fresh(self) -> Admin:
        key = workspace_key(self.workspace)
        set_role(self.state, key, email_of("admin"), "admin")
        if not self.token or resolve_token(self.state, self.token, key) is None:
            self.token = create_token(self.state, self.user_id, "fuzzing").secret
        if not self.session or resolve_session(self.state, self.session, key) is None:
            started = start_session(self.state, self.user_id)
            self.session, self.csrf = started.secret, started.csrf_token
        if MAP not in {path.stem for path in self.workspace.map_files()}:  # a fuzzed DELETE
            self.workspace.save_map(load_template(MAP, "en"))
        return self


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Admin]]:
    """The app on a workspace with events, a customer map and a small map, and its admin."""
    root = tmp_path_factory.mktemp("fuzz")
    workspace = Workspace.init(root / "ws", name="Fuzzed shop")
    workspace.save_map(load_template(MAP, "en"))
    workspace.save_map(small_journey())
    data = generate_dataset(root / "data", customers=150, seed=5)
    mapping = ColumnMapping(**LOAD_MAPPING)
    workspace.save_mapping("demo", mapping)
    workspace.load(data.events_path, mapping)
    state = AppState.open(f"sqlite:///{root / 'app.sqlite'}")
    try:
        admin = Admin(state, workspace, add_member(state, workspace, "admin"))
        yield create_app(workspace, state=state), admin
    finally:
        state.close()
        workspace.close()


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {"deterministic": True, "database": "none"}}
    )


@pytest.fixture(scope="module")
def api(served: tuple[FastAPI, Admin]) -> BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", served[0], config=_config())


Call = Callable[[schemathesis.Case], None]


def _strategies(operation: APIOperation) -> list[SearchStrategy[schemathesis.Case]]:
    """Valid and invalid requests; valid ones again with real ids where the operation
    names a map (the dashboards' ``name`` is a dashboard)."""
    found = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    real = dict(REAL, name="funnel") if operation.path.startswith("/dashboards") else REAL
    names = {(p.location, p.name) for p in operation.iter_parameters()}
    path = {name: real[name] for where, name in names if where == "path" and name in real}
    query = {name: real[name] for where, name in names if where == "query" and name in real}
    if path or query:
        found.append(
            operation.as_strategy(
                GenerationMode.POSITIVE, path_parameters=path or None, query=query or None
            )
        )
    return found


def fuzz(api: BaseSchema, call: Call, *, examples: int) -> None:
    """Send ``examples`` valid and ``examples`` invalid requests to every operation of
    ``api`` with ``call``; fail naming every operation a request gave a 5xx to.

    Hypothesis is driven here rather than by schemathesis's pytest plugin, whose
    fixture-based schemas break on pytest 9.2 (they set ``Node._nodeid``).
    """
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1
        strategy = st.one_of(_strategies(operation))

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
        )
        @given(case=strategy)
        def run(case: schemathesis.Case) -> None:
            call(case)

        try:
            run()
        # schemathesis's FailureGroup is a BaseExceptionGroup: keep going, report them all
        except (Exception, BaseExceptionGroup) as error:
            failures.append(f"{operation.label}:\n{error}")
    assert operations > 40, "the schema lost its operations"
    assert not failures, "\n\n".join(failures)


def test_no_server_error_with_a_token(api: BaseSchema, served: tuple[FastAPI, Admin]) -> None:
    """Every operation, as an admin with an API token (no CSRF token needed)."""

    def call(case: schemathesis.Case) -> None:
        admin = served[1].fresh()
        case.call_and_validate(
            headers={"Authorization": f"Bearer {admin.token}"}, checks=[not_a_server_error]
        )

    fuzz(api, call, examples=EXAMPLES)


def test_no_server_error_in_a_session(api: BaseSchema, served: tuple[FastAPI, Admin]) -> None:
    """Every operation, as an admin signed in with a browser session and its CSRF token."""

    def call(case: schemathesis.Case) -> None:
        admin = served[1].fresh()
        case.call_and_validate(
            headers={"X-CSRF-Token": admin.csrf},
            cookies={SESSION_COOKIE: admin.session},
            checks=[not_a_server_error],
        )

    fuzz(api, call, examples=FEW_EXAMPLES)


def test_no_server_error_anonymously(api: BaseSchema) -> None:
    """Every operation, nobody signed in."""

    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=[not_a_server_error])

    fuzz(api, call, examples=FEW_EXAMPLES)
