"""The demo event generator: seeded, complete for the demo map, split identities, and
the three stories visible with plain pandas."""

from __future__ import annotations

import doctest
import hashlib
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from jornada.demo import _journey, _table, generator
from jornada.demo.generator import (
    DEFAULT_DAYS,
    DEFAULT_START,
    LOAD_MAPPING,
    STORIES,
    GeneratedDataset,
    estimate_customers,
    generate_dataset,
    plan_stories,
)
from jornada.model.templates import load_template

SEED = 11
CUSTOMERS = 30_000
STORE_TZ = "America/Sao_Paulo"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDataset:
    return generate_dataset(tmp_path_factory.mktemp("demo"), customers=CUSTOMERS, seed=SEED)


@pytest.fixture(scope="module")
def events(dataset: GeneratedDataset) -> pd.DataFrame:
    frame = pd.read_parquet(dataset.events_path)
    for column in ("event", "channel"):
        frame[column] = frame[column].astype("category")
    frame["local"] = frame["timestamp"].dt.tz_convert(STORE_TZ)
    frame["day"] = frame["local"].dt.tz_localize(None).dt.normalize()
    frame["norm_email"] = frame["email"].str.strip().str.lower()
    return frame


@pytest.fixture(scope="module")
def profiles(dataset: GeneratedDataset) -> pd.DataFrame:
    return pd.read_csv(dataset.customers_path, dtype=str, keep_default_na=False)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _normal_phone(raw: pd.Series) -> pd.Series:
    """Digits with the country code; national Brazilian spellings get +55."""
    digits = raw.str.replace(r"\D", "", regex=True)
    return digits.where(raw.str.strip().str.startswith("+"), "55" + digits)


# --- files, seeds, columns -----------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = generate_dataset(tmp_path / "a", customers=3_000, seed=3)
    again = generate_dataset(tmp_path / "b", customers=3_000, seed=3)
    other = generate_dataset(tmp_path / "c", customers=3_000, seed=4)
    assert _digest(first.events_path) == _digest(again.events_path)
    assert _digest(first.customers_path) == _digest(again.customers_path)
    assert _digest(first.events_path) != _digest(other.events_path)
    assert (first.events, first.profiles) == (again.events, again.profiles)


def test_counts_match_the_files(dataset: GeneratedDataset, events: pd.DataFrame) -> None:
    assert dataset.customers == CUSTOMERS
    assert dataset.events == len(events) == pq.ParquetFile(dataset.events_path).metadata.num_rows
    profiles = pd.read_csv(dataset.customers_path, dtype=str)
    assert dataset.profiles == len(profiles)
    per_customer = dataset.events / dataset.customers
    assert 14.5 < per_customer < 19, per_customer
    assert abs(per_customer - generator.EVENTS_PER_CUSTOMER) < 1.0
    assert estimate_customers(10_000_000) == pytest.approx(600_000, rel=0.05)
    assert not list(dataset.events_path.parent.glob("*.partial"))


def test_columns_and_types(dataset: GeneratedDataset, events: pd.DataFrame) -> None:
    schema = pq.read_schema(dataset.events_path)
    assert schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    for name in ("event_id", "event", "channel", "customer_key", "value", "cost", "text", "score"):
        assert name in schema.names
    for name in ("page", "topic", "reason", "campaign", "product_category", "device"):
        assert name in schema.names
    for name in ("response_hours", "survey", "language", "city", "order_index"):
        assert name in schema.names
    assert events["event_id"].is_unique
    assert events["session_id"].isna().all()
    assert events["customer_key"].notna().all()
    assert events["timestamp"].is_monotonic_increasing  # one chunk: in time order
    start = pd.Timestamp(DEFAULT_START, tz=STORE_TZ)
    assert events["local"].min() >= start
    assert events["local"].max() < start + pd.Timedelta(days=DEFAULT_DAYS)
    assert dataset.mapping == dict(LOAD_MAPPING)
    assert isinstance(dataset.mapping, dict)
    for column in dataset.mapping["identities"].values():
        assert column in schema.names
    # values where they belong
    purchases = events[events["event"] == "purchase"]
    assert (purchases["value"] > 0).all()
    refunds = events[events["event"] == "refund_issued"]
    assert len(refunds) > 0
    assert (refunds["value"] < 0).all()
    ads = events[events["event"].isin(["ad_impression", "ad_click"])]
    assert (ads["cost"] > 0).all()
    assert events.loc[~events.index.isin(ads.index), "cost"].isna().all()
    surveys = events[events["event"] == "survey_response"]
    ranges = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
    assert set(surveys["survey"]) == set(ranges)
    for survey, (low, high) in ranges.items():
        scores = surveys.loc[surveys["survey"] == survey, "score"]
        assert scores.between(low, high).all()
        assert scores.nunique() > 3
    texts = events[events["text"].notna()]
    assert set(texts["event"]) >= {"support_ticket", "survey_response", "chat_started"}
    assert set(texts["language"]) == {"pt-BR", "es", "en"}
    assert texts.loc[texts["language"] == "es", "text"].str.contains("¿|ñ|á|é|ó").any()


def test_csv_and_parquet_agree(tmp_path: Path) -> None:
    parquet = generate_dataset(tmp_path / "p", customers=3_000, seed=5)
    csv = generate_dataset(tmp_path / "c", customers=3_000, seed=5, format="csv")
    assert csv.events_path.name == "events.csv"
    assert (csv.events, csv.profiles) == (parquet.events, parquet.profiles)
    assert _digest(csv.customers_path) == _digest(parquet.customers_path)
    schema = _table.events_schema(csv=True)
    from_csv = pa_csv.read_csv(
        csv.events_path,
        convert_options=pa_csv.ConvertOptions(column_types=schema, strings_can_be_null=True),
    )
    from_parquet = pq.read_table(parquet.events_path)
    assert from_csv.column_names == from_parquet.column_names
    for name in from_csv.column_names:
        if name != "timestamp":
            assert from_csv[name].equals(from_parquet[name]), name
    written = from_csv["timestamp"].to_pandas()
    iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$"
    assert written.str.match(iso).all()
    assert written.str[-6:].nunique() >= 3  # UTC exports and local clocks side by side
    instants = pd.to_datetime(written, format="ISO8601", utc=True)
    assert (instants.to_numpy() == from_parquet["timestamp"].to_pandas().to_numpy()).all()


def test_chunked_run_and_progress(tmp_path: Path) -> None:
    done: list[int] = []
    data = generate_dataset(
        tmp_path, customers=3_000, seed=2, chunk_customers=700, progress=done.append
    )
    assert done == [700, 1400, 2100, 2800, 3000]
    events = pd.read_parquet(data.events_path)
    assert len(events) == data.events
    assert events["event_id"].is_unique
    assert 12 < data.events / data.customers < 21
    profiles = pd.read_csv(data.customers_path, dtype=str)
    for column in ("crm_id", "email", "phone"):
        assert profiles[column].is_unique, column
    # each chunk is time-ordered; identifiers never repeat across chunks
    devices = events.dropna(subset=["device_id"])
    assert devices["device_id"].str.match(r"^dev_[0-9a-f]{12}$").all()


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="customers"):
        generate_dataset(tmp_path, customers=0)
    with pytest.raises(ValueError, match="days"):
        generate_dataset(tmp_path, customers=10, days=10)
    with pytest.raises(ValueError, match="format"):
        generate_dataset(tmp_path, customers=10, format="xlsx")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk"):
        generate_dataset(tmp_path, customers=10, chunk_customers=0)


def test_another_date_range(tmp_path: Path) -> None:
    start = date(2025, 10, 1)
    data = generate_dataset(tmp_path, customers=2_000, start=start, days=60)
    events = pd.read_parquet(data.events_path)
    local = events["timestamp"].dt.tz_convert(STORE_TZ).dt.tz_localize(None)
    assert local.min() >= pd.Timestamp(start)
    assert local.max() < pd.Timestamp(start + timedelta(days=60))
    for story in data.stories.values():
        assert start <= story.start < story.end <= start + timedelta(days=60)


def test_docstrings() -> None:
    result = doctest.testmod(generator, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# --- the demo map's bindings -----------------------------------------------------------

_RULE = re.compile(r"^properties\.(\w+)\s*(=|starts with|>)\s*(?:'([^']*)'|(\d+))$")


def _where(events: pd.DataFrame, rule: str | None) -> pd.Series:
    if rule is None:
        return pd.Series(True, index=events.index)
    match = _RULE.match(rule.strip())
    assert match, f"test cannot read the rule {rule!r}"
    column, operator, text, number = match.groups()
    values = events[column]
    if operator == "=":
        return values == text
    if operator == "starts with":
        return values.str.startswith(text, na=False)
    return values > int(number)


def test_every_binding_of_the_demo_map_has_events(events: pd.DataFrame) -> None:
    journey = load_template("b2c-ecommerce", "en")
    bindings = []
    for stage in journey.stages:
        bindings.append(stage.events)
        bindings.extend(touchpoint.events for touchpoint in stage.touchpoints)
        bindings.extend(milestone.events for milestone in stage.milestones)
    checked = 0
    for binding in bindings:
        if binding is None:
            continue
        checked += 1
        rows = _where(events, binding.where)
        if binding.names:
            rows &= events["event"].isin(binding.names)
        if binding.channels:
            rows &= events["channel"].isin(binding.channels)
        matched = events[rows]
        assert len(matched) >= 20, binding
        assert set(matched["event"]) >= set(binding.names), binding
        assert set(matched["channel"]) >= set(binding.channels), binding
        if binding.where and binding.names:  # the rule filters: other values exist too
            assert (events["event"].isin(binding.names) & ~rows).any(), binding
    assert checked >= 20


# --- identities -----------------------------------------------------------------------

_ID_COLUMNS = {"email": "email", "phone": "phone", "device_id": "device", "crm_id": "crm"}


def _nodes(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalised identifiers of each row, one column per kind (the kinds' spellings
    never collide: dev_..., crm_..., an @, digits)."""
    out = pd.DataFrame(index=frame.index)
    for column, kind in _ID_COLUMNS.items():
        if column not in frame:
            continue
        raw = frame[column]
        if kind == "email":
            value = raw.str.strip().str.lower()
        elif kind == "phone":
            value = _normal_phone(raw)
        else:
            value = raw
        out[kind] = value
    return out


def _components(pairs: list[tuple[pd.Series, pd.Series]]) -> pd.Series:
    """Connected components of identifiers linked by appearing on one row."""
    left = pd.concat([a for a, _ in pairs], ignore_index=True)
    right = pd.concat([b for _, b in pairs], ignore_index=True)
    keep = left.notna() & right.notna()
    codes, names = pd.factorize(pd.concat([left[keep], right[keep]], ignore_index=True))
    half = int(keep.sum())
    a, b = codes[:half], codes[half:]
    labels = np.arange(len(names))
    while True:
        before = labels.copy()
        low = np.minimum(labels[a], labels[b])
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        labels = labels[labels]
        if np.array_equal(labels, before):
            return pd.Series(labels, index=names)


def _link(events: pd.DataFrame, profiles: pd.DataFrame) -> pd.Series:
    rows, crm = _nodes(events), _nodes(profiles)
    pairs = [(rows[x], rows[y]) for x in rows for y in rows if x < y]
    pairs += [(crm["crm"], crm["email"]), (crm["crm"], crm["phone"])]
    return _components(pairs)


def test_identifiers_are_split_across_systems(events: pd.DataFrame) -> None:
    key = events["customer_key"]
    kinds = np.select(
        [
            key.str.startswith("dev_"),
            key.str.startswith("crm_"),
            key.str.contains("@"),
            key.str.match(r"^[+(]"),
        ],
        ["device", "crm", "email", "phone"],
        "other",
    )
    by_channel = pd.crosstab(events["channel"], kinds)
    assert "other" not in by_channel.columns
    assert (by_channel.loc[["web", "app", "social", "print"], "device"] > 0).all()
    assert by_channel.loc["email"].idxmax() == "email"
    assert by_channel.loc[["store", "delivery"]].idxmax(axis=1).eq("phone").all()
    assert by_channel.loc[["billing"]].idxmax(axis=1).eq("crm").all()
    assert by_channel.loc["chat", "crm"] > 0
    # no identifier column is on every row: one column cannot follow a customer
    for column in _ID_COLUMNS:
        share = events[column].notna().mean()
        assert 0.001 < share < 0.95, (column, share)
    # each system spells identifiers its own way; normalised, they meet
    emails = events["email"].dropna()
    messy = emails[emails.str.strip().ne(emails) & emails.str.isupper()]
    assert len(messy) > 10
    phones = events["phone"].dropna()
    assert phones.str.match(r"^\(\d\d\) \d{5}-\d{4}$").any()
    assert phones.str.match(r"^\+55 \d\d \d{9}$").any()
    assert phones.str.match(r"^\+\d{11,13}$").any()


def test_identities_link_through_the_crm(events: pd.DataFrame, profiles: pd.DataFrame) -> None:
    components = _link(events, profiles)
    crm_nodes = profiles["crm_id"]
    assert components[crm_nodes].is_unique  # no two CRM customers merged
    # a CRM customer's component spans devices, e-mail, phone and several channels
    nodes = _nodes(events)
    label = nodes["device"].map(components)
    for kind in ("email", "phone", "crm"):
        label = label.fillna(nodes[kind].map(components))
    linked = events.assign(label=label).dropna(subset=["label"])
    crm_labels = set(components[crm_nodes])
    known = linked[linked["label"].isin(crm_labels)]
    spans = known.groupby("label").agg(
        channels=("channel", "nunique"), keys=("customer_key", "nunique")
    )
    assert spans["channels"].median() >= 4
    assert spans["keys"].median() >= 3
    buyers = known.loc[known["event"] == "purchase", "label"].nunique()
    assert buyers > 0.9 * len(profiles) * 0.8


def test_identities_against_the_truth() -> None:
    """On one simulated chunk, linking by identifiers never merges two people and
    finds most of a known customer's events."""
    stories = plan_stories()
    start = generator._utc_ms(DEFAULT_START)
    plan = _journey.Plan(
        seed=1,
        customers=4_000,
        start_ms=start,
        end_ms=start + DEFAULT_DAYS * _journey.DAY,
        bug_start_ms=generator._utc_ms(stories["checkout_bug_week"].start),
        bug_end_ms=generator._utc_ms(stories["checkout_bug_week"].end),
        backlog_start_ms=generator._utc_ms(stories["support_backlog"].start),
        backlog_end_ms=generator._utc_ms(stories["support_backlog"].end),
        referral_launch_ms=generator._utc_ms(stories["referral_programme"].start),
    )
    people = _journey.Journeys(np.random.default_rng(1), plan, 0, 4_000)
    rows = people.run().collect(plan.start_ms, plan.end_ms)
    identities = _table.Identities(people, plan)
    table = _table.event_table(rows, people, identities, plan, 0, csv=False).to_pandas()
    table["person"] = rows["person"]
    profiles = _table.customer_table(people, identities, plan).to_pandas()
    components = _link(table, profiles)
    nodes = _nodes(table)
    # every identifier belongs to one person...
    long = nodes.assign(person=table["person"]).melt(id_vars="person").dropna()
    assert long.groupby("value")["person"].nunique().max() == 1
    # ... and every component to one person
    long["component"] = long["value"].map(components)
    assert long.groupby("component")["person"].nunique().max() == 1
    # the customer key alone never follows a known customer through the journey
    known = set(np.flatnonzero(people.crm_at < plan.end_ms))
    mine = table[table["person"].isin(known)]
    keys = mine.groupby("person")["customer_key"].nunique()
    assert keys.median() >= 3
    assert (keys >= 2).mean() > 0.9
    # linked, most of their events come together
    label = nodes.loc[mine.index, "device"].map(components)
    for kind in ("email", "phone", "crm"):
        label = label.fillna(nodes.loc[mine.index, kind].map(components))
    crm_label = profiles["crm_id"].map(components)
    crm_label.index = np.flatnonzero(people.crm_at < plan.end_ms)
    found = label.to_numpy() == crm_label.reindex(mine["person"]).to_numpy()
    assert found.mean() > 0.85


# --- the stories ----------------------------------------------------------------------


def _weekly(frame: pd.DataFrame) -> pd.DataFrame:
    week = frame["day"] - pd.to_timedelta(frame["day"].dt.day_of_week, unit="D")
    return frame.assign(week=week).pivot_table(
        index="week",
        columns="event",
        values="event_id",
        aggfunc="count",
        fill_value=0,
        observed=True,
    )


def test_checkout_bug_week(events: pd.DataFrame) -> None:
    story = STORIES["checkout_bug_week"]
    assert story.start.weekday() == 0
    assert (story.start.isocalendar().week, story.end - story.start) == (10, timedelta(days=7))
    assert story.channel == "web"
    bug = pd.Timestamp(story.start)
    full = events[(events["day"] >= pd.Timestamp(DEFAULT_START) + pd.Timedelta(days=7))]
    full = full[full["day"] < pd.Timestamp(DEFAULT_START) + pd.Timedelta(days=DEFAULT_DAYS - 7)]
    steps = ["checkout_started", "payment_failed", "purchase"]
    web = _weekly(full[(full["channel"] == "web") & full["event"].isin(steps)])
    conversion = web["purchase"] / web["checkout_started"]
    normal = conversion.drop(bug).median()
    assert conversion[bug] < 0.5 * normal, (conversion[bug], normal)
    failures = web["payment_failed"]
    assert failures[bug] > 4 * failures.drop(bug).median()
    assert conversion[bug] == pytest.approx(story.numbers["checkout_conversion"], abs=0.1)
    assert normal == pytest.approx(story.numbers["baseline_checkout_conversion"], abs=0.1)
    # the app is not affected
    app = _weekly(full[(full["channel"] == "app") & full["event"].isin(steps)])
    app_conversion = app["purchase"] / app["checkout_started"]
    assert app_conversion[bug] > 0.7 * app_conversion.drop(bug).median()


def test_support_backlog(events: pd.DataFrame) -> None:
    story = STORIES["support_backlog"]
    start, end = pd.Timestamp(story.start), pd.Timestamp(story.end)
    tickets = events[events["event"] == "support_ticket"]
    inside = tickets["day"].between(start, end - pd.Timedelta(days=1))
    slow = tickets.loc[inside, "response_hours"].median()
    usual = tickets.loc[~inside, "response_hours"].median()
    assert slow > 24 > 10 * usual, (slow, usual)
    assert set(tickets.loc[inside, "reason"]) >= {"order_status", "follow_up"}
    assert "follow_up" not in set(tickets.loc[~inside & (tickets["day"] < start), "reason"])

    # customers whose first ticket fell in the backlog vs. before it, 60 days on
    first = tickets.groupby("norm_email")["timestamp"].min().rename("ticket_at")
    first = first[first.dt.tz_convert(STORE_TZ).dt.tz_localize(None) < end]
    hit = first.dt.tz_convert(STORE_TZ).dt.tz_localize(None) >= start
    after = events.merge(first, left_on="norm_email", right_index=True)
    after = after[
        (after["timestamp"] > after["ticket_at"])
        & (after["timestamp"] <= after["ticket_at"] + pd.Timedelta(days=60))
    ]
    bought = after.loc[after["event"] == "purchase", "norm_email"].unique()
    left = after.loc[
        after["event"].isin(["account_closed", "email_unsubscribed"]), "norm_email"
    ].unique()
    rates = (
        pd.DataFrame(
            {"hit": hit, "bought": first.index.isin(bought), "left": first.index.isin(left)},
            index=first.index,
        )
        .groupby("hit")[["bought", "left"]]
        .mean()
    )
    assert hit.sum() >= 50
    assert rates.loc[True, "left"] > 0.5, rates
    assert rates.loc[True, "left"] > 4 * rates.loc[False, "left"], rates
    assert rates.loc[True, "bought"] < 0.5 * rates.loc[False, "bought"], rates


def test_referral_programme(events: pd.DataFrame) -> None:
    story = STORIES["referral_programme"]
    clicks = events[events["event"] == "referral_click"]
    assert clicks["day"].min() >= pd.Timestamp(story.start)
    assert clicks["referral_code"].str.match(r"^REF[0-9A-F]{8}$").all()
    # first touch of each device: a referral link, an ad, or a page of the site
    arrivals = events[events["event"].isin(["referral_click", "ad_click", "page_view"])]
    arrivals = arrivals[arrivals["day"] >= pd.Timestamp(story.start)]
    first = arrivals.sort_values("timestamp").drop_duplicates("device_id")
    first = first.set_index("device_id")["event"]
    buyers = set(events.loc[events["event"] == "purchase", "device_id"].dropna())
    converted = first.index.isin(buyers)
    rate = pd.Series(converted, index=first.index).groupby(first, observed=True).mean()
    others = (rate["ad_click"] + rate["page_view"]) / 2
    ratio = rate["referral_click"] / others
    assert 1.6 < ratio < 2.8, rate
    assert story.numbers["conversion_ratio"] == pytest.approx(2.0, abs=0.2)


def test_stories_are_data() -> None:
    assert set(STORIES) == {"checkout_bug_week", "support_backlog", "referral_programme"}
    for story in STORIES.values():
        assert DEFAULT_START <= story.start < story.end
        assert story.end <= DEFAULT_START + timedelta(days=DEFAULT_DAYS)
        assert story.summary
        assert story.numbers
    bug, backlog = STORIES["checkout_bug_week"], STORIES["support_backlog"]
    assert bug.end <= backlog.start
    assert (str(backlog.start), str(backlog.end)) == ("2026-04-06", "2026-04-27")
    assert plan_stories(date(2025, 3, 1), 90)["checkout_bug_week"].start.weekday() == 0
    with pytest.raises(ValueError, match="days"):
        plan_stories(DEFAULT_START, 7)
