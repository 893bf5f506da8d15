"""Signing in: the password check and the rate limit, compared with a brute-force
reference on random sequences of attempts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from jornada.accounts import AppState, RateLimitedError
from jornada.accounts.signin import (
    InvalidCredentialsError,
    LoginLimits,
    authenticate,
    check_rate_limit,
    record_attempt,
)
from jornada.accounts.users import add_user
from tests.accounts.conftest import Clock


def test_authenticate(state: AppState) -> None:
    add_user(state, "shop", "ana@example.com", role="editor", password="s3cret-pass")
    user = authenticate(state, "shop", " ANA@example.com ", "s3cret-pass", "10.0.0.1")
    assert (user.email, user.role) == ("ana@example.com", "editor")
    assert user.last_login_at == state.now()
    for email, password in (("ana@example.com", "wrong"), ("bo@example.com", "s3cret-pass")):
        with pytest.raises(InvalidCredentialsError, match="wrong e-mail or password"):
            authenticate(state, "shop", email, password, "10.0.0.1")


def test_a_locked_account_refuses_even_the_right_password(state: AppState, clock: Clock) -> None:
    add_user(state, "shop", "ana@example.com", password="s3cret-pass")
    limits = LoginLimits(per_account=3, per_address=100)
    for _ in range(3):
        with pytest.raises(InvalidCredentialsError):
            authenticate(state, "shop", "ana@example.com", "guess", "10.0.0.1", limits)
        clock.advance(minutes=1)
    with pytest.raises(RateLimitedError, match="try again in 13 minutes") as locked:
        authenticate(state, "shop", "ana@example.com", "s3cret-pass", "10.0.0.2", limits)
    assert locked.value.retry_after == 12 * 60 + 1  # the first failure frees at +15 min
    clock.advance(seconds=locked.value.retry_after)
    authenticate(state, "shop", "ana@example.com", "s3cret-pass", "10.0.0.2", limits)


# --- the rate limit against a brute-force reference --------------------------------------

EMAILS = ["ana@example.com", "bo@example.com"]
ADDRESSES = ["10.0.0.1", "10.0.0.2"]
LIMITS = LoginLimits(per_account=3, per_address=4, window=dt.timedelta(minutes=5))


@dataclass(frozen=True)
class Attempt:
    email: str
    address: str
    at: dt.datetime
    succeeded: bool


def reference_wait(history: list[Attempt], email: str, address: str, now: dt.datetime) -> int:
    """Seconds to wait before ``email`` may try from ``address``, by trying each second:
    at ``now + s``, count the failures still in the window (for the account, only those
    since its last success); the answer is the first ``s`` where both counts are under
    their limits (0 when they already are now)."""

    def locked_at(moment: dt.datetime) -> bool:
        start = moment - LIMITS.window
        successes = [a.at for a in history if a.email == email and a.succeeded]
        account = [
            a
            for a in history
            if a.email == email
            and not a.succeeded
            and a.at >= start
            and all(a.at >= success for success in successes)
        ]
        from_address = [
            a for a in history if a.address == address and not a.succeeded and a.at >= start
        ]
        return len(account) >= LIMITS.per_account or len(from_address) >= LIMITS.per_address

    if not locked_at(now):
        return 0
    seconds = 1
    while locked_at(now + dt.timedelta(seconds=seconds)):
        seconds += 1
    return seconds


def waiting_time(state: AppState, email: str, address: str) -> int:
    try:
        check_rate_limit(state, email, address, LIMITS)
    except RateLimitedError as error:
        return error.retry_after
    return 0


@contextmanager
def memory_state() -> Iterator[tuple[AppState, Clock]]:
    state = AppState.open("sqlite://")
    clock = Clock()
    state.clock = clock
    try:
        yield state, clock
    finally:
        state.close()


# Few accounts, mostly failures and short pauses: locks happen in most examples.
steps = st.lists(
    st.tuples(
        st.sampled_from(EMAILS),
        st.sampled_from(ADDRESSES),
        st.sampled_from([False, False, False, True]),
        st.sampled_from([0, 0, 0, 0, 0, 1, 30, 59, 60, 61, 299, 300, 301]),
    ),
    min_size=6,
    max_size=25,
)


@pytest.mark.slow
@settings(max_examples=60)
@given(steps)
def test_rate_limit_matches_the_reference(sequence: list[tuple[str, str, bool, int]]) -> None:
    history: list[Attempt] = []
    locks = 0
    with memory_state() as (state, clock):
        for email, address, succeeds, pause in sequence:
            wait = waiting_time(state, email, address)
            assert wait == reference_wait(history, email, address, clock.now)
            locks += wait > 0
            if not wait:  # as authenticate does: only attempts let through count
                record_attempt(state, email, address, succeeded=succeeds)
                history.append(Attempt(email, address, clock.now, succeeds))
            clock.advance(seconds=pause)
    event(f"locked {min(locks, 3)}+ times")
