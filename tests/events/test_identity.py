"""Identity resolution against a brute-force union-find, on a real DuckDB."""

from __future__ import annotations

import doctest
import hashlib
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.engine import Engine
from jornada.events import identity
from jornada.events.identity import (
    IdentityError,
    IdentityReport,
    normalize_identifier,
    resolve_identities,
)

Row = tuple[str, str, str]  # (group: event_id or profile_id, kind, value)
Node = tuple[str, str]  # (kind, value)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    opened = Engine.duckdb()
    try:
        yield opened
    finally:
        opened.close()


def put(engine: Engine, name: str, rows: Sequence[Row], group: str = "event_id") -> None:
    """(Re)create table ``name(group, kind, value)`` from rows."""
    columns = list(zip(*rows, strict=True)) if rows else [[], [], []]
    arrow = pa.table(
        {group: columns[0], "kind": columns[1], "value": columns[2]},
        schema=pa.schema([(group, pa.string()), ("kind", pa.string()), ("value", pa.string())]),
    )
    engine.duck.register("_staging", arrow)
    try:
        engine.sql(f'create or replace table "{name}" as select * from _staging')
    finally:
        engine.duck.unregister("_staging")


def table_rows(engine: Engine, query: str) -> list[tuple[object, ...]]:
    return engine.sql(query).fetchall()


# --- the oracle ------------------------------------------------------------------------


def customer_id(key: str) -> str:
    return "c_" + hashlib.md5(key.encode()).hexdigest()[:16]


class Oracle:
    """Obviously-correct identity resolution: Python sets and a union-find."""

    def __init__(self, events: Sequence[Row], profiles: Sequence[Row], max_keys: int) -> None:
        groups: dict[tuple[str, str], set[Node]] = defaultdict(set)
        nodes: set[Node] = set()
        for source, rows in (("e", events), ("p", profiles)):
            for group, kind, value in rows:
                groups[source, group].add((kind, value))
                nodes.add((kind, value))
        linked: dict[Node, set[Node]] = defaultdict(set)
        for members in groups.values():
            for node in members:
                linked[node] |= {m for m in members if m[0] == "customer" and m != node}
        self.flags = {n: len(keys) for n, keys in linked.items() if len(keys) > max_keys}
        parent = {node: node for node in nodes}

        def find(node: Node) -> Node:
            while parent[node] != node:
                node = parent[node]
            return node

        for members in groups.values():
            usable = sorted(m for m in members if m not in self.flags)
            for other in usable[1:]:
                parent[find(other)] = find(usable[0])
        components: dict[Node, list[Node]] = defaultdict(list)
        for node in nodes:
            components[find(node)].append(node)
        self.map: dict[Node, str] = {}
        for members in components.values():
            cid = customer_id(min(f"{kind}:{value}" for kind, value in members))
            self.map.update(dict.fromkeys(members, cid))
        self.events: dict[str, str] = {}
        for (source, group), members in groups.items():
            if source != "e":
                continue
            usable = [m for m in members if m not in self.flags]
            if usable:
                ids = {self.map[m] for m in usable}
                assert len(ids) == 1
                self.events[group] = ids.pop()
            else:
                keys = [m for m in members if m[0] == "customer"] or list(members)
                self.events[group] = min(self.map[m] for m in keys)
        self.components = components

    def report(self) -> dict[str, int]:
        keys = [n for n in self.map if n[0] == "customer"]
        keyed = {self.map[n] for n in keys}
        return {
            "identifiers": len(self.map),
            "events": len(self.events),
            "customers": len(self.components),
            "merges": len(keys) - len(keyed),
            "largest_component": max((len(c) for c in self.components.values()), default=0),
            "flagged": len(self.flags),
        }


def check(
    engine: Engine,
    events: Sequence[Row],
    profiles: Sequence[Row] = (),
    max_keys: int = 20,
) -> IdentityReport:
    """Resolve in DuckDB and compare every output table and the report with the oracle."""
    put(engine, "identifiers", events)
    if profiles:
        put(engine, "profiles", profiles, group="profile_id")
    report = resolve_identities(
        engine, profiles="profiles" if profiles else None, max_keys_per_identifier=max_keys
    )
    oracle = Oracle(events, profiles, max_keys)
    got_map = {(k, v): c for k, v, c in table_rows(engine, "select * from identity_map")}
    assert got_map == oracle.map
    got_events = dict(table_rows(engine, "select * from event_customers"))
    assert got_events == oracle.events
    got_flags = {(k, v): n for k, v, n, _ in table_rows(engine, "select * from identity_flags")}
    assert got_flags == oracle.flags
    expected = oracle.report()
    assert {name: getattr(report, name) for name in expected} == expected
    assert engine.sql(
        "select count(*) from duckdb_tables() where temporary and table_name like '_jornada%'"
    ).fetchall() == [(0,)]
    return report


# --- random graphs ---------------------------------------------------------------------

POOLS = {
    "customer": ["k1", "k2", "k3", "k4", "k5", "k6", "k7"],
    "email": ["a@x.com", "b@x.com", "c@x.com", "shared@shop.com"],
    "phone": ["5511911110000", "5511922220000", "5531933330000"],
}
_identifier = st.sampled_from(sorted(POOLS)).flatmap(
    lambda kind: st.tuples(st.just(kind), st.sampled_from(POOLS[kind]))
)


@st.composite
def identifier_rows(draw: st.DrawFn, prefix: str, max_groups: int) -> list[Row]:
    """Groups (events or profile rows) carrying 1-3 identifiers each, mostly with one
    customer key, drawn from small pools so that chains, merges and flags happen."""
    rows: list[Row] = []
    for number in range(draw(st.integers(0, max_groups))):
        group = f"{prefix}{number}"
        if draw(st.integers(0, 4)) > 0:  # most events carry their source's key
            rows.append((group, "customer", draw(st.sampled_from(POOLS["customer"]))))
        for kind, value in draw(st.lists(_identifier, min_size=1, max_size=3)):
            rows.append((group, kind, value))
    return rows


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=identifier_rows("e", 14),
    profiles=identifier_rows("p", 3),
    max_keys=st.integers(0, 4),
)
def test_partition_matches_union_find(
    engine: Engine, events: list[Row], profiles: list[Row], max_keys: int
) -> None:
    check(engine, events, profiles, max_keys)


def test_long_chain_and_big_star_take_few_rounds(engine: Engine) -> None:
    chain = [(f"e{i}", "customer", f"k{i}") for i in range(3000)]
    chain += [(f"e{i}", "email", f"m{i + i % 2}@x.com") for i in range(3000)]
    chain += [(f"e{i}", "phone", f"{i - i % 2:013d}") for i in range(3000)]
    report = check(engine, chain, max_keys=3000)
    assert report.customers == 1
    assert report.rounds <= 16
    star = [("e0", "customer", "k")] + [("e0", "email", f"m{i}@x.com") for i in range(3000)]
    report = check(engine, star)
    assert report.customers == 1
    assert report.rounds <= 20  # about log2(3000): the star loses half its leaves a round


def test_empty_input(engine: Engine) -> None:
    report = check(engine, [])
    assert (report.identifiers, report.customers, report.rounds) == (0, 0, 0)


# --- the guard rail --------------------------------------------------------------------


def test_shared_email_is_flagged_and_does_not_merge(engine: Engine) -> None:
    rows: list[Row] = []
    for number in range(30):  # a shop's e-mail typed at 30 purchases of 30 customers
        rows += [(f"s{number}", "customer", f"L{number}"), (f"s{number}", "email", "loja@shop")]
    rows += [("w1", "customer", "dev-1"), ("w1", "email", "ana@x.com")]
    rows += [("w2", "customer", "dev-2"), ("w2", "email", "ana@x.com")]
    rows += [("s0", "email", "ana@x.com")]  # Ana was the customer of purchase s0
    report = check(engine, rows)
    assert report.flagged == 1
    assert [(f.kind, f.value, f.linked_keys) for f in report.top_flagged] == [
        ("email", "loja@shop", 30)
    ]
    assert (
        table_rows(engine, "select reason from identity_flags")[0][0]
        == "linked to more than 20 customer keys"
    )
    customers = dict(table_rows(engine, "select value, customer_id from identity_map"))
    assert customers["dev-1"] == customers["dev-2"] == customers["L0"] == customers["ana@x.com"]
    assert len({customers[f"L{number}"] for number in range(1, 30)}) == 29
    assert customers["loja@shop"] not in {customers[f"L{number}"] for number in range(30)}
    assert report.customers == 1 + 29 + 1  # Ana, 29 other shoppers, the shop's e-mail
    assert report.merges == 2  # dev-2 and L0 folded into dev-1's customer
    assert "loja@shop" in str(report)


def test_event_whose_identifiers_are_all_flagged(engine: Engine) -> None:
    rows: list[Row] = [("e0", "email", "loja@shop"), ("e0", "phone", "5511900000000")]
    for number in range(3):
        rows += [(f"s{number}", "customer", f"L{number}"), (f"s{number}", "email", "loja@shop")]
        rows += [(f"s{number}", "phone", "5511900000000")]
    report = check(engine, rows, max_keys=2)
    assert report.flagged == 2
    smallest = min(customer_id("email:loja@shop"), customer_id("phone:5511900000000"))
    assert table_rows(engine, "select customer_id from event_customers where event_id = 'e0'") == [
        (smallest,)
    ]


# --- stability, profiles, collisions ---------------------------------------------------

STORY: list[Row] = [
    ("w1", "customer", "dev-1"),
    ("w1", "email", "ana@example.com"),
    ("w2", "customer", "dev-2"),
    ("s1", "customer", "L-17"),
    ("s1", "phone", "5531998765432"),
    ("m1", "customer", "ana@example.com"),
    ("m1", "email", "ana@example.com"),
    ("c1", "customer", "crm-9"),
    ("c1", "phone", "5531998765432"),
]


def test_ids_do_not_depend_on_row_order(engine: Engine) -> None:
    check(engine, STORY)
    first = sorted(table_rows(engine, "select * from identity_map"))
    events = sorted(table_rows(engine, "select * from event_customers"))
    shuffled = list(STORY)
    random.Random(4).shuffle(shuffled)
    check(engine, shuffled)
    assert sorted(table_rows(engine, "select * from identity_map")) == first
    assert sorted(table_rows(engine, "select * from event_customers")) == events


def test_hash_collision_retries_with_another_seed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    check(engine, STORY)
    expected = sorted(table_rows(engine, "select * from identity_map"))
    real = identity._duckdb_nodes
    seeds: list[int] = []

    def colliding_first(engine: Engine, sources: dict[str, str], salt: int) -> bool:
        seeds.append(salt)
        return real(engine, sources, salt) and salt > 0

    monkeypatch.setattr(identity, "_duckdb_nodes", colliding_first)
    check(engine, STORY)
    assert seeds == [0, 1]
    assert sorted(table_rows(engine, "select * from identity_map")) == expected


def test_profiles_link_identifiers_of_one_customer_file_row(engine: Engine) -> None:
    without = check(engine, STORY)
    profile: list[Row] = [("p1", "email", "ana@example.com"), ("p1", "phone", "5531998765432")]
    with_profile = check(engine, STORY, profile)
    assert (without.customers, with_profile.customers) == (3, 2)
    customers = dict(table_rows(engine, "select value, customer_id from identity_map"))
    assert customers["dev-1"] == customers["L-17"] == customers["crm-9"]
    assert customers["dev-2"] != customers["dev-1"]


def test_outputs_are_replaced_atomically_on_failure(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    check(engine, STORY)
    before = sorted(table_rows(engine, "select * from identity_map"))
    put(engine, "identifiers", [("x", "customer", "k")])

    def broken(engine: Engine, max_keys: int) -> None:
        engine.sql("create or replace table identity_map as select 1 as broken")
        raise RuntimeError("killed half-way")

    monkeypatch.setattr(identity, "_duckdb_write_outputs", broken)
    with pytest.raises(RuntimeError):
        resolve_identities(engine)
    assert sorted(table_rows(engine, "select * from identity_map")) == before


def test_missing_table_or_column(engine: Engine) -> None:
    with pytest.raises(IdentityError, match="no table 'nowhere'"):
        resolve_identities(engine, identifiers="nowhere")
    engine.sql("create or replace table odd as select 'e' as event_id, 'k' as kind")
    with pytest.raises(IdentityError, match="no column 'value'"):
        resolve_identities(engine, identifiers="odd")
    with pytest.raises(IdentityError, match="0 or more"):
        resolve_identities(engine, max_keys_per_identifier=-1)


def test_report_forms(engine: Engine) -> None:
    report = check(engine, STORY)
    assert report.to_frame().to_dict("records") == [
        {"kind": "customer", "identifiers": 5, "flagged": 0},
        {"kind": "email", "identifiers": 1, "flagged": 0},
        {"kind": "phone", "identifiers": 1, "flagged": 0},
    ]
    data = report.to_dict()
    assert (data["customers"], data["merges"], data["largest_component"]) == (3, 2, 3)
    assert str(report).startswith("7 identifiers on 5 events -> 3 customers")


# --- normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "written", "expected"),
    [
        ("phone", "(31) 99876-5432", "5531998765432"),
        ("phone", "+55 31 998765432", "5531998765432"),
        ("phone", "0 31 99876 5432", "5531998765432"),  # trunk 0
        ("phone", "0055 31 99876-5432", "5531998765432"),
        ("phone", "5531998765432", "5531998765432"),  # already has its country code
        ("phone", "(31) 3333-4444", "553133334444"),  # landline, 10 digits
        ("phone", "+44 (0)20 7946 0958", "442079460958"),
        ("phone", "+1 415 555 2671", "14155552671"),
        ("phone", "9876-5432", "98765432"),  # no area code: kept as written
        ("phone", "99876", None),
        ("phone", " ", None),
        ("email", " Ana@Example.COM ", "ana@example.com"),
        ("EMAIL", "", None),
        ("device", "  A1-b2 ", "A1-b2"),
        ("crm", "   ", None),
        ("customer", "Case Kept", "Case Kept"),
    ],
)
def test_normalize_identifier(
    engine: Engine, kind: str, written: str, expected: str | None
) -> None:
    table = ibis.memtable(pa.table({"written": pa.array([written], pa.string())}))
    clean = table.select(out=normalize_identifier(kind, table.written))
    assert engine.to_arrow(clean).to_pylist() == [{"out": expected}]


def test_normalize_phone_other_country(engine: Engine) -> None:
    table = ibis.memtable(pa.table({"written": ["(415) 555-2671", "None"]}))
    clean = table.select(
        out=normalize_identifier(
            "phone", table.written, default_country_code="1", national_lengths=(10, 10)
        )
    )
    assert engine.to_arrow(clean).to_pylist() == [{"out": "14155552671"}, {"out": None}]


def test_docstrings() -> None:
    result = doctest.testmod(identity, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted >= 10
