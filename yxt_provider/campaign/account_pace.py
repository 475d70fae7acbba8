"""One send pace for a whole gateway account, shared through the ledger by every task and worker.

The gateway limits requests per *account*. A campaign sharded over eight mapped tasks on two
Celery workers, each pacing itself at the account's limit, offers eight times that limit.
:class:`AccountPacer` keeps the pace in the ledger instead (``yxt_account_pace``, one row per
account), where every task using the account reads and moves it:

- **Reserving a slot** (:meth:`AccountPacer.acquire`) is one short write transaction: lock
  the row, read the database's clock, take ``slot = max(next_slot, now)``, move ``next_slot``
  to ``slot + 1/rate``, commit; then sleep until the slot. Slots are spaced ``1/rate`` apart on
  the database's clock whichever worker reserves them, and an idle account banks no burst.
- **Code 11** (:meth:`AccountPacer.on_throttled`) cuts the shared rate (×0.7) and pushes
  ``next_slot`` out, in its own transaction: every other task slows down at its next slot.
  Requests reserved before that cut that come back throttled too are counted, not cut for
  again: one congestion, one cut, however many tasks saw it.
- **Accepted requests** (:meth:`AccountPacer.on_success`) add back 5 % of the limit each, up
  to the limit. They are counted in memory and folded into the next reservation's
  transaction, so a request costs one write, not two.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from yxt_provider.campaign.ratelimit import AdaptiveRateLimiter, Pacer, check_rate
from yxt_provider.ledger.models import AccountPace
from yxt_provider.ledger.store import Ledger

if TYPE_CHECKING:
    from yxt_provider.client.client import YxtClient

__all__ = ["MAX_QUEUE_AHEAD", "AccountPacer", "account_key", "account_key_of", "make_pacer"]

#: Seconds the account's next free slot may lie ahead of the database's clock. Reservations queue
#: at most (tasks × threads) / rate ahead: 32 requests at the 0.5/s floor is 64 s. Beyond this,
#: the clock went back, and the pace starts again from now.
MAX_QUEUE_AHEAD = 120.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def account_key(base_url: str, app_key: str, sp_code: str) -> str:
    """The key of a gateway account in the ledger: a hash of its host, app key and sp_code (no secret).

    Two connections to the same account share one pace; a sandbox on another port, or another
    app key on the same gateway, gets its own.

    :param base_url: the gateway's send base URL (only its host and port count).
    :param app_key: the account name (the connection's login).
    :param sp_code: the enterprise code.
    """
    parts = urlsplit(base_url)
    host = (parts.hostname or base_url).lower()
    # https://gw and https://gw:443 are one account: the scheme's default port is filled in.
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    where = f"{host}:{port}" if port is not None else host
    return hashlib.sha256("\0".join(("yxt-account", where, app_key, sp_code)).encode()).hexdigest()


def account_key_of(client: YxtClient) -> str:
    """:func:`account_key` of the account ``client`` sends through.

    :param client: the gateway client.
    """
    return account_key(client.base_url, client.app_key, client.sp_code)


class AccountPacer:
    """The pace of one gateway account, shared through the ledger (see the module docstring).

    Thread-safe: one instance serves the send threads of a task; each task (each process)
    has its own instance, and they agree through the ledger row.

    :param ledger: the ledger every task of the account uses (the deployment's shared database).
    :param account_key: the account (:func:`account_key`).
    :param max_rate: the account's limit, requests per second (the connection's
        ``max_requests_per_second``); the shared rate never recovers past it.
    :param task_ceiling: requests per second this task never exceeds, in addition (the
        operator's ``max_requests_per_second``); ``None``: only the account's pace.
    :param min_rate: the floor the shared rate never drops below.
    :param decrease: factor applied to the shared rate on a code 11 (multiplicative decrease).
    :param recover_fraction: share of ``max_rate`` added back per accepted request.
    :param clock: monotonic clock, replaceable in tests.
    :param sleep: sleep function, replaceable in tests.
    :raises ValueError: for a rate that is not a positive, finite number.
    """

    def __init__(
        self,
        ledger: Ledger,
        account_key: str,
        max_rate: float,
        *,
        task_ceiling: float | None = None,
        min_rate: float = 0.5,
        decrease: float = 0.7,
        recover_fraction: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_rate = check_rate(max_rate, "the connection's max_requests_per_second")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.ledger = ledger
        self.account_key = account_key
        # A floor above the limit would pace faster than the limit after a throttle.
        self.min_rate = min(check_rate(min_rate, "min_rate"), self.max_rate)
        self.decrease = decrease
        self._step = max(self.max_rate * recover_fraction, 0.1)
        self._clock = clock
        self._sleep = sleep
        self._ceiling = (
            AdaptiveRateLimiter(check_rate(task_ceiling), clock=clock, sleep=sleep)
            if task_ceiling is not None
            else None
        )
        self._lock = threading.Lock()
        self._successes = 0
        self._rate = self.max_rate
        # The database time at which this thread's last slot was reserved (see on_throttled).
        self._reserved = threading.local()
        self.throttles = 0

    @property
    def rate(self) -> float:
        """The account's shared pace as this pacer last saw it, requests per second."""
        return self._rate

    @property
    def reserved_slot(self) -> float | None:
        """The slot this thread last reserved, seconds since the epoch on the database's clock."""
        return getattr(self._reserved, "slot", None)

    def acquire(self) -> None:
        """Reserve the account's next slot in the ledger, then wait for it."""
        if self._ceiling is not None:
            self._ceiling.acquire()
        successes = self._take_successes()
        slot: list[float] = []

        def reserve(row: AccountPace, now: float) -> AccountPace:
            rate = self._recovered(row, successes)
            # A next slot further ahead than any real queue can reach means the database's clock
            # stepped back (NTP, a failover): start again from now rather than stall every task.
            ahead = row.next_slot - now
            slot[:] = [now if ahead > MAX_QUEUE_AHEAD else max(row.next_slot, now)]
            return replace(row, rate=rate, max_rate=self.max_rate, next_slot=slot[0] + 1.0 / rate)

        change = self.ledger.change_account_pace(
            self.account_key, reserve, initial_rate=self.max_rate, clock=self._clock
        )
        self._rate = change.after.rate
        self._reserved.at, self._reserved.slot = change.now, slot[0]
        # The slot is on the database's clock; the wait is measured on ours from when it was read.
        delay = change.read_at + (slot[0] - change.now) - self._clock()
        if delay > 0:
            self._sleep(delay)

    def on_throttled(self) -> None:
        """Code 11: cut the account's rate and push its next slot out, for every task at its next slot."""
        successes = self._take_successes()
        reserved_at: float | None = getattr(self._reserved, "at", None)

        def cut(row: AccountPace, now: float) -> AccountPace:
            rate = self._recovered(row, successes)
            counted = replace(row, rate=rate, max_rate=self.max_rate, throttles=row.throttles + 1)
            if (
                reserved_at is not None
                and row.last_throttle_at is not None
                and reserved_at < row.last_throttle_at
            ):
                # Paced before the last cut: the same congestion that cut already answered.
                return counted
            rate = max(self.min_rate, rate * self.decrease)
            # Give the gateway's bucket a moment to refill before anyone's next slot.
            next_slot = max(row.next_slot, now + 1.0 / rate)
            return replace(counted, rate=rate, next_slot=next_slot, last_throttle_at=now)

        change = self.ledger.change_account_pace(
            self.account_key, cut, initial_rate=self.max_rate, clock=self._clock
        )
        with self._lock:
            self.throttles += 1
        self._rate = change.after.rate

    def on_success(self) -> None:
        """An accepted request: counted here, added to the shared rate at the next reservation."""
        with self._lock:
            self._successes += 1

    def _take_successes(self) -> int:
        with self._lock:
            successes, self._successes = self._successes, 0
        return successes

    def _recovered(self, row: AccountPace, successes: int) -> float:
        """The row's rate after ``successes`` additive increases, within this account's limits."""
        return max(self.min_rate, min(self.max_rate, row.rate + successes * self._step))


def make_pacer(
    ledger: Ledger,
    client: YxtClient,
    *,
    account_rate: float | None,
    task_rate: float | None,
) -> Pacer:
    """The pacer of one send pass: the account's shared pace when it has a limit, else the task's own.

    :param ledger: the campaign's ledger (where the account's pace is shared).
    :param client: the gateway client (names the account).
    :param account_rate: the account's limit (the connection's ``max_requests_per_second``).
    :param task_rate: this task's own ceiling (the operator's ``max_requests_per_second``).
    """
    if account_rate is None:
        return AdaptiveRateLimiter(task_rate)
    return AccountPacer(ledger, account_key_of(client), account_rate, task_ceiling=task_rate)
