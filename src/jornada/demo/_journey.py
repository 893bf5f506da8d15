"""One chunk of customers walking the b2c-ecommerce journey, vectorised with numpy.

Every stage works on whole arrays of people (loops run over stages and repeat
orders, never over people or events). The result is an :class:`EventLog` of
integer-coded columns; :mod:`jornada.demo._table` turns it into strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from jornada.demo import _vocab as v

Array = npt.NDArray[Any]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

SECOND: Final = 1_000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
NEVER: Final = np.iinfo(np.int64).max // 4
STORE_UTC_OFFSET_HOURS: Final = -3
"""The store's clock (São Paulo, no daylight saving time): story dates are its dates."""

# which system knows the actor by which key (customer_key) ...
KEY_EMAIL, KEY_PHONE, KEY_DEVICE, KEY_CRM = 0, 1, 2, 3
# ... and which identifiers a row carries (bit mask)
ID_EMAIL, ID_PHONE, ID_DEVICE, ID_CRM = 1, 2, 4, 8
# how an identifier is written
EMAIL_CLEAN, EMAIL_MESSY = 0, 1
PHONE_E164, PHONE_SPACED, PHONE_LOCAL = 0, 1, 2

E = {name: code for code, name in enumerate(v.EVENTS)}
C = {name: code for code, name in enumerate(v.CHANNELS)}

# --- the behaviour, in numbers (sources: audience, social, organic, referral, direct) --
AUDIENCE, SOCIAL, ORGANIC, REFERRAL, DIRECT = range(5)
SOURCE_SHARE: Final = np.array([0.18, 0.33, 0.22, 0.13, 0.14])
P_CONSIDER: Final = np.array([0.0, 0.44, 0.46, 0.72, 0.55])
P_CART: Final = np.array([0.0, 0.46, 0.44, 0.56, 0.48])
P_CHECKOUT: Final = np.array([0.0, 0.74, 0.74, 0.80, 0.76])
P_CHECKOUT_ABANDON: Final = 0.22
P_PAYMENT_FAIL: Final = 0.07
P_PAYMENT_FAIL_BUG: Final = 0.80
P_RETRY: Final = 0.70
P_RETRY_BUG: Final = 0.50
P_RETRY_FAIL: Final = 0.30
P_RETRY_FAIL_BUG: Final = 0.75
P_LATE: Final = 0.14
P_REPEAT: Final = 0.34
REPEAT_AFTER_BACKLOG: Final = 0.12
"""Repeat-purchase odds (as a factor) of a customer who met the support backlog."""
P_CLOSE_BACKLOG, P_UNSUBSCRIBE_BACKLOG = 0.45, 0.30
P_CLOSE_TICKET, P_UNSUBSCRIBE_TICKET = 0.02, 0.04
MAX_ORDERS: Final = 5
TICKET_CHANNELS: Final = np.array([C["chat"], C["email"], C["phone"]])
TICKET_CHANNEL_SHARE: Final = np.array([0.5, 0.3, 0.2])
RESPONSE_SIGMA: Final = 0.6
RESPONSE_MEDIAN_HOURS: Final = np.array([0.3, 6.0, 0.2])
BACKLOG_RESPONSE_MEDIAN_HOURS: Final = np.array([30.0, 80.0, 40.0])
HOUR_WEIGHTS: Final = np.array(
    [1, 0.6, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 3.5, 4, 4, 4.5, 4, 4, 4, 4.5, 5, 6, 7, 8.5, 8.5, 6, 3]
)


@dataclass(frozen=True)
class Plan:
    """Where the stories fall, as UTC milliseconds, and what every chunk shares."""

    seed: int
    customers: int
    start_ms: int
    end_ms: int
    bug_start_ms: int
    bug_end_ms: int
    backlog_start_ms: int
    backlog_end_ms: int
    referral_launch_ms: int


_COLUMNS: Final[dict[str, tuple[type[np.generic], float]]] = {
    "slot": (np.int8, 0),
    "email_var": (np.int8, EMAIL_CLEAN),
    "phone_var": (np.int8, PHONE_E164),
    "value": (np.float64, np.nan),
    "cost": (np.float64, np.nan),
    "score": (np.float64, np.nan),
    "response_hours": (np.float64, np.nan),
    "order_index": (np.int16, 0),
    "promised": (np.int64, 0),
    "days_late": (np.int16, -1),
    "rating": (np.int8, 0),
    "page": (np.int16, -1),
    "topic": (np.int16, -1),
    "reason": (np.int16, -1),
    "campaign": (np.int16, -1),
    "category": (np.int16, -1),
    "survey": (np.int16, -1),
    "status": (np.int16, -1),
    "payment": (np.int16, -1),
    "text": (np.int16, -1),
    "ref": (np.int64, -1),
}
"""Optional event columns: dtype and the value meaning 'absent'."""


def _column(value: Array | float, size: int, dtype: type[np.generic]) -> Array:
    if isinstance(value, np.ndarray):
        return value.astype(dtype, copy=False)
    return np.full(size, value, dtype=dtype)


class EventLog:
    """Blocks of events appended stage by stage, concatenated once."""

    def __init__(self) -> None:
        self._blocks: list[dict[str, Array]] = []

    def emit(
        self,
        who: I64,
        ts: Array,
        event: str | Array,
        channel: str | Array,
        key: int | Array,
        ids: int | Array,
        **columns: Array | float,
    ) -> None:
        size = who.size
        if size == 0:
            return
        block: dict[str, Array] = {
            "person": who.astype(np.int32),
            "ts": ts.astype(np.int64, copy=False),
            "event": _column(E[event] if isinstance(event, str) else event, size, np.int16),
            "channel": _column(C[channel] if isinstance(channel, str) else channel, size, np.int8),
            "key": _column(key, size, np.int8),
            "ids": _column(ids, size, np.int8),
        }
        for name, value in columns.items():
            block[name] = _column(value, size, _COLUMNS[name][0])
        self._blocks.append(block)

    def collect(self, start_ms: int, end_ms: int) -> dict[str, Array]:
        """All events inside ``[start_ms, end_ms)``, in time order."""
        sizes = [block["person"].size for block in self._blocks]
        out: dict[str, Array] = {}
        for name in ("person", "ts", "event", "channel", "key", "ids", *_COLUMNS):
            parts = []
            for block, size in zip(self._blocks, sizes, strict=True):
                if name in block:
                    parts.append(block[name])
                else:
                    dtype, default = _COLUMNS[name]
                    parts.append(np.full(size, default, dtype=dtype))
            out[name] = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        ts = out["ts"]
        keep = np.flatnonzero((ts >= start_ms) & (ts < end_ms))
        order = keep[np.argsort(ts[keep])]
        return {name: column[order] for name, column in out.items()}


def expand(counts: Array) -> tuple[I64, I64]:
    """For groups of ``counts`` rows: each row's group and its rank in the group."""
    counts = counts.astype(np.int64, copy=False)
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(owner.size, dtype=np.int64) - starts[owner]
    return owner, rank


def group_cumsum(values: Array, owner: I64, counts: Array) -> Array:
    """Running sums of ``values`` restarting at each group (rows grouped by ``owner``)."""
    total = np.cumsum(values)
    before = np.concatenate([[0], total])[np.cumsum(counts) - counts]
    result: Array = total - before[owner]
    return result


def layout(counts: list[I64]) -> tuple[I64, I64, I64]:
    """Groups made of runs of kinds, in order (``counts[k]`` rows of kind ``k`` each):
    each row's group, rank in the group and kind."""
    total = np.sum(counts, axis=0)
    owner, rank = expand(total)
    kind = np.zeros(owner.size, dtype=np.int64)
    edge = np.zeros(total.size, dtype=np.int64)
    for count in counts[:-1]:
        edge = edge + count
        kind += rank >= edge[owner]
    return owner, rank, kind


class Journeys:
    """The people of one chunk and everything they do."""

    def __init__(self, rng: np.random.Generator, plan: Plan, first: int, size: int) -> None:
        self.rng = rng
        self.plan = plan
        self.n = size
        self.log = EventLog()
        self.gidx = np.arange(first, first + size, dtype=np.int64)
        self._people()

    # --- helpers -------------------------------------------------------------------
    def pick(self, weights: Array | list[float], size: int) -> I64:
        """Codes drawn with the given weights."""
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        draws = self.rng.random(size) * cumulative[-1]
        codes: I64 = np.searchsorted(cumulative, draws, side="right").astype(np.int64)
        return codes

    def chance(self, p: Array | float, size: int) -> Bool:
        result: Bool = self.rng.random(size) < p
        return result

    def minutes(self, mean: float, size: int, floor: float = 0.0) -> I64:
        """Exponential gaps of ``mean`` minutes (plus ``floor``), in milliseconds."""
        gaps = (floor + self.rng.exponential(mean, size)) * MINUTE
        return gaps.astype(np.int64)

    def days(self, median: float, sigma: float, size: int) -> I64:
        """Log-normal gaps with the given median in days, in milliseconds."""
        gaps = median * np.exp(self.rng.normal(0.0, sigma, size)) * DAY
        return gaps.astype(np.int64)

    def uniform(self, low: Array | float, high: Array | float, size: int) -> I64:
        return (low + self.rng.random(size) * (np.asarray(high) - low)).astype(np.int64)

    def local_time(self, who: I64, ts: Array, low_hour: float, high_hour: float) -> I64:
        """The same local day as ``ts`` for each person, at a time between the hours."""
        offset = self.utc_offset[who] * HOUR
        midnight: I64 = (ts + offset) // DAY * DAY - offset
        return midnight + self.uniform(low_hour * HOUR, high_hour * HOUR, who.size)

    def daytime(self, who: I64, ts: Array) -> I64:
        """``ts`` moved to a waking hour (the people's hourly rhythm) on its local day,
        or on the next day when that hour has already passed."""
        offset = self.utc_offset[who] * HOUR
        midnight = (ts + offset) // DAY * DAY - offset
        hour = self.pick(HOUR_WEIGHTS, who.size) * HOUR + self.uniform(0, HOUR, who.size)
        moved: I64 = midnight + hour
        return np.where(moved < ts, moved + DAY, moved)

    def language_texts(self, who: I64, kind: Array | int) -> I64:
        """A phrasing of ``kind`` in each person's language."""
        lang = self.lang[who]
        count = v.TEXT_COUNT[kind, lang]
        texts: I64 = v.TEXT_OFFSET[kind, lang] + (self.rng.random(who.size) * count).astype(
            np.int64
        )
        return texts

    # --- who they are --------------------------------------------------------------
    def _people(self) -> None:
        n, rng, plan = self.n, self.rng, self.plan
        self.lang = self.pick([0.72, 0.18, 0.10], n)
        self.country = np.where(
            self.lang == 0, 0, np.where(self.lang == 2, 3, 1 + self.chance(0.5, n))
        )
        self.city = np.zeros(n, dtype=np.int64)
        for country in range(len(v.COUNTRIES)):
            rows = np.flatnonzero(self.country == country)
            cities = [i for i, city in enumerate(v.CITIES) if city[0] == country]
            weights = [v.CITIES[i][4] for i in cities]
            self.city[rows] = np.asarray(cities)[self.pick(weights, rows.size)]
        self.utc_offset = v.COUNTRY_UTC_OFFSET_HOURS[self.country]
        self.segment = self.pick([0.45, 0.30, 0.10, 0.15], n)
        self.app = self.chance(0.3, n)
        self.device0 = np.where(self.app, 0, self.pick([0.8, 0.15, 0.05], n))
        self.has_device1 = ~self.app & self.chance(0.25, n)
        self.home = np.where(self.app, C["app"], C["web"]).astype(np.int64)
        trail = self.segment == 2
        self.category = np.where(
            trail & self.chance(0.7, n), 1, self.pick([0.75, 0.05, 0.12, 0.08], n)
        )
        self.source = self.pick(SOURCE_SHARE, n)

        days = (plan.end_ms - plan.start_ms) // DAY
        launch_day = (plan.referral_launch_ms - plan.start_ms) // DAY
        first_day = np.where(self.source == REFERRAL, launch_day, 0)
        day = first_day + (rng.random(n) * (days - first_day)).astype(np.int64)
        seconds = self.pick(HOUR_WEIGHTS, n) * 3600 + rng.integers(0, 3600, n)
        self.arrival = (
            plan.start_ms
            + day * DAY
            - (self.utc_offset - STORE_UTC_OFFSET_HOURS) * HOUR
            + seconds * SECOND
            + rng.integers(0, SECOND, n)
        )
        self.t_last = self.arrival.copy()
        self.slot_last = np.zeros(n, dtype=np.int64)
        self.crm_at = np.full(n, NEVER, dtype=np.int64)
        self.churn_at = np.full(n, NEVER, dtype=np.int64)
        self.member = np.zeros(n, dtype=bool)
        self.silent = np.zeros(n, dtype=bool)  # met the backlog, did not say goodbye
        self.late_last = np.zeros(n, dtype=bool)
        self.last_order = np.zeros(n, dtype=np.int64)
        self.last_purchase = np.full(n, NEVER, dtype=np.int64)
        self.extra_item = np.zeros(n, dtype=bool)

    def channel_of(self, who: I64, slot: Array) -> I64:
        channel: I64 = np.where(slot == 1, C["web"], self.home[who])
        return channel

    # --- the journey ---------------------------------------------------------------
    def run(self) -> EventLog:
        considering = self._discover()
        carting = self._consider(considering)
        buyers = self._cart(carting)
        self._first_order(buyers)
        for order_index in range(2, MAX_ORDERS + 1):
            self._repeat_order(order_index)
        self._newsletters()
        return self.log

    def _discover(self) -> I64:
        rng, n, log = self.rng, self.n, self.log
        t0 = self.arrival
        # people who only ever see the ads
        audience = np.flatnonzero(self.source == AUDIENCE)
        owner, _ = expand(1 + rng.poisson(3.0, audience.size))
        who = audience[owner]
        log.emit(
            who,
            t0[who] + self.uniform(0, 21 * DAY, who.size),
            "ad_impression",
            "social",
            KEY_DEVICE,
            ID_DEVICE,
            cost=np.round(rng.uniform(0.008, 0.016, who.size), 4),
            campaign=self.pick([0.7, 0.3], who.size),
        )
        # social: a few impressions, then the click that brings them in
        social = np.flatnonzero(self.source == SOCIAL)
        campaign = self.pick([0.7, 0.3], n)
        owner, _ = expand(1 + rng.poisson(1.8, social.size))
        who = social[owner]
        log.emit(
            who,
            t0[who] - self.uniform(MINUTE, 6 * DAY, who.size),
            "ad_impression",
            "social",
            KEY_DEVICE,
            ID_DEVICE,
            cost=np.round(rng.uniform(0.008, 0.016, who.size), 4),
            campaign=campaign[who],
        )
        log.emit(
            social,
            t0[social],
            "ad_click",
            "social",
            KEY_DEVICE,
            ID_DEVICE,
            cost=np.round(rng.uniform(0.45, 1.25, social.size), 2),
            campaign=campaign[social],
        )
        landing = t0[social] + self.uniform(2 * SECOND, 8 * SECOND, social.size)
        log.emit(social, landing, "page_view", self.home[social], KEY_DEVICE, ID_DEVICE, page=0)
        self.t_last[social] = landing
        # organic: the blog guide, one or a few articles
        organic = np.flatnonzero(self.source == ORGANIC)
        counts = 1 + rng.poisson(1.2, organic.size)
        owner, rank = expand(counts)
        who = organic[owner]
        gaps = np.where(rank == 0, 0, self.minutes(2.5, who.size, 0.3))
        ts = t0[who] + group_cumsum(gaps, owner, counts)
        pages = v.PAGE_BLOG + (rng.random(who.size) * len(v.BLOG_PAGES)).astype(np.int64)
        log.emit(who, ts, "page_view", self.home[who], KEY_DEVICE, ID_DEVICE, page=pages)
        self.t_last[organic] = ts[np.cumsum(counts) - 1]
        # referral: a friend's link
        referred = np.flatnonzero(self.source == REFERRAL)
        referrer = rng.integers(0, max(self.plan.customers, 1), referred.size)
        log.emit(
            referred,
            t0[referred],
            "referral_click",
            "referral",
            KEY_DEVICE,
            ID_DEVICE,
            ref=referrer,
        )
        landing = t0[referred] + self.uniform(2 * SECOND, 6 * SECOND, referred.size)
        log.emit(
            referred,
            landing,
            "page_view",
            self.home[referred],
            KEY_DEVICE,
            ID_DEVICE,
            page=v.PAGE_REFERRAL,
        )
        self.t_last[referred] = landing
        # direct: the home page
        direct = np.flatnonzero(self.source == DIRECT)
        log.emit(direct, t0[direct], "page_view", self.home[direct], KEY_DEVICE, ID_DEVICE, page=0)
        # everyone who visited is followed around by retargeting ads for a while
        visitors = np.flatnonzero(self.source != AUDIENCE)
        owner, _ = expand(rng.poisson(3.5, visitors.size))
        who = visitors[owner]
        log.emit(
            who,
            t0[who] + self.uniform(HOUR, 21 * DAY, who.size),
            "ad_impression",
            "social",
            KEY_DEVICE,
            ID_DEVICE,
            cost=np.round(rng.uniform(0.008, 0.016, who.size), 4),
            campaign=v.CAMPAIGN_RETARGETING,
        )
        return np.flatnonzero(self.chance(P_CONSIDER[self.source], n))

    def _consider(self, people: I64) -> I64:
        rng, log = self.rng, self.log
        sessions = 1 + np.minimum(rng.poisson(1.7, people.size), 7)
        owner, rank = expand(sessions)
        who = people[owner]
        size = who.size
        first_gap = np.where(
            self.chance(0.6, size), self.minutes(0.7, size, 0.1), self.days(1.2, 0.9, size)
        )
        gaps = np.where(rank == 0, first_gap, self.days(2.0, 0.8, size))
        start = self.t_last[who] + group_cumsum(gaps, owner, sessions)
        start = np.where(gaps > HOUR, self.daytime(who, start), start)
        slot = (self.has_device1[who] & self.chance(0.3, size)).astype(np.int64)
        channel = self.channel_of(who, slot)
        category = np.where(
            self.chance(0.8, size), self.category[who], self.pick([1, 1, 1, 1], size)
        )
        # a new visit opens with a retargeting ad click and/or the home page
        continuing = (rank == 0) & (first_gap < HOUR)
        u = rng.random(size)
        clicks = (~continuing & (u < 0.2)).astype(np.int64)
        homes = (~continuing & (u < 0.7)).astype(np.int64)
        lists = np.ones(size, dtype=np.int64)
        product_views = 1 + rng.poisson(2.0, size)
        reviews = self.chance(0.35, size).astype(np.int64)
        pages = rng.poisson(0.8, size)
        s, r, kind = layout([clicks, homes, lists, product_views, reviews, pages])
        event = np.array(
            [
                E["ad_click"],
                E["page_view"],
                E["product_list_view"],
                E["product_view"],
                E["review_list_view"],
                E["page_view"],
            ]
        )[kind]
        product = v.PAGE_PRODUCT + category[s] * v.PRODUCTS_PER_CATEGORY
        product = product + (rng.random(s.size) * v.PRODUCTS_PER_CATEGORY).astype(np.int64)
        other = v.PAGE_OTHER + (rng.random(s.size) * len(v.OTHER_PAGES)).astype(np.int64)
        page = np.select(
            [kind == 0, kind == 1, kind == 2, kind == 5],
            [-1, v.PAGE_HOME, v.PAGE_CATEGORY + category[s], other],
            product,
        )
        counts = clicks + homes + lists + product_views + reviews + pages
        ts = start[s] + group_cumsum(
            np.where(r == 0, 0, self.minutes(0.75, s.size, 0.05)), s, counts
        )
        ad = kind == 0
        log.emit(
            who[s],
            ts,
            event,
            np.where(ad, C["social"], channel[s]),
            KEY_DEVICE,
            ID_DEVICE,
            slot=slot[s],
            page=page,
            category=np.where((kind >= 2) & (kind <= 4), category[s], -1),
            campaign=np.where(ad, v.CAMPAIGN_RETARGETING, -1),
            cost=np.where(ad, np.round(rng.uniform(0.45, 1.25, s.size), 2), np.nan),
        )
        session_end = ts[np.cumsum(counts) - 1]
        last = np.cumsum(sessions) - 1
        self.t_last[people] = session_end[last]
        self.slot_last[people] = slot[last]
        self.category[people] = category[last]
        # a live chat before buying (mostly about the size)
        chatting = self.chance(0.10, people.size)
        first = (np.cumsum(sessions) - sessions)[chatting]
        who = people[chatting]
        topic = self.pick([0.7, 0.2, 0.1], who.size)
        ts = start[first] + self.minutes(1.5, who.size, 0.2)
        log.emit(
            who,
            ts,
            "chat_started",
            "chat",
            KEY_EMAIL,
            ID_EMAIL | ID_DEVICE,
            slot=slot[first],
            topic=topic,
            text=self.language_texts(who, v.text_kind("chat_sizing") + topic),
            email_var=np.where(self.chance(0.03, who.size), EMAIL_MESSY, EMAIL_CLEAN),
        )
        return people[self.chance(P_CART[self.source[people]], people.size)]

    def _cart(self, people: I64) -> I64:
        rng, log = self.rng, self.log
        size = people.size
        slot = self.slot_last[people]
        channel = self.channel_of(people, slot)
        category = self.category[people]
        t = self.t_last[people] + self.minutes(0.5, size, 0.1)
        product = (
            v.PAGE_PRODUCT
            + category * v.PRODUCTS_PER_CATEGORY
            + (rng.random(size) * v.PRODUCTS_PER_CATEGORY).astype(np.int64)
        )
        common = {"slot": slot}
        log.emit(
            people,
            t,
            "add_to_cart",
            channel,
            KEY_DEVICE,
            ID_DEVICE,
            page=product,
            category=category,
            **common,
        )
        extra = self.chance(0.3, size)
        t_extra = t + self.minutes(1.0, size, 0.2)
        accessory = v.PAGE_PRODUCT + 3 * v.PRODUCTS_PER_CATEGORY + rng.integers(0, 3, size)
        log.emit(
            people[extra],
            t_extra[extra],
            "add_to_cart",
            channel[extra],
            KEY_DEVICE,
            ID_DEVICE,
            page=accessory[extra],
            category=3,
            slot=slot[extra],
        )
        self.extra_item[people] = extra
        t = np.maximum(t, np.where(extra, t_extra, t)) + self.minutes(0.6, size, 0.1)
        views = 1 + self.chance(0.35, size)
        owner, rank = expand(views)
        ts = t[owner] + rank * self.minutes(3.0, owner.size, 0.5)
        log.emit(
            people[owner],
            ts,
            "cart_view",
            channel[owner],
            KEY_DEVICE,
            ID_DEVICE,
            page=v.PAGE_CART,
            slot=slot[owner],
        )
        self.t_last[people] = ts[np.cumsum(views) - 1]
        return people[self.chance(P_CHECKOUT[self.source[people]], size)]

    # --- buying --------------------------------------------------------------------
    def _first_order(self, people: I64) -> None:
        size = people.size
        later = self.chance(0.3, size)
        t = np.where(
            later,
            self.daytime(people, self.t_last[people] + self.days(0.8, 1.0, size)),
            self.t_last[people] + self.minutes(1.0, size, 0.3),
        )
        slot = np.where(
            later & self.has_device1[people] & self.chance(0.6, size), 1, self.slot_last[people]
        )
        channel = self.channel_of(people, slot)
        created = t - self.uniform(20 * SECOND, 90 * SECOND, size)
        self.log.emit(
            people,
            created,
            "account_created",
            channel,
            KEY_DEVICE,
            ID_DEVICE | ID_EMAIL,
            slot=slot,
            page=v.PAGE_ACCOUNT,
        )
        self.crm_at[people] = created
        self._order(people, t, channel, slot, 1)
        # some who did not pay come back a few days later and try again
        again = (self.last_order[people] == 0) & (self.churn_at[people] == NEVER)
        again &= self.chance(0.3, size)
        who = people[again]
        size = who.size
        t = self.daytime(who, t[again] + self.days(2.5, 0.8, size))
        slot = np.where(self.has_device1[who] & self.chance(0.5, size), 1, 0)
        channel = self.channel_of(who, slot)
        self.log.emit(
            who, t, "login", channel, KEY_DEVICE, ID_DEVICE | ID_EMAIL, slot=slot, page=v.PAGE_LOGIN
        )
        t = t + self.minutes(0.5, size, 0.1)
        self.log.emit(
            who, t, "cart_view", channel, KEY_DEVICE, ID_DEVICE, slot=slot, page=v.PAGE_CART
        )
        self._order(who, t + self.minutes(1.0, size, 0.2), channel, slot, 1)

    def _order(self, people: I64, t: I64, channel: I64, slot: Array, order_index: int) -> None:
        """Checkout, payment and, for those who pay, everything after."""
        rng, log, plan = self.rng, self.log, self.plan
        size = people.size
        ids = ID_DEVICE | ID_EMAIL
        log.emit(
            people,
            t,
            "checkout_started",
            channel,
            KEY_DEVICE,
            ids,
            slot=slot,
            page=v.PAGE_CHECKOUT,
            order_index=order_index,
        )
        if order_index > 1:
            redeeming = self.member[people] & self.chance(0.4, size)
            log.emit(
                people[redeeming],
                t[redeeming] + self.uniform(5 * SECOND, 40 * SECOND, int(redeeming.sum())),
                "points_redeemed",
                channel[redeeming],
                KEY_DEVICE,
                ids,
                slot=slot[redeeming],
                page=v.PAGE_CHECKOUT,
            )
        bug = (channel == C["web"]) & (t >= plan.bug_start_ms) & (t < plan.bug_end_ms)
        attempt = ~self.chance(P_CHECKOUT_ABANDON, size)
        t1 = t + self.minutes(1.5, size, 0.5)
        fail1 = attempt & self.chance(np.where(bug, P_PAYMENT_FAIL_BUG, P_PAYMENT_FAIL), size)
        method1 = self.pick([0.55, 0.3, 0.05, 0.1], size)
        retry = fail1 & self.chance(np.where(bug, P_RETRY_BUG, P_RETRY), size)
        t2 = t1 + self.minutes(2.0, size, 1.0)
        fail2 = retry & self.chance(np.where(bug, P_RETRY_FAIL_BUG, P_RETRY_FAIL), size)
        method2 = np.where(self.chance(0.5, size), method1, self.pick([0.4, 0.5, 0.0, 0.1], size))
        for failed, when, method in ((fail1, t1, method1), (fail2, t2, method2)):
            log.emit(
                people[failed],
                when[failed],
                "payment_failed",
                channel[failed],
                KEY_DEVICE,
                ids,
                slot=slot[failed],
                page=v.PAGE_PAYMENT,
                payment=method[failed],
            )
        bought = attempt & (~fail1 | (retry & ~fail2))
        gave_up = fail1 & ~bought
        asking = gave_up & self.chance(0.15, size)
        who, when = people[asking], t2[asking] + self.days(0.1, 1.0, int(asking.sum()))
        hours, in_backlog = self._tickets(who, when, v.REASON_PAYMENT)
        answered = when + (hours * HOUR).astype(np.int64)
        self._leave(who, answered, in_backlog, np.ones(who.size, dtype=bool), baseline=0.0)

        buyers = people[bought]
        t_buy = np.where(fail1, t2, t1)[bought] + self.uniform(SECOND, 4 * SECOND, buyers.size)
        channel, slot = channel[bought], slot[bought]
        method = np.where(fail1, method2, method1)[bought]
        category = self.category[buyers]
        value = v.CATEGORY_PRICE[category] * np.exp(rng.normal(0.0, 0.3, buyers.size))
        value += np.where(
            self.extra_item[buyers], 55.0 * np.exp(rng.normal(0, 0.3, buyers.size)), 0
        )
        value = np.round(value, 2)
        promised_days = rng.integers(5, 9, buyers.size)
        promised = self.local_time(buyers, t_buy + promised_days * DAY, 12, 12)
        log.emit(
            buyers,
            t_buy,
            "purchase",
            channel,
            KEY_DEVICE,
            ids,
            slot=slot,
            page=v.PAGE_CONFIRMATION,
            value=value,
            order_index=order_index,
            payment=method,
            category=category,
            promised=promised,
        )
        joining = ~self.member[buyers] & self.chance(0.25 if order_index == 1 else 0.1, buyers.size)
        log.emit(
            buyers[joining],
            t_buy[joining] + self.uniform(20 * SECOND, 120 * SECOND, int(joining.sum())),
            "loyalty_signup",
            channel[joining],
            KEY_DEVICE,
            ids,
            slot=slot[joining],
            page=v.PAGE_LOYALTY,
        )
        self.member[buyers[joining]] = True
        self.last_order[buyers] = order_index
        self.last_purchase[buyers] = t_buy
        self._fulfil(buyers, t_buy, value, promised_days, order_index)

    def _tickets(self, who: I64, t: I64, reason: int | I64) -> tuple[F64, Bool]:
        """Support tickets; returns the hours to a first answer and the backlog flag."""
        size = who.size
        plan = self.plan
        channel_index = self.pick(TICKET_CHANNEL_SHARE, size)
        in_backlog = (t >= plan.backlog_start_ms) & (t < plan.backlog_end_ms)
        median = np.where(
            in_backlog,
            BACKLOG_RESPONSE_MEDIAN_HOURS[channel_index],
            RESPONSE_MEDIAN_HOURS[channel_index],
        )
        hours = np.maximum(
            np.round(median * np.exp(self.rng.normal(0, RESPONSE_SIGMA, size)), 1), 0.1
        )
        phone = channel_index == 2
        reason_kind = v.text_kind("ticket_order_status") + np.asarray(reason)
        self.log.emit(
            who,
            t,
            "support_ticket",
            TICKET_CHANNELS[channel_index],
            KEY_CRM,
            np.where(phone, ID_CRM | ID_EMAIL | ID_PHONE, ID_CRM | ID_EMAIL),
            reason=reason,
            response_hours=hours,
            text=self.language_texts(who, reason_kind),
            email_var=np.where(self.chance(0.04, size), EMAIL_MESSY, EMAIL_CLEAN),
            phone_var=PHONE_E164,
        )
        return hours, in_backlog

    def _fulfil(
        self, who: I64, t_buy: I64, value: F64, promised_days: I64, order_index: int
    ) -> None:
        rng, log, plan = self.rng, self.log, self.plan
        size = who.size
        # confirmation
        sent = t_buy + self.uniform(5 * SECOND, 90 * SECOND, size)
        log.emit(
            who,
            sent,
            "order_confirmation_sent",
            "email",
            KEY_EMAIL,
            ID_EMAIL,
            campaign=v.CAMPAIGN_ORDER_CONFIRMATION,
            order_index=order_index,
        )
        opened = self.chance(0.78, size)
        log.emit(
            who[opened],
            (sent + self.days(0.02, 1.5, size))[opened],
            "email_open",
            "email",
            KEY_EMAIL,
            ID_EMAIL,
            campaign=v.CAMPAIGN_ORDER_CONFIRMATION,
        )
        # shipping and delivery
        late = self.chance(P_LATE, size)
        delivery_days = np.where(
            late,
            promised_days + 1 + rng.poisson(1.2, size),
            rng.uniform(2.0, promised_days, size),
        )
        delivered = self.local_time(who, t_buy + (delivery_days * DAY).astype(np.int64), 9, 20)
        promised = self.local_time(who, t_buy + promised_days * DAY, 12, 12)
        days_late = np.maximum(0, (delivered - promised + 12 * HOUR) // DAY)
        shipped = t_buy + self.uniform(0.4 * DAY, 1.8 * DAY, size)
        shipped = np.minimum(shipped, delivered - 6 * HOUR)
        in_transit = shipped + ((delivered - shipped) * rng.uniform(0.2, 0.5, size)).astype(
            np.int64
        )
        out = delivered - self.uniform(1 * HOUR, 6 * HOUR, size)
        for status, when in enumerate((shipped, in_transit, out)):
            log.emit(
                who,
                when,
                "shipment_status_update",
                "email",
                KEY_EMAIL,
                ID_EMAIL,
                status=status,
                order_index=order_index,
            )
        log.emit(
            who,
            delivered,
            "order_delivered",
            "delivery",
            KEY_PHONE,
            ID_PHONE,
            phone_var=PHONE_SPACED,
            days_late=days_late,
            promised=promised,
            order_index=order_index,
        )
        views = 1 + rng.poisson(0.6, size) + np.where(late, rng.poisson(2.5, size), 0)
        owner, _ = expand(views)
        log.emit(
            who[owner],
            shipped[owner]
            + ((delivered - shipped)[owner] * rng.random(owner.size)).astype(np.int64),
            "tracking_page_view",
            "web",
            KEY_DEVICE,
            ID_DEVICE,
            page=v.PAGE_TRACK,
        )
        # tickets: where is my order, the wrong size, a damaged box
        had_ticket = np.zeros(size, dtype=bool)
        backlog = np.zeros(size, dtype=bool)
        answered = np.full(size, NEVER, dtype=np.int64)
        wismo = self.chance(np.where(late, 0.45, 0.04), size)
        t_wismo = np.where(
            late,
            promised + ((delivered - promised) * rng.uniform(0.05, 0.9, size)).astype(np.int64),
            shipped + ((delivered - shipped) * rng.uniform(0.3, 0.9, size)).astype(np.int64),
        )
        exchange = self.chance(0.06, size)
        damaged = self.chance(0.015, size)
        after = delivered + self.uniform(6 * HOUR, 4 * DAY, size)
        for asked, when, reason in (
            (wismo, t_wismo, v.REASON_ORDER_STATUS),
            (exchange, after, v.REASON_SIZE_EXCHANGE),
            (damaged, after + HOUR, v.REASON_DAMAGED),
        ):
            rows = np.flatnonzero(asked)
            hours, in_backlog = self._tickets(who[rows], when[rows], reason)
            had_ticket[rows] = True
            backlog[rows] |= in_backlog
            answered[rows] = np.minimum(
                answered[rows], when[rows] + (hours * HOUR).astype(np.int64)
            )
            # ignored customers write again
            again = rows[in_backlog & self.chance(0.5, rows.size)]
            self._tickets(
                who[again],
                when[again] + self.uniform(20 * HOUR, 60 * HOUR, again.size),
                v.REASON_FOLLOW_UP,
            )
        # refunds
        refunded = self.chance(0.04 + 0.5 * damaged, size)
        log.emit(
            who[refunded],
            (delivered + self.uniform(5 * DAY, 15 * DAY, size))[refunded],
            "refund_issued",
            "billing",
            KEY_CRM,
            ID_CRM | ID_EMAIL,
            value=-value[refunded],
            order_index=order_index,
        )
        # first runs: the training-plan QR card, the care e-mail
        qr = self.chance(0.35 if order_index == 1 else 0.06, size)
        log.emit(
            who[qr],
            self.daytime(who, delivered + self.days(1.0, 1.0, size))[qr],
            "qr_code_scan",
            "print",
            KEY_DEVICE,
            ID_DEVICE,
            campaign=v.CAMPAIGN_TRAINING_PLAN,
        )
        insole = self.chance(0.05, size)
        log.emit(
            who[insole],
            (delivered + self.days(3.0, 1.0, size))[insole],
            "qr_code_scan",
            "print",
            KEY_DEVICE,
            ID_DEVICE,
            campaign=v.CAMPAIGN_INSOLE,
        )
        care = self.local_time(who, delivered + 2 * DAY, 8, 10)
        opened = self.chance(0.55, size)
        open_at = care + self.days(0.15, 1.5, size)
        log.emit(
            who[opened],
            open_at[opened],
            "email_open",
            "email",
            KEY_EMAIL,
            ID_EMAIL,
            campaign=v.CAMPAIGN_POST_PURCHASE,
        )
        clicked = opened & self.chance(0.4, size)
        log.emit(
            who[clicked],
            (open_at + self.minutes(1.0, size, 0.1))[clicked],
            "email_click",
            "email",
            KEY_EMAIL,
            ID_EMAIL,
            campaign=v.CAMPAIGN_POST_PURCHASE,
        )
        # how they feel about it
        satisfaction = np.clip(
            rng.normal(0.84, 0.15, size) - 0.30 * late - 0.15 * had_ticket - 0.45 * backlog,
            0.0,
            1.0,
        )
        after = np.where(had_ticket, np.maximum(delivered, answered), delivered)
        self._survey(who, after, satisfaction, late, backlog, had_ticket)
        reviewing = self.chance(0.08 + 0.12 * satisfaction, size)
        rating = np.clip(np.round(1 + 4 * satisfaction + rng.normal(0, 0.4, size)), 1, 5)
        slot = np.zeros(size, dtype=np.int64)
        log.emit(
            who[reviewing],
            self.daytime(who, delivered + self.uniform(3 * DAY, 20 * DAY, size))[reviewing],
            "review_submitted",
            self.home[who[reviewing]],
            KEY_DEVICE,
            ID_DEVICE | ID_EMAIL,
            rating=rating[reviewing],
            category=self.category[who[reviewing]],
            text=self.language_texts(
                who[reviewing],
                np.where(
                    rating[reviewing] >= 4,
                    v.text_kind("review_positive"),
                    v.text_kind("review_negative"),
                ),
            ),
            slot=slot[reviewing],
        )
        # advocacy, once the programme is running
        t_send = self.daytime(who, delivered + self.uniform(2 * DAY, 30 * DAY, size))
        sending = (
            (satisfaction > 0.6) & (t_send >= plan.referral_launch_ms) & self.chance(0.18, size)
        )
        log.emit(
            who[sending],
            t_send[sending],
            "referral_sent",
            "referral",
            KEY_EMAIL,
            ID_EMAIL,
            ref=self.gidx[who[sending]],
        )
        rewarded = sending & self.chance(0.4, size)
        log.emit(
            who[rewarded],
            (t_send + self.uniform(2 * DAY, 20 * DAY, size))[rewarded],
            "referral_purchase",
            "referral",
            KEY_EMAIL,
            ID_EMAIL,
            ref=self.gidx[who[rewarded]],
        )
        # leaving: those the backlog ignored close their account or go quiet
        after = np.where(had_ticket, answered, delivered)
        self._leave(who, after, backlog, had_ticket, baseline=0.01)
        self.late_last[who] = late

    def _leave(
        self, who: I64, after: I64, backlog: Bool, had_ticket: Bool, baseline: float
    ) -> None:
        """Some customers close their account or unsubscribe after ``after``: most of
        those the backlog ignored, a few after a normal ticket; the ignored who stay
        go silent (they rarely buy again)."""
        size = who.size
        u = self.rng.random(size)
        p_close = np.where(backlog, P_CLOSE_BACKLOG, np.where(had_ticket, P_CLOSE_TICKET, 0.0))
        p_unsub = np.where(
            backlog, P_UNSUBSCRIBE_BACKLOG, np.where(had_ticket, P_UNSUBSCRIBE_TICKET, baseline)
        )
        closing = u < p_close
        unsubscribing = ~closing & (u < p_close + p_unsub)
        leave_at = after + self.uniform(2 * HOUR, 3 * DAY, size)
        self.log.emit(
            who[closing],
            leave_at[closing],
            "account_closed",
            self.home[who[closing]],
            KEY_DEVICE,
            ID_DEVICE | ID_EMAIL,
            page=v.PAGE_ACCOUNT,
        )
        self.log.emit(
            who[unsubscribing],
            leave_at[unsubscribing],
            "email_unsubscribed",
            "email",
            KEY_EMAIL,
            ID_EMAIL,
            campaign=v.CAMPAIGN_NEWSLETTER,
        )
        leaving = closing | unsubscribing
        self.churn_at[who[leaving]] = np.minimum(self.churn_at[who[leaving]], leave_at[leaving])
        self.silent[who] |= backlog & ~leaving

    def _survey(
        self, who: I64, after: I64, satisfaction: F64, late: Bool, backlog: Bool, had_ticket: Bool
    ) -> None:
        rng = self.rng
        size = who.size
        answering = self.chance(np.where(had_ticket, 0.45, 0.28), size)
        kind = self.pick([0.5, 0.35, 0.15], size)
        noise = rng.normal(0, 0.08, size)
        level = np.clip(satisfaction + noise, 0, 1)
        score = np.select(
            [kind == 0, kind == 1],
            [1 + np.round(4 * level), np.round(10 * level**0.8)],
            1 + np.round(6 * level),
        )
        commenting = self.chance(0.4, size)
        sentiment = np.select(
            [level >= 0.7, level >= 0.45, backlog],
            [
                v.text_kind("survey_positive"),
                v.text_kind("survey_neutral"),
                v.text_kind("survey_negative_support"),
            ],
            np.where(
                late | ~had_ticket,
                v.text_kind("survey_negative_delivery"),
                v.text_kind("survey_negative_support"),
            ),
        )
        rows = answering
        text = np.where(commenting, self.language_texts(who, sentiment), -1)
        self.log.emit(
            who[rows],
            self.daytime(who, after + self.uniform(1 * DAY, 4 * DAY, size))[rows],
            "survey_response",
            "email",
            KEY_EMAIL,
            ID_EMAIL,
            survey=kind[rows],
            score=score[rows],
            text=text[rows],
        )

    def _repeat_order(self, order_index: int) -> None:
        rng, log, plan = self.rng, self.log, self.plan
        eligible = np.flatnonzero(self.last_order == order_index - 1)
        if eligible.size == 0:
            return
        segment_factor = np.array([1.0, 1.4, 1.2, 0.7])[self.segment[eligible]]
        p = (
            P_REPEAT
            * segment_factor
            * np.where(self.silent[eligible], REPEAT_AFTER_BACKLOG, 1.0)
            * np.where(self.late_last[eligible], 0.7, 1.0)
            * np.where(self.member[eligible], 1.25, 1.0)
        )
        t = self.daytime(
            eligible, self.last_purchase[eligible] + self.days(38.0, 0.6, eligible.size)
        )
        going = self.chance(p, eligible.size) & (t < plan.end_ms) & (t < self.churn_at[eligible])
        people, t = eligible[going], t[going]
        in_store = (self.country[people] == 0) & self.chance(0.22, people.size)
        # in a shop, with the loyalty card if they have one
        shop = people[in_store]
        t_shop = self.local_time(shop, t[in_store], 10, 21)
        member = self.member[shop]
        category = self.pick([0.55, 0.1, 0.25, 0.1], shop.size)
        value = np.round(v.CATEGORY_PRICE[category] * np.exp(rng.normal(0, 0.3, shop.size)), 2)
        log.emit(
            shop,
            t_shop,
            "purchase",
            "store",
            KEY_PHONE,
            np.where(member, ID_PHONE | ID_EMAIL, ID_PHONE),
            phone_var=PHONE_LOCAL,
            email_var=np.where(self.chance(0.25, shop.size), EMAIL_MESSY, EMAIL_CLEAN),
            value=value,
            order_index=order_index,
            category=category,
            payment=self.pick([0.5, 0.2, 0.0, 0.2, 0.1], shop.size),
        )
        self.last_order[shop] = order_index
        self.last_purchase[shop] = t_shop
        # online: log in, look around, buy again
        online = people[~in_store]
        t = t[~in_store]
        size = online.size
        slot = (self.has_device1[online] & self.chance(0.4, size)).astype(np.int64)
        channel = self.channel_of(online, slot)
        log.emit(
            online,
            t,
            "login",
            channel,
            KEY_DEVICE,
            ID_DEVICE | ID_EMAIL,
            slot=slot,
            page=v.PAGE_LOGIN,
        )
        self.category[online] = np.where(
            self.chance(0.6, size), self.category[online], self.pick([0.4, 0.1, 0.3, 0.2], size)
        )
        views = 1 + rng.poisson(1.0, size)
        owner, rank = expand(views)
        category = self.category[online][owner]
        ts = t[owner] + (rank + 1) * self.minutes(0.8, owner.size, 0.1)
        log.emit(
            online[owner],
            ts,
            "product_view",
            channel[owner],
            KEY_DEVICE,
            ID_DEVICE,
            slot=slot[owner],
            category=category,
            page=v.PAGE_PRODUCT
            + category * v.PRODUCTS_PER_CATEGORY
            + rng.integers(0, 3, owner.size),
        )
        t_cart = t + (views + 1) * 2 * MINUTE
        self.extra_item[online] = self.chance(0.2, size)
        log.emit(
            online,
            t_cart,
            "add_to_cart",
            channel,
            KEY_DEVICE,
            ID_DEVICE,
            slot=slot,
            category=self.category[online],
        )
        log.emit(
            online,
            t_cart + self.minutes(0.5, size, 0.1),
            "cart_view",
            channel,
            KEY_DEVICE,
            ID_DEVICE,
            slot=slot,
            page=v.PAGE_CART,
        )
        carrying_on = self.chance(0.85, size)
        self._order(
            online[carrying_on],
            (t_cart + self.minutes(1.0, size, 0.3))[carrying_on],
            channel[carrying_on],
            slot[carrying_on],
            order_index,
        )

    def _newsletters(self) -> None:
        rng, plan = self.rng, self.plan
        known = np.flatnonzero(self.crm_at < plan.end_ms)
        start = self.crm_at[known] + DAY
        stop = np.minimum(self.churn_at[known], plan.end_ms)
        weeks = np.maximum(stop - start, 0) / (7 * DAY)
        opens = rng.poisson(0.8 * weeks)
        owner, _ = expand(opens)
        who = known[owner]
        ts = start[owner] + ((stop - start)[owner] * rng.random(owner.size)).astype(np.int64)
        ts = self.daytime(who, ts)
        before = ts < stop[owner]  # not after they left
        who, ts = who[before], ts[before]
        self.log.emit(
            who, ts, "email_open", "email", KEY_EMAIL, ID_EMAIL, campaign=v.CAMPAIGN_NEWSLETTER
        )
        clicked = self.chance(0.15, who.size)
        self.log.emit(
            who[clicked],
            ts[clicked] + self.minutes(0.5, int(clicked.sum()), 0.05),
            "email_click",
            "email",
            KEY_EMAIL,
            ID_EMAIL,
            campaign=v.CAMPAIGN_NEWSLETTER,
        )
