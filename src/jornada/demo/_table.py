"""From integer-coded events to the columns a business system exports: identifier
strings in each system's own spelling, property values, ISO 8601 times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from jornada.demo import _strings as s
from jornada.demo import _vocab as v
from jornada.demo._journey import (
    DAY,
    HOUR,
    ID_CRM,
    ID_DEVICE,
    ID_EMAIL,
    ID_PHONE,
    STORE_UTC_OFFSET_HOURS,
    C,
    E,
    Journeys,
    Plan,
)

Array = npt.NDArray[Any]

TIMESTAMP_TYPE: Final = pa.timestamp("ms", tz="UTC")
EVENT_FIELDS: Final = (
    ("event_id", pa.string()),
    ("timestamp", TIMESTAMP_TYPE),
    ("event", pa.string()),
    ("channel", pa.string()),
    ("customer_key", pa.string()),
    ("email", pa.string()),
    ("phone", pa.string()),
    ("device_id", pa.string()),
    ("crm_id", pa.string()),
    ("session_id", pa.string()),
    ("value", pa.float64()),
    ("cost", pa.float64()),
    ("text", pa.string()),
    ("score", pa.float64()),
    ("page", pa.string()),
    ("product_category", pa.string()),
    ("topic", pa.string()),
    ("reason", pa.string()),
    ("campaign", pa.string()),
    ("survey", pa.string()),
    ("status", pa.string()),
    ("order_id", pa.string()),
    ("order_index", pa.int64()),
    ("payment_method", pa.string()),
    ("promised_date", pa.string()),
    ("days_late", pa.int64()),
    ("response_hours", pa.float64()),
    ("rating", pa.int64()),
    ("referral_code", pa.string()),
    ("device", pa.string()),
    ("language", pa.string()),
    ("city", pa.string()),
)
CUSTOMER_FIELDS: Final = (
    ("crm_id", pa.string()),
    ("email", pa.string()),
    ("phone", pa.string()),
    ("segment", pa.string()),
    ("city", pa.string()),
    ("signup_date", pa.string()),
    ("language", pa.string()),
)


CATEGORICAL: Final = frozenset(
    {
        "event",
        "channel",
        "text",
        "page",
        "product_category",
        "topic",
        "reason",
        "campaign",
        "survey",
        "status",
        "payment_method",
        "device",
        "language",
        "city",
    }
)
"""Columns drawn from a small vocabulary: handed to the Parquet writer as dictionaries
(it would dictionary-encode them anyway; the file stores plain strings)."""
_DICTIONARY: Final = pa.dictionary(pa.int32(), pa.string())


def events_schema(csv: bool) -> Any:
    """The events file's schema as readers see it (CSV spells the time as text)."""
    return pa.schema(
        [
            (name, pa.string() if csv and name == "timestamp" else kind)
            for name, kind in EVENT_FIELDS
        ]
    )


def writer_schema(csv: bool) -> Any:
    """The schema of the tables handed to the writer (:func:`event_table`)."""
    if csv:
        return events_schema(csv)
    return pa.schema(
        [(name, _DICTIONARY if name in CATEGORICAL else kind) for name, kind in EVENT_FIELDS]
    )


def customers_schema() -> Any:
    return pa.schema(list(CUSTOMER_FIELDS))


# UTC offsets a row's time is written with: SaaS platforms (e-mail, ads, referral)
# export UTC; the others write the local time of the customer's country.
_OFFSETS: Final = ("+00:00", "-03:00", "-06:00", "-05:00", "-04:00")
_COUNTRY_OFFSET: Final = np.array([1, 1, 2, 3])
_UTC_CHANNELS: Final = np.array([C["email"], C["social"], C["referral"]])
_OFFSET_HOURS: Final = np.array([0, -3, -6, -5, -4])


def _us_summer(ts: Array) -> Array:
    """Rows that fall inside US daylight saving time (second Sunday of March to first
    Sunday of November, 2:00 local)."""
    if ts.size == 0:
        return np.zeros(0, dtype=bool)
    summer = np.zeros(ts.size, dtype=bool)
    first = datetime.fromtimestamp(int(ts.min()) / 1000, UTC).year
    last = datetime.fromtimestamp(int(ts.max()) / 1000, UTC).year
    for year in range(first, last + 1):
        march = datetime(year, 3, 8, 7, tzinfo=UTC)  # 2:00 EST
        begin = march + timedelta(days=(6 - march.weekday()) % 7)
        november = datetime(year, 11, 1, 6, tzinfo=UTC)  # 2:00 EDT
        end = november + timedelta(days=(6 - november.weekday()) % 7)
        summer |= (ts >= int(begin.timestamp() * 1000)) & (ts < int(end.timestamp() * 1000))
    return summer


def _take(vocabulary: tuple[str, ...], codes: Array, dictionary: bool = False) -> Any:
    """Strings for codes (negative codes are nulls), or the dictionary array of them."""
    indices = pa.array(codes.astype(np.int32), pa.int32(), mask=codes < 0)
    if dictionary:
        return pa.DictionaryArray.from_arrays(indices, pa.array(vocabulary, pa.string()))
    return pc.take(pa.array(vocabulary, pa.string()), indices)


def _sparse(strings: Any, present: Array) -> Any:
    """A column with ``strings`` (one per present row, in order) and nulls elsewhere."""
    positions = np.cumsum(present) - 1
    return pc.take(strings, pa.array(positions, mask=~present))


def _numbers(values: Array, kind: Any) -> Any:
    if kind == pa.float64():
        return pa.array(values, kind, mask=np.isnan(values))
    return pa.array(values.astype(np.int64), kind)


class Identities:
    """The identifier strings of one chunk's people, in every spelling used."""

    def __init__(self, people: Journeys, plan: Plan) -> None:
        n = people.n
        self.n = n
        gidx = people.gidx
        rng = np.random.default_rng([plan.seed, 0x1D, int(gidx[0]) if n else 0])
        # e-mail: first.last + a number unique to the person
        lang, country = people.lang, people.country
        first = np.empty(n, dtype=object)
        last = np.empty(n, dtype=object)
        domain = np.empty(n, dtype=object)
        for code in range(len(v.LANGUAGES)):
            rows = np.flatnonzero(lang == code)
            first[rows] = np.asarray(v.FIRST_NAMES[code], dtype=object)[
                rng.integers(0, len(v.FIRST_NAMES[code]), rows.size)
            ]
            last[rows] = np.asarray(v.LAST_NAMES[code], dtype=object)[
                rng.integers(0, len(v.LAST_NAMES[code]), rows.size)
            ]
        for code in range(len(v.COUNTRIES)):
            rows = np.flatnonzero(country == code)
            weights = np.cumsum(v.EMAIL_DOMAIN_WEIGHTS[code])
            picks = np.searchsorted(weights, rng.random(rows.size) * weights[-1], side="right")
            domain[rows] = np.asarray(v.EMAIL_DOMAINS[code], dtype=object)[picks]
        digits = max(3, len(str(plan.customers)))
        number = pa.array(s.permute_mod(gidx, 10**digits, plan.seed * 7_777 + 17)).cast(pa.string())
        style = rng.integers(0, 3, n)
        first_a, last_a = pa.array(first, pa.string()), pa.array(last, pa.string())
        separator = pa.array(np.asarray([".", "", "_"], dtype=object)[style], pa.string())
        local = pc.binary_join_element_wise(first_a, separator, last_a, number, "")
        self.email = pc.binary_join_element_wise(local, pa.array(domain, pa.string()), "@")
        messy = pc.utf8_upper(self.email)
        self.email_messy = pc.binary_join_element_wise(" ", messy, " ", "")
        # phones: unique per person within the area code
        city = people.city
        area = pa.array(np.asarray([c[2] for c in v.CITIES], dtype=object)[city], pa.string())
        width = np.asarray([c[3] for c in v.CITIES])[city]
        low = np.where(width == 9, 9 * 10**8, 2 * 10 ** (width - 1))
        span = np.where(width == 9, 10**8, 8 * 10 ** (width - 1))
        # a bijection of range(span): unique within an area code below 8M people
        subscriber = low + s.permute_mod(gidx, span, plan.seed * 131 + 3)
        sub = pa.array(subscriber).cast(pa.string())
        cc = pa.array(np.asarray(v.COUNTRY_CODE, dtype=object)[country], pa.string())
        infix = pa.array(np.where(country == 1, "9", ""), pa.string())
        self.phone = pc.binary_join_element_wise("+", cc, infix, area, sub, "")
        split4 = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(sub, 0, -4), pc.utf8_slice_codeunits(sub, -4), " "
        )
        spaced_sub = pc.if_else(pa.array(country >= 2), split4, sub)
        spaced_infix = pa.array(np.where(country == 1, " 9", ""), pa.string())
        self.phone_spaced = pc.binary_join_element_wise(
            "+", cc, spaced_infix, " ", area, " ", spaced_sub, ""
        )
        dashed = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(sub, 0, -4), pc.utf8_slice_codeunits(sub, -4), "-"
        )
        local_form = pc.binary_join_element_wise("(", area, ") ", dashed, "")
        self.phone_local = pc.if_else(pa.array(country == 0), local_form, self.phone_spaced)
        # devices (two per person: the usual one and a desktop), CRM ids
        salt = np.uint64((plan.seed * 0x5851F42D) % (1 << 48))
        slots = np.concatenate([gidx * 2, gidx * 2 + 1]).astype(np.uint64)
        self.device = s.hex_strings("dev_", s.mix48((slots + salt) & np.uint64((1 << 48) - 1)), 12)
        self.crm = s.decimal_strings("crm_", s.permute_mod(gidx, 10**8, plan.seed * 97 + 11), 8)
        self.all = pa.concat_arrays(
            [
                self.email,
                self.email_messy,
                self.phone,
                self.phone_spaced,
                self.phone_local,
                self.device,
                self.crm,
            ]
        )
        # where each kind starts in ``all``: email (2n), phone (3n), device (2n), crm (n)
        self.base = np.array([0, 2 * n, 5 * n, 7 * n])

    def columns(self, rows: dict[str, Array]) -> dict[str, Any]:
        n = self.n
        person = rows["person"].astype(np.int64)
        ids = rows["ids"]
        index = (
            np.stack(
                [
                    rows["email_var"].astype(np.int64) * n + person,
                    rows["phone_var"].astype(np.int64) * n + person,
                    rows["slot"].astype(np.int64) * n + person,
                    person,
                ]
            )
            + self.base[:, None]
        )
        out: dict[str, Any] = {}
        for kind, (name, bit) in enumerate(
            (("email", ID_EMAIL), ("phone", ID_PHONE), ("device_id", ID_DEVICE), ("crm_id", ID_CRM))
        ):
            out[name] = pc.take(self.all, pa.array(index[kind], mask=(ids & bit) == 0))
        key = rows["key"].astype(np.int64)
        out["customer_key"] = pc.take(self.all, pa.array(index[key, np.arange(person.size)]))
        return out


def event_table(
    rows: dict[str, Array],
    people: Journeys,
    identities: Identities,
    plan: Plan,
    first_event: int,
    csv: bool,
) -> Any:
    """The events of one chunk as an Arrow table with :func:`writer_schema`."""
    size = rows["ts"].size
    person = rows["person"].astype(np.int64)
    ts = rows["ts"]
    event, channel = rows["event"].astype(np.int64), rows["channel"].astype(np.int64)
    counter = np.arange(first_event, first_event + size, dtype=np.uint64)
    columns: dict[str, Any] = {
        "event_id": s.hex_strings("evt_", s.mix64(counter + np.uint64(plan.seed << 40)), 16),
    }
    if csv:
        country = people.country[person]
        offset = np.where(np.isin(channel, _UTC_CHANNELS), 0, _COUNTRY_OFFSET[country])
        offset = np.where((offset == 3) & _us_summer(ts), 4, offset)
        local = ts + _OFFSET_HOURS[offset] * HOUR
        columns["timestamp"] = s.iso_timestamps(local, _OFFSETS, offset)
    else:
        columns["timestamp"] = pa.array(ts, TIMESTAMP_TYPE)

    def category(vocabulary: tuple[str, ...], codes: Array) -> Any:
        return _take(vocabulary, codes, dictionary=not csv)

    columns["event"] = category(v.EVENTS, event)
    columns["channel"] = category(v.CHANNELS, channel)
    columns.update(identities.columns(rows))
    columns["session_id"] = pa.nulls(size, pa.string())
    columns["value"] = _numbers(rows["value"], pa.float64())
    columns["cost"] = _numbers(rows["cost"], pa.float64())
    columns["text"] = category(v.TEXTS, rows["text"])
    columns["score"] = _numbers(rows["score"], pa.float64())
    columns["page"] = category(v.PAGES, rows["page"])
    columns["product_category"] = category(v.CATEGORIES, rows["category"])
    columns["topic"] = category(v.TOPICS, rows["topic"])
    columns["reason"] = category(v.REASONS, rows["reason"])
    columns["campaign"] = category(v.CAMPAIGNS, rows["campaign"])
    columns["survey"] = category(v.SURVEYS, rows["survey"])
    columns["status"] = category(v.STATUSES, rows["status"])
    order_index = rows["order_index"].astype(np.int64)
    has_order = order_index > 0
    order_id = s.decimal_strings(
        "ORD-",
        s.permute_mod(
            people.gidx[person[has_order]] * 8 + order_index[has_order], 10**10, plan.seed
        ),
        10,
    )
    columns["order_id"] = _sparse(order_id, has_order)
    columns["order_index"] = pa.array(order_index, pa.int64(), mask=~has_order)
    columns["payment_method"] = category(v.PAYMENT_METHODS, rows["payment"])
    promised = rows["promised"]
    promised_day = (promised + STORE_UTC_OFFSET_HOURS * HOUR) // DAY
    columns["promised_date"] = pa.array(
        promised_day.astype(np.int32), pa.date32(), mask=promised == 0
    ).cast(pa.string())
    days_late = rows["days_late"].astype(np.int64)
    columns["days_late"] = pa.array(days_late, pa.int64(), mask=days_late < 0)
    columns["response_hours"] = _numbers(rows["response_hours"], pa.float64())
    rating = rows["rating"].astype(np.int64)
    columns["rating"] = pa.array(rating, pa.int64(), mask=rating == 0)
    ref = rows["ref"]
    referring = ref >= 0
    code = s.hex_strings("REF", s.mix32(ref[referring].astype(np.uint64)), 8, upper=True)
    columns["referral_code"] = _sparse(code, referring)
    on_screen = np.isin(channel, [C["web"], C["app"], C["print"]])
    device = np.where(rows["slot"] == 1, 1, people.device0[person])
    columns["device"] = category(v.DEVICES, np.where(on_screen, device, -1))
    speaks = np.isin(channel, [C["email"], C["chat"], C["phone"]]) | (rows["text"] >= 0)
    columns["language"] = category(v.LANGUAGES, np.where(speaks, people.lang[person], -1))
    placed = (
        (event == E["order_delivered"]) | (channel == C["store"]) | (event == E["support_ticket"])
    )
    columns["city"] = category(v.CITY_NAMES, np.where(placed, people.city[person], -1))
    schema = writer_schema(csv)
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


def customer_table(people: Journeys, identities: Identities, plan: Plan) -> Any:
    """The CRM profiles of the chunk's people who have an account by the end."""
    known = np.flatnonzero(people.crm_at < plan.end_ms)
    signup_day = (people.crm_at[known] + STORE_UTC_OFFSET_HOURS * HOUR) // DAY
    columns = {
        "crm_id": pc.take(identities.crm, pa.array(known)),
        "email": pc.take(identities.email, pa.array(known)),
        "phone": pc.take(identities.phone, pa.array(known)),
        "segment": _take(v.SEGMENTS, people.segment[known]),
        "city": _take(v.CITY_NAMES, people.city[known]),
        "signup_date": pa.array(signup_day.astype(np.int32), pa.date32()).cast(pa.string()),
        "language": _take(v.LANGUAGES, people.lang[known]),
    }
    schema = customers_schema()
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)
