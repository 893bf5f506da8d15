"""A seeded, realistic omnichannel event log for the demo, the tests and the benchmarks.

Aurora, an online running store based in Brazil (with customers in Argentina,
Mexico and the US), as its business systems would export it: the web and app
analytics, the ad and referral platforms, the e-mail service, the live chat and
help desk, the carrier, the shop tills and billing all write to one events file,
each knowing the customer by its own key. ``customers.csv`` is the CRM.

>>> import tempfile
>>> data = generate_dataset(Path(tempfile.mkdtemp()), customers=1_000, seed=7)
>>> import pyarrow.parquet as pq
>>> events = pq.read_table(data.events_path)
>>> events.num_rows == data.events, data.mapping["time"]
(True, 'timestamp')
>>> sorted(STORIES)
['checkout_bug_week', 'referral_programme', 'support_backlog']

The people walk the journey of the ``b2c-ecommerce`` template (discover ->
compare -> buy -> delivery -> first runs -> loyalty), dropping out at every stage:
minutes apart within a visit, days apart between stages, over ``days`` days from
``start`` (dates on the store's clock, UTC-03:00; default 2026-01-01, 180 days).
About 16 events a person on average (10M events ~ 610k people); about one person
in nine buys (avg. order ~310 BRL), one buyer in six buys again, one delivery in
seven is late. Events past the end of the range are cut off.

**events.parquet / events.csv** (one row per event; Parquet holds the time as a
UTC ``timestamp[ms, tz=UTC]``, CSV as ISO 8601 text with the offset the source
wrote: ``+00:00`` for the e-mail, ad and referral platforms, the customer's local
offset for the rest, e.g. ``2026-03-04T21:17:05.123-03:00``):

- ``event_id`` (unique), ``timestamp``, ``event``, ``channel``
- ``customer_key``: the source system's own key for the actor: a device id
  ``dev_...`` on web, app, ads, QR scans; the e-mail address on e-mail, chat and
  referral-programme events; the phone on store and delivery events; the CRM id
  ``crm_...`` on support tickets and billing.
- ``email``, ``phone``, ``device_id``, ``crm_id``: sparse, filled where that
  system knows them (a login, checkout or purchase on web/app carries device and
  e-mail; a support ticket CRM id and e-mail, plus the phone on calls; a shop
  purchase the phone, and the e-mail with a loyalty card). Spellings differ: the
  CRM writes ``+5531998765432``, the carrier ``+55 31 998765432``, the tills
  ``(31) 99876-5432``; some hand-typed e-mails (chat, tills, tickets) come as
  ``' ANA.SILVA12@GMAIL.COM '``. Normalised, they link through ``customers.csv``.
- ``value`` (revenue on ``purchase``, negative on ``refund_issued``), ``cost``
  (ad spend on ``ad_impression``/``ad_click``), ``text`` (chat, ticket, survey and
  review comments in the customer's language: pt-BR, es, en), ``score``
  (``survey_response``: CSAT 1-5, NPS 0-10, CES 1-7 as ``survey`` says),
  ``session_id`` (always empty: the loader derives sessions).
- properties: ``page``, ``product_category``, ``topic`` (chat), ``reason``
  (tickets), ``campaign``, ``survey``, ``status`` (shipment), ``order_id``,
  ``order_index`` (1 = first order), ``payment_method``, ``promised_date``,
  ``days_late`` (deliveries), ``response_hours`` (tickets: hours to a first
  answer), ``rating`` (reviews), ``referral_code``, ``device``, ``language``,
  ``city``.

**customers.csv**: ``crm_id, email, phone, segment, city, signup_date, language``
for everyone with an account by the end (they open one at their first checkout).

Every binding of the ``b2c-ecommerce`` map finds its events (ad_impression and
ad_click on social, referral_click, /blog pages, product and review views, sizing
chats, cart, checkout, payment_failed, purchase, confirmation e-mails, shipment
updates and tracking, ``order_status`` tickets, order_delivered, training-plan QR
scans, post-purchase e-mails, surveys, reviews, loyalty, referrals), beside events
the rules must filter out (other pages, topics, reasons and campaigns).

**The stories** (:data:`STORIES`, :func:`plan_stories` for other ranges; they
scale with the range). Numbers measured on 10M events, seed 7:

1. *Checkout bug week*, ISO week 2026-W10 (Mon 2 - Sun 8 March), web only: card
   payments fail (80% of attempts, normally 7%); payment_failed on the web jumps
   from ~200 a week to ~2,900 and checkout_started -> purchase falls from 75% to
   24%. The app keeps converting at 75%.
2. *Support backlog*, 6 - 26 April: the ~2,700 tickets opened then wait a median
   40 h for a first answer (p90 113 h) against 0.4 h otherwise (p90 8 h), and
   half of those customers write again (reason ``follow_up``). Of the customers
   whose first ticket falls in the backlog, 76% close their account
   (``account_closed``) or unsubscribe (``email_unsubscribed``) within 60 days
   (7% after other tickets) and 1% buy again within 60 days (16% otherwise).
3. *Referral programme*, from 15 January: about 13% of visitors arrive through a
   friend's link (``referral_click``); 23% of them buy, against 11% of visitors
   who arrive from an ad and 13% from a site page: about twice the rate.

Same ``seed`` and ``chunk_customers`` -> byte-identical files. People are
simulated ``chunk_customers`` at a time with numpy (no loop over people or
events) and streamed to the writer, so memory stays bounded by the chunk (about
0.9 GB resident at the default 50,000); 10M events take ~13 s on one core.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from jornada.demo import _journey as j
from jornada.demo._table import (
    Identities,
    customer_table,
    customers_schema,
    event_table,
    writer_schema,
)

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_START",
    "EVENTS_PER_CUSTOMER",
    "LOAD_MAPPING",
    "STORIES",
    "GeneratedDataset",
    "Story",
    "estimate_customers",
    "generate_dataset",
    "plan_stories",
]

DEFAULT_START: Final = date(2026, 1, 1)
DEFAULT_DAYS: Final = 180
MIN_DAYS: Final = 28
EVENTS_PER_CUSTOMER: Final = 16.4
"""Events per simulated person, on average, over the default 180 days (measured)."""

LOAD_MAPPING: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "customer": "customer_key",
        "time": "timestamp",
        "event": "event",
        "channel": "channel",
        "value": "value",
        "cost": "cost",
        "text": "text",
        "score": "score",
        "id": "event_id",
        "identities": {"email": "email", "phone": "phone", "device": "device_id", "crm": "crm_id"},
    }
)
"""How the events file maps onto the canonical events table (the loader's mapping)."""


@dataclass(frozen=True)
class Story:
    """A pattern planted in the data for analyses to find.

    ``start``/``end`` are dates on the store's clock (UTC−03:00), ``end`` exclusive;
    ``numbers`` are the design values (rates and factors) the data is drawn from.
    """

    id: str
    title: str
    start: date
    end: date
    channel: str | None
    summary: str
    numbers: Mapping[str, float] = field(hash=False)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _median_hours(medians: npt.NDArray[np.float64]) -> float:
    """The median of the ticket channels' log-normal response times, mixed."""

    def below(hours: float) -> float:
        z = (math.log(hours) - np.log(medians)) / (j.RESPONSE_SIGMA * math.sqrt(2))
        return float(np.sum(j.TICKET_CHANNEL_SHARE * 0.5 * (1 + np.vectorize(math.erf)(z))))

    low, high = 0.01, 1000.0
    for _ in range(60):
        middle = math.sqrt(low * high)
        low, high = (middle, high) if below(middle) < 0.5 else (low, middle)
    return round(low, 1)


def plan_stories(start: date = DEFAULT_START, days: int = DEFAULT_DAYS) -> dict[str, Story]:
    """Where the three stories fall for a date range (they scale with its length).

    >>> stories = plan_stories(date(2026, 1, 1), 180)
    >>> stories["checkout_bug_week"].start.isocalendar().week
    10
    >>> str(stories["support_backlog"].start), str(stories["support_backlog"].end)
    ('2026-04-06', '2026-04-27')
    """
    if days < MIN_DAYS:
        raise ValueError(f"the demo data needs at least {MIN_DAYS} days, not {days}")
    end = start + timedelta(days=days)
    bug = _monday(start + timedelta(days=round(days * 0.35)))
    if bug < start:
        bug += timedelta(days=7)
    backlog = _monday(start + timedelta(days=round(days * 0.53)))
    if backlog <= bug:
        backlog = bug + timedelta(days=7)
    backlog_days = 7 * max(1, round(days * 0.12 / 7))
    launch = start + timedelta(days=round(days * 0.08))
    checkout_ok = (1 - j.P_CHECKOUT_ABANDON) * (
        1 - j.P_PAYMENT_FAIL + j.P_PAYMENT_FAIL * j.P_RETRY * (1 - j.P_RETRY_FAIL)
    )
    checkout_bug = (1 - j.P_CHECKOUT_ABANDON) * (
        1 - j.P_PAYMENT_FAIL_BUG + j.P_PAYMENT_FAIL_BUG * j.P_RETRY_BUG * (1 - j.P_RETRY_FAIL_BUG)
    )
    reach = j.P_CONSIDER * j.P_CART * j.P_CHECKOUT
    others = [j.SOCIAL, j.ORGANIC, j.DIRECT]
    baseline = float(np.average(reach[others], weights=j.SOURCE_SHARE[others]))
    year, week, _ = bug.isocalendar()
    return {
        "checkout_bug_week": Story(
            id="checkout_bug_week",
            title="Checkout bug week",
            start=bug,
            end=bug + timedelta(days=7),
            channel="web",
            summary=f"ISO week {year}-W{week:02d}: a payment-provider bug on the web checkout "
            "(the app is not affected) declines most cards, payment_failed surges and "
            "checkout_started -> purchase conversion falls to about a third of normal.",
            numbers=MappingProxyType(
                {
                    "payment_failure_rate": j.P_PAYMENT_FAIL_BUG,
                    "baseline_payment_failure_rate": j.P_PAYMENT_FAIL,
                    "checkout_conversion": round(checkout_bug, 3),
                    "baseline_checkout_conversion": round(checkout_ok, 3),
                }
            ),
        ),
        "support_backlog": Story(
            id="support_backlog",
            title="Support backlog",
            start=backlog,
            end=backlog + timedelta(days=backlog_days),
            channel=None,
            summary="Support tickets opened in this period wait days for a first answer "
            "(properties.response_hours). Half of the ignored customers write again "
            "(reason follow_up); most close their account or unsubscribe, and the rest "
            "go silent: they rarely buy again.",
            numbers=MappingProxyType(
                {
                    "median_response_hours": _median_hours(j.BACKLOG_RESPONSE_MEDIAN_HOURS),
                    "baseline_median_response_hours": _median_hours(j.RESPONSE_MEDIAN_HOURS),
                    "cancellation_rate": j.P_CLOSE_BACKLOG + j.P_UNSUBSCRIBE_BACKLOG,
                    "baseline_cancellation_rate": j.P_CLOSE_TICKET + j.P_UNSUBSCRIBE_TICKET,
                    "repeat_purchase_factor": j.REPEAT_AFTER_BACKLOG,
                }
            ),
        ),
        "referral_programme": Story(
            id="referral_programme",
            title="Referral programme",
            start=launch,
            end=end,
            channel="referral",
            summary="From its launch, friends' links (referral_click) bring visitors who "
            "buy about twice as often as visitors from ads, the blog or direct visits.",
            numbers=MappingProxyType(
                {
                    "conversion_ratio": round(float(reach[j.REFERRAL]) / baseline, 2),
                    "share_of_visitors": float(j.SOURCE_SHARE[j.REFERRAL]),
                }
            ),
        ),
    }


STORIES: Final[Mapping[str, Story]] = MappingProxyType(plan_stories())
"""The stories of the default date range (2026-01-01, 180 days)."""


@dataclass(frozen=True)
class GeneratedDataset:
    """What :func:`generate_dataset` wrote."""

    events_path: Path
    customers_path: Path
    events: int
    """Rows in the events file."""
    customers: int
    """People simulated (known or anonymous)."""
    profiles: int
    """Rows in ``customers.csv``: the people with an account by the end."""
    format: Literal["parquet", "csv"]
    seed: int
    start: date
    days: int
    stories: Mapping[str, Story] = field(hash=False)
    mapping: dict[str, Any] = field(hash=False)
    """The loader's column mapping for the events file (:data:`LOAD_MAPPING`)."""


def _utc_ms(day: date) -> int:
    """Midnight of ``day`` on the store's clock, as UTC milliseconds."""
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return int(moment.timestamp()) * 1000 - j.STORE_UTC_OFFSET_HOURS * j.HOUR


PARQUET_ROW_GROUP: Final = 122_880
"""Rows per Parquet row group, DuckDB's own choice: readers split work by row group, so
pyarrow's default (a million rows) would leave all but one core idle on a load."""


def _write(events_writer: Any, events: Any, customers_writer: Any, customers: Any) -> None:
    if isinstance(events_writer, pq.ParquetWriter):
        events_writer.write_table(events, row_group_size=PARQUET_ROW_GROUP)
    else:
        events_writer.write_table(events)
    customers_writer.write_table(customers)


def generate_dataset(
    out_dir: Path,
    *,
    customers: int,
    seed: int = 7,
    format: Literal["parquet", "csv"] = "parquet",
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    chunk_customers: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> GeneratedDataset:
    """Write ``events.parquet`` (or ``events.csv``) and ``customers.csv`` to ``out_dir``.

    ``customers`` people are simulated, ``chunk_customers`` at a time (memory stays
    bounded by the chunk); the same ``seed`` and ``chunk_customers`` give the same
    files. ``progress`` is called after each chunk with the people done so far.

    >>> import tempfile
    >>> data = generate_dataset(Path(tempfile.mkdtemp()), customers=2_000, seed=1)
    >>> data.events_path.name, data.customers_path.name
    ('events.parquet', 'customers.csv')
    >>> 20_000 < data.events < 45_000, data.mapping["identities"]["crm"]
    (True, 'crm_id')
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if chunk_customers < 1:
        raise ValueError("chunk_customers must be at least 1")
    if seed < 0:
        raise ValueError("seed must not be negative")
    if format not in ("parquet", "csv"):
        raise ValueError(f"format must be 'parquet' or 'csv', not {format!r}")
    stories = plan_stories(start, days)
    bug, backlog = stories["checkout_bug_week"], stories["support_backlog"]
    plan = j.Plan(
        seed=seed,
        customers=customers,
        start_ms=_utc_ms(start),
        end_ms=_utc_ms(start + timedelta(days=days)),
        bug_start_ms=_utc_ms(bug.start),
        bug_end_ms=_utc_ms(bug.end),
        backlog_start_ms=_utc_ms(backlog.start),
        backlog_end_ms=_utc_ms(backlog.end),
        referral_launch_ms=_utc_ms(stories["referral_programme"].start),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = format == "csv"
    events_path = out_dir / f"events.{format}"
    customers_path = out_dir / "customers.csv"
    events_tmp = events_path.with_name(events_path.name + ".partial")
    customers_tmp = customers_path.with_name(customers_path.name + ".partial")
    schema = writer_schema(csv)
    events_writer: Any = (
        pa_csv.CSVWriter(events_tmp, schema)
        if csv
        else pq.ParquetWriter(events_tmp, schema, compression="zstd", store_schema=False)
    )
    customers_writer: Any = pa_csv.CSVWriter(customers_tmp, customers_schema())
    events = profiles = 0
    try:
        # the next chunk is simulated while the last one is compressed and written
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jornada-demo") as pool:
            pending: Future[None] | None = None
            for number, first in enumerate(range(0, customers, chunk_customers)):
                size = min(chunk_customers, customers - first)
                people = j.Journeys(np.random.default_rng([seed, number]), plan, first, size)
                rows = people.run().collect(plan.start_ms, plan.end_ms)
                identities = Identities(people, plan)
                table = event_table(rows, people, identities, plan, events, csv)
                profile_table = customer_table(people, identities, plan)
                del people, rows, identities
                if pending is not None:
                    pending.result()
                pending = pool.submit(_write, events_writer, table, customers_writer, profile_table)
                events += table.num_rows
                profiles += profile_table.num_rows
                del table, profile_table
                if progress is not None:
                    progress(first + size)
            if pending is not None:
                pending.result()
    except BaseException:
        events_writer.close()
        customers_writer.close()
        events_tmp.unlink(missing_ok=True)
        customers_tmp.unlink(missing_ok=True)
        raise
    events_writer.close()
    customers_writer.close()
    events_tmp.replace(events_path)
    customers_tmp.replace(customers_path)
    return GeneratedDataset(
        events_path=events_path,
        customers_path=customers_path,
        events=events,
        customers=customers,
        profiles=profiles,
        format=format,
        seed=seed,
        start=start,
        days=days,
        stories=MappingProxyType(stories),
        mapping={**LOAD_MAPPING, "identities": dict(LOAD_MAPPING["identities"])},
    )


def estimate_customers(events: int) -> int:
    """People to simulate for about ``events`` events over the default range."""
    return max(1, math.ceil(events / EVENTS_PER_CUSTOMER))
