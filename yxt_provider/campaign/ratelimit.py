"""Client-side pacing: a token bucket whose rate backs off on code 11 and recovers gradually (AIMD).

:class:`Pacer` is what the sender paces itself with. :class:`AdaptiveRateLimiter` is the
per-process one (no limit, or a limit of one task); the pace a whole gateway account
shares through the ledger is :class:`~yxt_provider.campaign.account_pace.AccountPacer`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["AdaptiveRateLimiter", "Pacer", "check_rate"]


class Pacer(Protocol):
    """Paces send requests: a slot before each request, and what the gateway answered after it."""

    def acquire(self) -> None:
        """Wait for the next request slot."""

    def on_throttled(self) -> None:
        """The gateway answered code 11 (too many requests): slow down."""

    def on_success(self) -> None:
        """The gateway accepted a request: speed up again, gradually."""


def check_rate(value: object, name: str = "max_requests_per_second") -> float:
    """``value`` as a rate in requests per second; refuses anything but a positive, finite number.

    :param value: the rate as given (a number; text and ``True`` are refused, not guessed at).
    :param name: what it is called where it was given, for the message.
    :raises ValueError: naming ``name``, the value and what is allowed.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of requests per second, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite number of requests per second, got {value!r}")
    return float(value)


_OBSERVATION_WINDOW = 1.0  # seconds
_MIN_OBSERVATION = 0.25  # seconds


class AdaptiveRateLimiter:
    """Paces requests across threads; halves its rate when the gateway throttles, then creeps back.

    :param max_rate: requests per second never exceeded; ``None`` means unpaced until the
        gateway throttles, then paced from the rate observed, with no ceiling.
    :param min_rate: the floor the rate never drops below, in requests per second.
    :param decrease: factor applied to the rate on each throttle (multiplicative decrease).
    :param recover_fraction: share of ``max_rate`` (or of the pace observed at the first
        throttle) added back per accepted request (additive increase).
    :param clock: monotonic clock, replaceable in tests.
    :param sleep: sleep function, replaceable in tests.
    """

    def __init__(
        self,
        max_rate: float | None = None,
        *,
        min_rate: float = 0.5,
        decrease: float = 0.7,
        recover_fraction: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_rate is not None:
            max_rate = check_rate(max_rate)
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.max_rate = max_rate
        self.min_rate = min_rate
        self.decrease = decrease
        self.recover_fraction = recover_fraction
        self._rate: float | None = max_rate
        # Additive increase per accepted request: a share of the configured ceiling, or of the
        # pace seen at the first throttle when there is no ceiling.
        self._step = max(max_rate * recover_fraction, 0.1) if max_rate is not None else 0.1
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = clock()
        # Start times of recent requests while unpaced, to learn the pace the gateway refused.
        self._recent: deque[float] = deque(maxlen=10_000)
        self.throttles = 0

    @property
    def rate(self) -> float | None:
        """The current pace in requests per second (``None``: unpaced)."""
        return self._rate

    def acquire(self) -> None:
        """Wait for the next request slot."""
        with self._lock:
            now = self._clock()
            if self._rate is None:
                self._recent.append(now)
                return
            # Slots are spaced 1/rate apart; an idle limiter does not bank a burst.
            slot = max(self._next_slot, now)
            self._next_slot = slot + 1.0 / self._rate
        if slot > now:
            self._sleep(slot - now)

    def on_throttled(self) -> None:
        """The gateway answered code 11: cut the rate (multiplicative decrease)."""
        with self._lock:
            self.throttles += 1
            if self._rate is None:
                observed = self._observed_rate()
                self._step = max(observed * self.recover_fraction, 0.1)
                self._rate = observed
            self._rate = max(self.min_rate, self._rate * self.decrease)
            # Give the gateway's bucket a moment to refill before the next slot.
            self._next_slot = max(self._next_slot, self._clock() + 1.0 / self._rate)

    def on_success(self) -> None:
        """A request was accepted: creep back up (additive increase), never past ``max_rate``."""
        with self._lock:
            if self._rate is None:
                return
            self._rate += self._step
            if self.max_rate is not None:
                self._rate = min(self.max_rate, self._rate)

    def _observed_rate(self) -> float:
        """The pace of the requests started in the last second, the pace that was too fast.

        Measured over at least a quarter second: a pool of threads starting in the same
        instant would otherwise look like thousands of requests per second.
        """
        now = self._clock()
        recent = [started for started in self._recent if started > now - _OBSERVATION_WINDOW]
        if not recent:
            return self.min_rate
        return len(recent) / max(now - recent[0], _MIN_OBSERVATION)
