"""Identity resolution: one customer behind the many identifiers seen across channels.

A customer appears as an e-mail in the newsletter, a phone at the store, a device id
on the site, a CRM id in support. :func:`normalize_identifier` makes the spellings of
one identifier equal (as Ibis expressions, so it runs inside the engine);
:func:`resolve_identities` links identifiers seen together and gives every connected
group one stable customer id.

>>> from jornada.engine import Engine
>>> engine = Engine.duckdb()
>>> _ = engine.sql('''create table identifiers as from (values
...     ('w1', 'customer', 'dev-9'), ('w1', 'email', 'ana@example.com'),
...     ('s1', 'customer', 'L-17'), ('s1', 'phone', '5531998765432'),
...     ('m1', 'customer', 'ana@example.com'), ('m1', 'email', 'ana@example.com')
... ) t(event_id, kind, value)''')
>>> report = resolve_identities(engine)
>>> print(report)
5 identifiers on 3 events -> 2 customers (1 source keys merged; largest 3 identifiers; 0 flagged; 2 rounds)
>>> engine.sql("select event_id, customer_id from event_customers order by 1").fetchall()
[('m1', 'c_d5c3fe8464eb4fc4'), ('s1', 'c_4d6fe441265367a5'), ('w1', 'c_d5c3fe8464eb4fc4')]

The graph work is DuckDB SQL (``hash`` with a seed, ``arg_min``, temporary tables,
``CREATE OR REPLACE`` inside a transaction); those statements live in the functions
named ``_duckdb_*``. Inputs are read, and the report is computed, with Ibis.
"""

# ruff: noqa: S608
# The SQL below interpolates only this module's temporary table names and the Ibis-
# compiled (quoted) reads of the input tables; values travel as parameters.

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pandas as pd

from jornada.engine import Engine
from jornada.engine.store import CUSTOMER_KEYS_FROM
from jornada.errors import JornadaError

__all__ = [
    "CUSTOMER_KIND",
    "FlaggedIdentifier",
    "IdentityError",
    "IdentityReport",
    "KindCount",
    "identity_report",
    "normalize_identifier",
    "resolve_identities",
]

CUSTOMER_KIND: Final = "customer"
"""The kind of a source's own key (a device id on web rows, an e-mail on e-mail rows)."""

IDENTITY_MAP: Final = "identity_map"
IDENTITY_FLAGS: Final = "identity_flags"
EVENT_CUSTOMERS: Final = "event_customers"

_TMP: Final = "_jornada_identity_"
"""Prefix of the temporary tables of one run (dropped at the end)."""

_MAX_SALTS: Final = 8
_TOP_FLAGGED: Final = 20


class IdentityError(JornadaError):
    """Identity resolution cannot run on these tables (missing table or column)."""


# --- normalisation ---------------------------------------------------------------------


def normalize_identifier(
    kind: str,
    value: ir.StringValue,
    *,
    default_country_code: str = "55",
    national_lengths: tuple[int, int] = (10, 11),
) -> ir.StringValue:
    """The canonical spelling of an identifier of ``kind``, as an Ibis expression.

    - ``email``: trimmed and lower-cased; empty becomes null.
    - ``phone``: digits only, with the country code and without a trunk prefix.
      A number written with ``+`` or ``00`` keeps its own country code (a ``(0)``
      in it is dropped: ``+44 (0)20 ...``). Otherwise a leading trunk ``0`` is
      dropped and, when what remains has ``national_lengths`` digits (10-11 by
      default: a Brazilian area code and number), ``default_country_code`` is put
      in front; a longer number is taken to carry its country code already, and a
      shorter one (8-9 digits: no area code) is kept as written. Fewer than 8
      digits becomes null. Carrier selection codes are not recognised.
    - any other kind (``device``, ``crm``, ``customer``...): trimmed; empty becomes null.

    >>> import ibis, pyarrow as pa
    >>> from jornada.engine import Engine
    >>> written = ibis.memtable(pa.table({"phone": ["(31) 99876-5432", "+55 31 998765432"],
    ...                                   "email": [" Ana@Example.COM ", ""]}))
    >>> clean = written.select(
    ...     phone=normalize_identifier("phone", written.phone),
    ...     email=normalize_identifier("email", written.email))
    >>> Engine.duckdb().to_arrow(clean).to_pylist()
    [{'phone': '5531998765432', 'email': 'ana@example.com'}, {'phone': '5531998765432', 'email': None}]
    """
    name = kind.strip().lower()
    trimmed = value.strip()
    if name == "email":
        return trimmed.lower().nullif("")
    if name != "phone":
        return trimmed.nullif("")
    lowest, highest = national_lengths
    written = trimmed.replace("(0)", "")
    digits = written.re_replace(r"[^0-9]", "")
    plus = written.startswith("+")
    double_zero = ~plus & digits.startswith("00")
    international = ibis.cases((plus, digits), else_=digits.substr(2))
    national = ibis.cases((digits.startswith("0"), digits.substr(1)), else_=digits)
    is_national = national.length().between(lowest, highest)
    significant = ibis.cases((plus | double_zero, international), else_=national)
    full = ibis.cases(
        (plus | double_zero, international),
        (is_national, ibis.literal(default_country_code) + national),
        else_=national,
    )
    result: ir.StringValue = ibis.cases(
        (significant.length() >= 8, full), else_=ibis.null("string")
    )
    return result


# --- the report ------------------------------------------------------------------------


@dataclass(frozen=True)
class FlaggedIdentifier:
    """An identifier linked to too many customer keys to be trusted for merging."""

    kind: str
    value: str
    linked_keys: int


@dataclass(frozen=True)
class KindCount:
    """How many identifiers of one kind were seen, and how many were flagged."""

    kind: str
    identifiers: int
    flagged: int


@dataclass(frozen=True)
class IdentityReport:
    """What :func:`resolve_identities` found.

    ``merges`` is how many source keys (kind ``customer``) were folded into another:
    the number of customer keys minus the number of customers that have one.

    >>> report = IdentityReport(identifiers=5, events=3, customers=2, merges=1,
    ...     largest_component=4, flagged=0, top_flagged=(), rounds=2,
    ...     kinds=(KindCount("customer", 3, 0), KindCount("email", 2, 0)))
    >>> print(report)
    5 identifiers on 3 events -> 2 customers (1 source keys merged; largest 4 identifiers; 0 flagged; 2 rounds)
    >>> report.to_frame()
           kind  identifiers  flagged
    0  customer            3        0
    1     email            2        0
    """

    identifiers: int
    events: int
    customers: int
    merges: int
    largest_component: int
    flagged: int
    top_flagged: tuple[FlaggedIdentifier, ...]
    rounds: int
    kinds: tuple[KindCount, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``--json`` and the web app)."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """Counts per identifier kind."""
        return pd.DataFrame(
            [asdict(count) for count in self.kinds], columns=["kind", "identifiers", "flagged"]
        )

    def __str__(self) -> str:
        text = (
            f"{self.identifiers} identifiers on {self.events} events -> "
            f"{self.customers} customers ({self.merges} source keys merged; "
            f"largest {self.largest_component} identifiers; {self.flagged} flagged; "
            f"{self.rounds} rounds)"
        )
        lines = [text]
        lines.extend(
            f"  flagged {item.kind} {item.value!r}: linked to {item.linked_keys} customer keys"
            for item in self.top_flagged
        )
        return "\n".join(lines)


# --- resolution ------------------------------------------------------------------------


def resolve_identities(
    engine: Engine,
    *,
    identifiers: str = "identifiers",
    profiles: str | None = None,
    max_keys_per_identifier: int = 20,
    customer_keys: str | None = "events_raw",
) -> IdentityReport:
    """Link identifiers seen together, give every connected group a customer id, and
    write ``identity_map``, ``identity_flags`` and ``event_customers``.

    ``identifiers(event_id, kind, value)`` holds every (normalised) identifier seen on
    every event; kind ``customer`` is each source's own key. Identifiers on the same
    event are linked, and so are identifiers on the same row of ``profiles(profile_id,
    kind, value)`` when given. A store's loads write their events' own keys once, in
    ``customer_keys(event_id, customer_key, load_id)`` (its ``events_raw``), not as
    ``customer`` rows of ``identifiers``: from the load its ``store_meta`` names
    (:data:`jornada.engine.store.CUSTOMER_KEYS_FROM`) on, they are read there, normalised
    as the rows were. Without that table or mark, ``identifiers`` is read alone.

    Guard rail: an identifier linked (on events or profiles) to more than
    ``max_keys_per_identifier`` distinct other identifiers of kind ``customer`` (a
    shop's e-mail typed at every purchase) is flagged in ``identity_flags`` and not
    used for merging: it is a customer of its own.

    Output tables, replaced together in one transaction:

    - ``identity_map(kind, value, customer_id)``: every identifier and its customer.
      ``customer_id`` is ``c_`` and the first 16 hex digits of the md5 of the smallest
      ``kind || ':' || value`` of its group: the same data gives the same ids.
    - ``identity_flags(kind, value, linked_keys, reason)``.
    - ``event_customers(event_id, customer_id)``: the customer of the event's
      unflagged identifiers (which share a group by construction); when all of them
      are flagged, of its customer key (the smallest, if it has several).

    Connected components are computed in the engine by randomised contraction
    (Bögeholz, Brand and Todor, "In-database connected component analysis", ICDE
    2020), on a graph with one edge per identifier and group (to the group's
    customer key, or its least identifier), not one per pair. Each round, every node
    of the edge list is replaced by the node of least random priority (a seeded hash)
    among its neighbours and itself, and the edges are rewritten between those
    representatives and deduplicated; a round is two ``CREATE TABLE AS`` over a
    shrinking edge list, and rounds stop when no edge is left (O(log n) rounds
    expected; the work shrinks geometrically, so a star of d leaves takes about
    log2(d) cheap rounds). Labels are then composed backwards through the rounds'
    tables. No Python loop touches rows or nodes.

    Identifiers become 64-bit hashes of ``(kind, value)``; a collision is detected
    exactly (distinct hashes against distinct pairs) and the run retried with another
    seed. Cost, measured with ``benchmarks/identity.py``: 10M events (14.5M identifier
    rows, 4.7M identifiers) take about 30 CPU seconds and 3.1 GB of memory.

    Needs the DuckDB engine (it raises :class:`IdentityError` on another).

    >>> from jornada.engine import Engine
    >>> engine = Engine.duckdb()
    >>> _ = engine.sql('''create table identifiers as from (values
    ...     ('e1', 'customer', 'd1'), ('e1', 'email', 'ana@x.com'),
    ...     ('e2', 'customer', 'd2'), ('e2', 'email', 'ana@x.com')) t(event_id, kind, value)''')
    >>> resolve_identities(engine).customers
    1
    """
    if engine.kind != "duckdb":
        raise IdentityError(f"identity resolution runs on the DuckDB engine, not {engine.kind}")
    if max_keys_per_identifier < 0:
        raise IdentityError("max_keys_per_identifier must be 0 or more")
    sources = {"events": _input_sql(engine, identifiers, "event_id")}
    keys = _customer_keys_sql(engine, customer_keys)
    if keys is not None:
        sources["events"] = f"SELECT * FROM ({sources['events']}) UNION ALL {keys}"
    if profiles is not None:
        sources["profiles"] = _input_sql(engine, profiles, "profile_id")
    try:
        for salt in range(_MAX_SALTS):
            if _duckdb_nodes(engine, sources, salt):
                break
        else:  # pragma: no cover - 8 independent 64-bit collisions
            raise IdentityError("identifier hashes collide under every seed tried")
        _duckdb_groups(engine, sources, salt)
        flagged = _duckdb_flags(engine, max_keys_per_identifier)
        _duckdb_edges(engine)
        rounds = _duckdb_components(engine, salt)
        _duckdb_customers(engine)
        with engine.transaction():
            _duckdb_write_outputs(engine, max_keys_per_identifier)
        return _report(engine, rounds, flagged)
    finally:
        _duckdb_drop_temporary(engine)


def _input_sql(engine: Engine, name: str, group: str) -> str:
    """The SQL (compiled by Ibis, so names are quoted) reading ``group, kind, value``
    from table ``name``, without null or empty kinds and values."""
    if not engine.has_table(name):
        raise IdentityError(f"no table {name!r}: load events (and their identifiers) first")
    table = engine.table(name)
    missing = [column for column in (group, "kind", "value") if column not in table.columns]
    if missing:
        raise IdentityError(f"table {name!r} has no column {', '.join(map(repr, missing))}")
    kind = table.kind.cast("string")
    value = table.value.cast("string")
    selected = table.select(grp=table[group].cast("string"), kind=kind, value=value).filter(
        kind.notnull() & (kind != "") & value.notnull() & (value != "")
    )
    return str(ibis.to_sql(selected, dialect="duckdb"))


def _customer_keys_sql(engine: Engine, name: str | None) -> str | None:
    """The SQL reading ``grp, kind, value`` of the customer keys that loads kept in table
    ``name`` only (see :func:`resolve_identities`), normalised by the ``customer`` rule
    as a load's ``identifiers`` rows were; None when there are none to read."""
    if name is None or not engine.has_table(name) or not engine.has_table("store_meta"):
        return None
    row = engine.sql("SELECT value FROM store_meta WHERE key = ?", [CUSTOMER_KEYS_FROM]).fetchone()
    if row is None:
        return None
    table = engine.table(name)
    key = table.customer_key.cast("string")
    # The rule of a customer key is its stripped text, null when nothing is left; a key
    # is kept when its left-stripped text is not empty, the same test without computing
    # the rule twice (a filter on the rule's result cost three times its projection).
    selected = table.filter((table.load_id >= int(row[0])) & (key.lstrip() != "")).select(
        grp=table.event_id.cast("string"),
        kind=ibis.literal(CUSTOMER_KIND),
        value=normalize_identifier(CUSTOMER_KIND, key),
    )
    return str(ibis.to_sql(selected, dialect="duckdb"))


def _tmp(name: str) -> str:
    return f"{_TMP}{name}"


# An identifier's hash: of one text, the salt shifting it by ``$salt`` characters.
# DuckDB's ``hash(kind, value, $salt)`` combines the three hashes, so a collision of two
# values collides under every salt: 13 pairs of phone-like 16-character keys did, among
# the 16.5M identifiers of 100M events ('+52 55 5366 8935' and '+52 55 2366 8930').
_HASH = "hash(repeat('#', $salt) || kind || chr(0) || value)"


def _members_sql(sources: Mapping[str, str]) -> str:
    """One row per identifier seen in a group: an event (``src`` 0) or a profile row
    (``src`` 1); ``h`` the identifier's hash (parameter ``$salt``), ``c`` whether it is
    a customer key (parameter ``$customer``)."""
    parts = " UNION ALL ".join(
        f"SELECT {number}::UTINYINT AS src, grp, kind, value FROM ({sql})"
        for number, sql in enumerate(sources.values())
    )
    return (
        f"SELECT src, grp, {_HASH} AS h, kind = $customer AS c FROM ({parts}) WHERE grp IS NOT NULL"
    )


def _duckdb_nodes(engine: Engine, sources: Mapping[str, str], salt: int) -> bool:
    """Create ``nodes(kind, value, h)``, one row per identifier; False when two
    identifiers share a hash under this salt."""
    parts = " UNION ALL ".join(f"SELECT kind, value FROM ({sql})" for sql in sources.values())
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {_tmp('nodes')} AS "
        f"SELECT kind, value, {_HASH} AS h FROM ({parts}) GROUP BY kind, value",
        {"salt": salt},
    )
    row = engine.sql(f"SELECT count(*) = count(DISTINCT h) FROM {_tmp('nodes')}").fetchone()
    return bool(row and row[0])


def _duckdb_groups(engine: Engine, sources: Mapping[str, str], salt: int) -> None:
    """Create ``groups(src, grp, ck, o1, o2, simple)``: per event or profile row its
    least customer key ``ck`` and least and greatest other identifiers. A group is
    ``simple`` (nearly every event is) when it has one customer key and at most two
    other identifiers: ``ck``, ``o1`` and ``o2`` are then all of it, and it needs no
    join. The members of the other groups go to ``special(src, grp, h, c)``."""
    members, groups = _members_sql(sources), _tmp("groups")
    params = {"salt": salt, "customer": CUSTOMER_KIND}
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {groups} AS "
        "SELECT src, grp, ck, o1, o2, coalesce(ck = ck_max AND others <= 2, false) AS simple "
        "FROM ("
        "  SELECT src, grp, min(h) FILTER (WHERE c) AS ck, max(h) FILTER (WHERE c) AS ck_max,"
        "    min(h) FILTER (WHERE NOT c) AS o1, max(h) FILTER (WHERE NOT c) AS o2,"
        "    count(*) FILTER (WHERE NOT c) AS others"
        f"  FROM ({members}) GROUP BY src, grp"
        ")",
        params,
    )
    special = _tmp("special")
    row = engine.sql(f"SELECT count(*) FROM {groups} WHERE NOT simple").fetchone()
    if row and row[0]:
        engine.sql(
            f"CREATE OR REPLACE TEMP TABLE {special} AS "
            f"SELECT DISTINCT m.src, m.grp, m.h, m.c FROM ({members}) m SEMI JOIN {groups} g "
            "ON m.src = g.src AND m.grp = g.grp AND NOT g.simple",
            params,
        )
    else:
        engine.sql(
            f"CREATE OR REPLACE TEMP TABLE {special} "
            "(src UTINYINT, grp VARCHAR, h UBIGINT, c BOOLEAN)"
        )


def _duckdb_flags(engine: Engine, max_keys: int) -> int:
    """Create ``pairs(v, k)`` (an identifier and a customer key seen with it in a
    simple group) and ``flags(h, linked_keys)`` (identifiers seen with more than
    ``max_keys`` other customer keys, in any group); return how many are flagged."""
    groups, pairs, special = _tmp("groups"), _tmp("pairs"), _tmp("special")
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {pairs} AS "
        "SELECT DISTINCT v, k FROM ("
        f"  SELECT o1 AS v, ck AS k FROM {groups} WHERE simple AND o1 IS NOT NULL UNION ALL"
        f"  SELECT o2, ck FROM {groups} WHERE simple AND o2 IS NOT NULL"
        ")"
    )
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {_tmp('flags')} AS "
        "SELECT v AS h, count(DISTINCT k) AS linked_keys FROM ("
        f"  SELECT v, k FROM {pairs} UNION ALL "
        f"  SELECT a.h, b.h FROM {special} a JOIN {special} b "
        "   ON a.src = b.src AND a.grp = b.grp AND b.c AND a.h <> b.h"
        ") GROUP BY v HAVING count(DISTINCT k) > $max",
        {"max": max_keys},
    )
    row = engine.sql(f"SELECT count(*) FROM {_tmp('flags')}").fetchone()
    return int(row[0]) if row else 0


def _duckdb_edges(engine: Engine) -> None:
    """Create ``odd`` (members of the groups that do not simply link to their one
    unflagged customer key: special groups, and simple ones whose key is flagged),
    ``hubs`` (per odd group, the least unflagged identifier, which the others link to;
    ``linking`` false when all are flagged) and ``edges0`` (distinct edges between
    unflagged identifiers, ``a < b``)."""
    groups, flags, odd, hubs = _tmp("groups"), _tmp("flags"), _tmp("odd"), _tmp("hubs")
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {odd} AS "
        "WITH keyed AS ("
        f"  SELECT g.src, g.grp, g.ck, g.o1, g.o2 FROM {groups} g SEMI JOIN {flags} f "
        "  ON g.ck = f.h WHERE g.simple"
        "), rows AS ("
        f"  SELECT src, grp, h, c FROM {_tmp('special')} UNION ALL "
        "  SELECT src, grp, ck, true FROM keyed UNION ALL "
        "  SELECT src, grp, o1, false FROM keyed WHERE o1 IS NOT NULL UNION ALL "
        "  SELECT src, grp, o2, false FROM keyed WHERE o2 IS NOT NULL"
        ") SELECT DISTINCT r.src, r.grp, r.h, r.c, f.h IS NOT NULL AS flagged "
        f"FROM rows r LEFT JOIN {flags} f ON r.h = f.h"
    )
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {hubs} AS "
        "SELECT src, grp, coalesce(min(h) FILTER (WHERE NOT flagged), min(h)) AS hub, "
        f"bool_or(NOT flagged) AS linking FROM {odd} GROUP BY src, grp"
    )
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {_tmp('edges0')} AS "
        "SELECT DISTINCT least(v, k) AS a, greatest(v, k) AS b FROM ("
        f"  SELECT v, k FROM {_tmp('pairs')} p "
        f"  ANTI JOIN {flags} f1 ON p.v = f1.h ANTI JOIN {flags} f2 ON p.k = f2.h "
        "  UNION ALL "
        f"  SELECT o.h, hb.hub FROM {odd} o JOIN {hubs} hb ON o.src = hb.src AND o.grp = hb.grp "
        "  WHERE hb.linking AND NOT o.flagged AND o.h <> hb.hub"
        ")"
    )


def _duckdb_components(engine: Engine, salt: int) -> int:
    """Randomised contraction of ``edges0`` into ``labels(v, label)`` (for every node
    that has an edge; the others are their own label). Returns the number of rounds.

    Each round gives every node of the edge list a random priority (a seeded hash),
    sends it to the node of least priority among its neighbours and itself, and
    rewrites the edges between those representatives (dropping loops and
    duplicates), until no edge is left."""
    rounds = 0
    while True:
        edges = _tmp(f"edges{rounds}")
        row = engine.sql(f"SELECT count(*) FROM {edges}").fetchone()
        if not row or row[0] == 0:
            break
        rounds += 1
        rep = _tmp(f"rep{rounds}")
        engine.sql(
            f"CREATE OR REPLACE TEMP TABLE {rep} AS "
            "SELECT v, CASE WHEN hash(v, $seed) < best THEN v ELSE choice END AS rep FROM ("
            "  SELECT v, min(p) AS best, arg_min(u, p) AS choice FROM ("
            f"    SELECT a AS v, b AS u, hash(b, $seed) AS p FROM {edges} UNION ALL "
            f"    SELECT b, a, hash(a, $seed) FROM {edges}"
            "  ) GROUP BY v"
            ")",
            {"seed": salt * 1000 + rounds},
        )
        engine.sql(
            f"CREATE OR REPLACE TEMP TABLE {_tmp(f'edges{rounds}')} AS "
            "SELECT DISTINCT least(ra.rep, rb.rep) AS a, greatest(ra.rep, rb.rep) AS b "
            f"FROM {edges} e JOIN {rep} ra ON e.a = ra.v JOIN {rep} rb ON e.b = rb.v "
            "WHERE ra.rep <> rb.rep"
        )
        engine.sql(f"DROP TABLE {edges}")
    # Compose backwards: the label of a node of round i is the label, in round i + 1,
    # of its representative.
    labels = _tmp("labels")
    engine.sql(f"CREATE OR REPLACE TEMP TABLE {labels} (v UBIGINT, label UBIGINT)")
    for number in range(rounds, 0, -1):
        rep = _tmp(f"rep{number}")
        engine.sql(
            f"CREATE OR REPLACE TEMP TABLE {_tmp('composed')} AS "
            "SELECT r.v, coalesce(l.label, r.rep) AS label "
            f"FROM {rep} r LEFT JOIN {labels} l ON r.rep = l.v"
        )
        engine.sql(f"DROP TABLE {labels}")
        engine.sql(f"ALTER TABLE {_tmp('composed')} RENAME TO {labels}")
        engine.sql(f"DROP TABLE {rep}")
    return rounds


def _duckdb_customers(engine: Engine) -> None:
    """Create ``customers(kind, value, h, customer_id)``: every identifier with the id
    of its component (``c_`` and 16 hex digits of the md5 of its least key)."""
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {_tmp('customers')} AS "
        "WITH labelled AS ("
        "  SELECT n.kind, n.value, n.h, coalesce(l.label, n.h) AS label "
        f"  FROM {_tmp('nodes')} n LEFT JOIN {_tmp('labels')} l ON n.h = l.v"
        ") SELECT kind, value, h, "
        "'c_' || left(md5(min(kind || ':' || value) OVER (PARTITION BY label)), 16) AS customer_id "
        "FROM labelled"
    )
    # Events whose identifiers are all flagged: the least customer id of their
    # customer keys (of all their identifiers when they have no key).
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {_tmp('isolated')} AS "
        "SELECT o.grp, coalesce(min(c.customer_id) FILTER (WHERE o.c), min(c.customer_id)) "
        "  AS customer_id "
        f"FROM {_tmp('odd')} o SEMI JOIN {_tmp('hubs')} hb "
        "  ON o.src = hb.src AND o.grp = hb.grp AND NOT hb.linking "
        f"JOIN {_tmp('customers')} c ON o.h = c.h WHERE o.src = 0 GROUP BY o.grp"
    )


def _duckdb_write_outputs(engine: Engine, max_keys: int) -> None:
    """Replace ``identity_map``, ``identity_flags`` and ``event_customers`` (call in a
    transaction)."""
    customers = _tmp("customers")
    engine.sql(
        f"CREATE OR REPLACE TABLE {IDENTITY_MAP} AS "
        f"SELECT kind, value, customer_id FROM {customers}"
    )
    engine.sql(
        f"CREATE OR REPLACE TABLE {IDENTITY_FLAGS} AS "
        "SELECT c.kind, c.value, f.linked_keys, $reason AS reason "
        f"FROM {_tmp('flags')} f JOIN {customers} c ON f.h = c.h",
        {"reason": f"linked to more than {max_keys} customer keys"},
    )
    # Each event once: a simple event with an unflagged key goes to its key's
    # customer, an odd one to its hub's, one whose identifiers are all flagged to
    # ``isolated``'s. (Plain equi-joins: a join on coalesce(hub, ck) after a left
    # join was planned as a nested loop.)
    engine.sql(
        f"CREATE OR REPLACE TABLE {EVENT_CUSTOMERS} AS "
        "SELECT e.grp AS event_id, c.customer_id FROM ("
        f"  SELECT g.grp, g.ck AS hub FROM {_tmp('groups')} g "
        f"  ANTI JOIN {_tmp('flags')} f ON g.ck = f.h WHERE g.src = 0 AND g.simple "
        f"  UNION ALL SELECT grp, hub FROM {_tmp('hubs')} WHERE src = 0 AND linking"
        f") e JOIN {customers} c ON c.h = e.hub "
        f"UNION ALL SELECT grp, customer_id FROM {_tmp('isolated')}"
    )


def _duckdb_drop_temporary(engine: Engine) -> None:
    rows = engine.sql(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, $p)",
        {"p": _TMP},
    ).fetchall()
    for (name,) in rows:
        engine.sql(f'DROP TABLE IF EXISTS temp."{name}"')


def identity_report(engine: Engine) -> IdentityReport:
    """The report of the last resolution, read back from the stored tables (``rounds`` is
    0: the algorithm's rounds are only known while it runs)."""
    if not engine.has_table(IDENTITY_MAP):
        raise IdentityError("no identities resolved yet: load events first")
    flagged = engine.execute(engine.table(IDENTITY_FLAGS).count())
    return _report(engine, 0, int(flagged))


def _report(engine: Engine, rounds: int, flagged: int) -> IdentityReport:
    """The report, computed with Ibis from the output tables."""
    mapping = engine.table(IDENTITY_MAP)
    flags = engine.table(IDENTITY_FLAGS)
    sizes = mapping.group_by("customer_id").agg(
        size=mapping.count(), keys=(mapping.kind == CUSTOMER_KIND).sum()
    )
    totals = sizes.agg(
        identifiers=sizes.size.sum().fill_null(0),
        customers=sizes.count(),
        largest=sizes.size.max().fill_null(0),
        keys=sizes.keys.sum().fill_null(0),
        keyed=(sizes.keys > 0).sum().fill_null(0),
    )
    total = _records(engine, totals)[0]
    events = _records(engine, engine.table(EVENT_CUSTOMERS).agg(n=ibis._.count()))[0]["n"]
    per_kind = mapping.group_by("kind").agg(identifiers=mapping.count())
    flagged_kind = flags.group_by("kind").agg(flagged=flags.count())
    kinds = (
        per_kind.left_join(flagged_kind, "kind")
        .select(per_kind.kind, per_kind.identifiers, flagged=flagged_kind.flagged.fill_null(0))
        .order_by("kind")
    )
    top = (
        flags.order_by([ibis.desc("linked_keys"), "kind", "value"])
        .limit(_TOP_FLAGGED)
        .select("kind", "value", "linked_keys")
    )
    return IdentityReport(
        identifiers=int(total["identifiers"]),
        events=int(events),
        customers=int(total["customers"]),
        merges=int(total["keys"]) - int(total["keyed"]),
        largest_component=int(total["largest"]),
        flagged=flagged,
        top_flagged=tuple(FlaggedIdentifier(**row) for row in _records(engine, top)),
        rounds=rounds,
        kinds=tuple(KindCount(**row) for row in _records(engine, kinds)),
    )


def _records(engine: Engine, expr: ir.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = engine.to_arrow(expr).to_pylist()
    return rows
