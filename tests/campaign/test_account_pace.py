"""The account's shared send pace, on real ledgers (SQLite, PostgreSQL, MariaDB): separate engines
stand for separate workers, so everything they agree on went through the database."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from tests.fixtures.ledger import ALL_BACKENDS, ledger_url_fixture
from yxt_provider.campaign.account_pace import AccountPacer, account_key, make_pacer
from yxt_provider.campaign.ratelimit import AdaptiveRateLimiter, check_rate
from yxt_provider.campaign.sender import SendSettings
from yxt_provider.client import YxtClient
from yxt_provider.ledger import Ledger

# The pace is the ledger's business: every backend it supports.
ledger_url = ledger_url_fixture(ALL_BACKENDS)

KEY = account_key("https://gateway.example:8443", "app", "100001")


@pytest.fixture
def workers(ledger_url: str) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on one database, each with its own engine: two workers' view of it."""
    first, second = Ledger.from_url(ledger_url), Ledger.from_url(ledger_url)
    try:
        yield first, second
    finally:
        first.dispose()
        second.dispose()


def test_two_workers_never_get_slots_closer_than_one_over_the_rate(workers: tuple[Ledger, Ledger]) -> None:
    rate, per_worker = 40.0, 12
    # The second worker's own clock is an hour ahead: only the database's clock counts.
    skewed = lambda: time.monotonic() + 3600.0  # noqa: E731
    pacers = [AccountPacer(workers[0], KEY, rate), AccountPacer(workers[1], KEY, rate, clock=skewed)]
    slots: list[float] = []
    lock = threading.Lock()

    def run(pacer: AccountPacer) -> None:
        for _ in range(per_worker):
            pacer.acquire()
            assert pacer.reserved_slot is not None
            with lock:
                slots.append(pacer.reserved_slot)

    threads = [threading.Thread(target=run, args=(pacer,)) for pacer in pacers]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    slots.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert len(slots) == 2 * per_worker
    assert min(gaps) >= 1 / rate - 1e-6  # the database hands out slots exactly 1/rate apart
    # 24 slots at 40/s: the last is 23/40 s after the first, and the workers really waited for them.
    assert slots[-1] - slots[0] == pytest.approx((2 * per_worker - 1) / rate, abs=0.05)
    assert elapsed >= (2 * per_worker - 1) / rate - 0.02


def test_a_throttle_seen_by_one_worker_slows_the_other_and_successes_bring_it_back(
    workers: tuple[Ledger, Ledger],
) -> None:
    a, b = AccountPacer(workers[0], KEY, 20.0), AccountPacer(workers[1], KEY, 20.0)
    a.acquire()
    b.acquire()
    a.on_throttled()
    pace = workers[1].account_pace(KEY)
    assert pace is not None and pace.rate == pytest.approx(14.0) and pace.throttles == 1
    assert pace.last_throttle_at is not None
    # B, reserved before the cut, comes back throttled too: the same congestion, not a second cut.
    b.on_throttled()
    pace = workers[0].account_pace(KEY)
    assert pace is not None and pace.rate == pytest.approx(14.0) and pace.throttles == 2

    # B's next slots follow the lowered rate, and start no earlier than the cut pushed them.
    b.acquire()
    first = b.reserved_slot
    b.acquire()
    second = b.reserved_slot
    assert b.rate == pytest.approx(14.0)
    assert first is not None and second is not None and pace.last_throttle_at is not None
    assert first >= pace.last_throttle_at + 1 / 14.0 - 1e-6
    assert second - first == pytest.approx(1 / 14.0, abs=1e-6)

    # A request reserved after the cut and throttled again cuts again.
    b.on_throttled()
    assert b.rate == pytest.approx(9.8)

    # Accepted requests anywhere creep the shared rate back, folded into the next reservation,
    # and never past the account's limit.
    for _ in range(3):
        a.on_success()
    a.acquire()
    assert a.rate == pytest.approx(9.8 + 3 * 1.0)  # 5 % of 20/s per accepted request
    for _ in range(100):
        a.on_success()
    a.acquire()
    pace = workers[1].account_pace(KEY)
    assert pace is not None and pace.rate == 20.0 and pace.max_rate == 20.0 and pace.throttles == 3


def test_slots_are_on_the_database_clock(workers: tuple[Ledger, Ledger]) -> None:
    ledger = workers[0]
    pacer = AccountPacer(ledger, KEY, 1000.0)
    before = ledger.database_now()
    pacer.acquire()
    after = ledger.database_now()
    assert pacer.reserved_slot is not None and before <= pacer.reserved_slot <= after + 0.001
    # An idle account banks no burst: the next slot is "now", not where the last one left off.
    time.sleep(0.05)
    pacer.acquire()
    assert pacer.reserved_slot >= after + 0.05 - 0.005


def test_the_task_ceiling_applies_in_addition_to_the_account(workers: tuple[Ledger, Ledger]) -> None:
    pacer = AccountPacer(workers[0], KEY, 1000.0, task_ceiling=20.0)
    started = time.monotonic()
    for _ in range(6):
        pacer.acquire()
    # The account allows 1000/s; this task takes 20/s: five gaps of 50 ms.
    assert time.monotonic() - started >= 5 / 20.0 - 0.01


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), "20", True])
def test_malformed_rates_are_refused_with_a_clear_error(bad: object) -> None:
    with pytest.raises(ValueError, match="max_requests_per_second must be a"):
        SendSettings(account_max_requests_per_second=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_requests_per_second must be a"):
        SendSettings(max_requests_per_second=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"must be a .*got"):
        check_rate(bad)


def test_the_pacer_comes_from_where_the_limit_is_set(workers: tuple[Ledger, Ledger]) -> None:
    client = YxtClient("http://127.0.0.1:9", "100001", "app", "secret")
    try:
        shared = make_pacer(workers[0], client, account_rate=50.0, task_rate=10.0)
        assert isinstance(shared, AccountPacer) and shared.max_rate == 50.0
        assert shared.account_key == account_key("http://127.0.0.1:9", "app", "100001")
        own = make_pacer(workers[0], client, account_rate=None, task_rate=10.0)
        assert isinstance(own, AdaptiveRateLimiter) and own.max_rate == 10.0
    finally:
        client.close()


def test_account_keys_tell_accounts_apart_and_hide_the_secret() -> None:
    base = account_key("https://gw.example", "app", "100001")
    assert base == account_key("https://GW.example/sms/", "app", "100001")  # host, not path or case
    assert len({base, account_key("https://gw.example:8443", "app", "100001"),
                account_key("https://gw.example", "other", "100001"),
                account_key("https://gw.example", "app", "100002")}) == 4  # fmt: skip
    assert len(base) == 64 and "app" not in base


def test_a_database_clock_that_stepped_back_does_not_stall_the_account(
    workers: tuple[Ledger, Ledger],
) -> None:
    from dataclasses import replace

    from yxt_provider.campaign.account_pace import MAX_QUEUE_AHEAD

    ledger = workers[0]
    waits: list[float] = []
    pacer = AccountPacer(ledger, KEY, 10.0, sleep=waits.append)
    pacer.acquire()
    # As if the server's clock went back an hour after the last reservation.
    ledger.change_account_pace(KEY, lambda row, now: replace(row, next_slot=now + 3600.0), initial_rate=10.0)
    pacer.acquire()
    assert sum(waits) < 1.0, waits  # not an hour
    # A real queue ahead (within the bound) is still waited for.
    ledger.change_account_pace(KEY, lambda row, now: replace(row, next_slot=now + 2.0), initial_rate=10.0)
    pacer.acquire()
    assert 1.5 < waits[-1] <= 2.0 + 1e-3 and MAX_QUEUE_AHEAD > 2.0


def test_an_accounts_default_port_is_the_same_account() -> None:
    assert account_key("https://gw.example", "app", "1") == account_key(
        "https://GW.example:443/sms", "app", "1"
    )
    assert account_key("http://gw.example", "app", "1") == account_key("http://gw.example:80", "app", "1")
    assert account_key("https://gw.example", "app", "1") != account_key("https://gw.example:8443", "app", "1")
