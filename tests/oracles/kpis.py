"""Brute-force references of :mod:`jornada.analytics.kpis`: every KPI from its written
definition, on plain event dicts, one scope and period at a time.

Periods are calendar dates (the first day of the period); sessions are the store's
``session_id`` groups in path order. Nothing here shares code with the engine version.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from tests.oracles import Event, group_paths

Key = tuple[str, dt.date | None]


def props(event: Event) -> dict[str, Any]:
    raw = event.get("properties") or {}
    return dict(raw) if not isinstance(raw, dict) else raw


def named(*names: str) -> Callable[[Event], bool]:
    return lambda e: e["event"] in names


impression = named("ad_impression", "impression")
click = named("ad_click", "click")
engagement = named("ad_click", "click", "email_click", "like", "comment", "share", "save")
purchase = named("purchase", "order_completed")
refund = named("refund_issued", "refund")
conversion = purchase
cart = named("add_to_cart")
churn = named("account_closed", "subscription_cancelled")
referral = named("referral_click", "referral_signup")


def page(event: Event) -> bool:
    name = str(event["event"])
    return name in ("page_view", "screen_view") or name.endswith("_view")


def feedback(event: Event) -> bool:
    if event["event"] in ("review_submitted", "feedback_submitted"):
        return True
    return event["event"] == "survey_response" and event.get("text") is not None


def survey(event: Event, name: str, low: float, high: float) -> bool:
    score = event.get("score")
    return (
        event["event"] == "survey_response"
        and props(event).get("survey") == name
        and score is not None
        and low <= score <= high
    )


def period_of(moment: dt.datetime, period: str | None) -> dt.date | None:
    day = moment.date()
    if period is None:
        return None
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return dt.date(day.year, 1, 1)


def following(start: dt.date, period: str) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    if period == "month":
        return (start + dt.timedelta(days=32)).replace(day=1)
    if period == "quarter":
        return (start + dt.timedelta(days=95)).replace(day=1)
    return dt.date(start.year + 1, 1, 1)


def all_periods(events: list[Event], period: str | None) -> list[dt.date | None]:
    if period is None:
        return [None]
    first = period_of(min(e["ts"] for e in events), period)
    last = period_of(max(e["ts"] for e in events), period)
    assert first is not None
    assert last is not None
    found: list[dt.date | None] = []
    while first <= last:
        found.append(first)
        first = following(first, period)
    return found


def not_after(moment: dt.date | None, limit: dt.date | None) -> bool:
    return moment is None or limit is None or moment <= limit


def scope_of(event: Event, by: str | None) -> str:
    if by is None:
        return "all"
    if by == "channel":
        return str(event["channel"]) if event.get("channel") is not None else "(none)"
    campaign = props(event).get("campaign")
    return str(campaign) if campaign is not None else "(none)"


def ratio(numerator: float | None, denominator: float | None, scale: float = 1.0) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator * scale


def seconds(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds()


def amount(event: Event) -> float:
    """Net revenue of an outcome event: a purchase's value, minus a refund's size."""
    if purchase(event):
        return float(event.get("value") or 0.0)
    if refund(event):
        return -abs(float(event.get("value") or 0.0))
    return 0.0


def kpis(events: list[Event], by: str | None, period: str | None) -> dict[Key, dict[str, Any]]:
    """(scope, period start) -> KPI id -> value (None where undefined)."""
    if not events:
        return {}
    paths = group_paths(events)
    sessions = group_paths(events, by="session")
    position = {id(e): i for path in paths.values() for i, e in enumerate(path)}
    scopes = sorted({scope_of(e, by) for e in events})
    periods = all_periods(events, period)
    month_list = all_periods(events, "month")

    def when(e: Event, p: str | None = period) -> dt.date | None:
        return period_of(e["ts"], p)

    result: dict[Key, dict[str, Any]] = {}
    for scope in scopes:
        mine = [e for e in events if scope_of(e, by) == scope]
        for p in periods:
            chosen = [e for e in mine if when(e) == p]
            values: dict[str, Any] = {}
            result[(scope, p)] = values

            impressions = sum(map(impression, chosen))
            reach = len({e["customer_id"] for e in chosen if impression(e)})
            clicks = sum(map(click, chosen))
            costs = [e["cost"] for e in chosen if e.get("cost") is not None]
            spend = sum(costs) if costs else None
            values["impressions"] = float(impressions)
            values["reach"] = float(reach)
            values["frequency"] = ratio(impressions, reach)
            values["clicks"] = float(clicks)
            values["ctr"] = ratio(clicks, impressions)
            values["cpm"] = ratio(spend, impressions, 1000)
            values["cpc"] = ratio(spend, clicks)
            values["engagement_rate"] = ratio(sum(map(engagement, chosen)), impressions)

            # Visits: sessions with a page view, placed by their landing (first) page view.
            visits = bounces = pages = 0
            duration = 0.0
            for events_of_session in sessions.values():
                views = [e for e in events_of_session if page(e)]
                if not views:
                    continue
                landing = views[0]
                if scope_of(landing, by) != scope or when(landing) != p:
                    continue
                visits += 1
                bounces += landing is events_of_session[-1]
                pages += len(views)
                duration += seconds(events_of_session[-1]["ts"], events_of_session[0]["ts"])
            values["bounce_rate"] = ratio(bounces, visits)
            values["pages_per_visit"] = ratio(pages, visits)
            values["session_duration"] = ratio(duration, visits)
            timed, on_page = 0, 0.0
            for e in chosen:
                if not page(e):
                    continue
                in_session = sessions[f"{e['customer_id']}\x1f{e['session_id']}"]
                at = next(i for i, x in enumerate(in_session) if x is e)
                if at + 1 < len(in_session):
                    timed += 1
                    on_page += seconds(in_session[at + 1]["ts"], e["ts"])
            values["time_on_page"] = ratio(on_page, timed)

            bought = [e for e in chosen if purchase(e)]
            revenue = sum(float(e.get("value") or 0.0) for e in bought)
            refunds = sum(abs(float(e.get("value") or 0.0)) for e in chosen if refund(e))
            values["sales"] = revenue - refunds
            values["average_order_value"] = ratio(revenue, len(bought))

            # Customers the scope reached in the period, and what they did from then on.
            reached = sorted({e["customer_id"] for e in chosen})
            converters = conversions = repeaters = buyers = 0
            converted_revenue = 0.0
            for customer in reached:
                path = paths[customer]
                start = min(position[id(e)] for e in chosen if e["customer_id"] == customer)
                after = [e for e in path[start:] if when(e) == p]
                wins = [e for e in after if conversion(e)]
                conversions += len(wins)
                converters += bool(wins)
                converted_revenue += sum(amount(e) for e in after)
                in_period = sum(1 for e in path if purchase(e) and when(e) == p)
                buyers += in_period >= 1
                repeaters += in_period >= 2
            values["conversion_rate"] = ratio(converters, len(reached))
            values["cost_per_conversion"] = ratio(spend, conversions)
            values["roas"] = ratio(converted_revenue, spend)
            values["repeat_purchase_rate"] = ratio(repeaters, buyers)

            lifetime, lifetime_buyers = 0.0, 0
            for customer in reached:
                upto = [e for e in paths[customer] if not_after(when(e), p)]
                lifetime += sum(amount(e) for e in upto)
                lifetime_buyers += any(purchase(e) for e in upto)
            values["clv"] = ratio(lifetime, lifetime_buyers)

            csat = [e["score"] for e in chosen if survey(e, "csat", 1, 5)]
            nps = [e["score"] for e in chosen if survey(e, "nps", 0, 10)]
            ces = [e["score"] for e in chosen if survey(e, "ces", 1, 7)]
            values["csat"] = ratio(sum(csat), len(csat))
            values["csat_satisfied"] = ratio(sum(s >= 4 for s in csat), len(csat))
            values["nps"] = ratio(
                sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps), len(nps), 100
            )
            values["ces"] = ratio(sum(ces), len(ces))
            values["feedback_count"] = float(sum(map(feedback, chosen)))

            first_referral: dict[str, dt.datetime] = {}
            for e in mine:
                if referral(e):
                    known = first_referral.get(e["customer_id"])
                    first_referral[e["customer_id"]] = min(e["ts"], known or e["ts"])
            values["referrals"] = float(
                sum(1 for moment in first_referral.values() if period_of(moment, period) == p)
            )

            carts: dict[str, Event] = {}
            for e in mine:
                if cart(e):
                    known_cart = carts.get(str(e["session_id"]))
                    if known_cart is None or (e["ts"], e["seq"]) < (
                        known_cart["ts"],
                        known_cart["seq"],
                    ):
                        carts[str(e["session_id"])] = e
            started = [c for c in carts.values() if when(c) == p]
            abandoned = sum(
                1
                for c in started
                if not any(
                    purchase(e) and 0 <= seconds(e["ts"], c["ts"]) <= 86400
                    for e in paths[c["customer_id"]]
                )
            )
            values["cart_abandonment_rate"] = ratio(abandoned, len(started))

            # Retention: customers of the scope in the period before, still active now.
            pairs: list[tuple[dt.date, dt.date]]
            if period is None:
                pairs = [
                    (a, b)
                    for a, b in itertools.pairwise(month_list)
                    if a is not None and b is not None
                ]
                grain: str = "month"
            else:
                grain = period
                index = periods.index(p)
                before = periods[index - 1] if index > 0 else None
                pairs = [(before, p)] if before is not None and p is not None else []
            base = kept = 0
            for earlier, now in pairs:
                cohort = {e["customer_id"] for e in mine if period_of(e["ts"], grain) == earlier}
                for customer in cohort:
                    now_events = [e for e in paths[customer] if period_of(e["ts"], grain) == now]
                    base += 1
                    kept += bool(now_events) and not any(churn(e) for e in now_events)
            values["retention_rate"] = ratio(kept, base)
            values["churn_rate"] = ratio(base - kept, base)
    return result
