"""Client-side pacing: a token bucket whose rate backs off on code 11 and recovers gradually (AIMD)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["AdaptiveRateLimiter"]


class AdaptiveRateLimiter:
    """Paces requests across threads; halves its rate when the gateway throttles, then creeps back.

    :param max_rate: requests per second never exceeded; ``None`` means no ceiling until the
        gateway throttles (then the limiter starts from the rate it observed).
    :param min_rate: the floor the rate never drops below, in requests per second.
    :param decrease: factor applied to the rate on each throttle (multiplicative decrease).
    :param recover_fraction: share of the ceiling added back per accepted request (additive increase).
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
        if max_rate is not None and max_rate <= 0:
            raise ValueError("max_requests_per_second must be positive")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.max_rate = max_rate
        self.min_rate = min_rate
        self.decrease = decrease
        self.recover_fraction = recover_fraction
        self._rate: float | None = max_rate
        # The rate recovery climbs back to: the configured ceiling, or the pace seen at the first throttle.
        self._ceiling: float | None = max_rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = clock()
        self._recent: list[float] = []
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
                del self._recent[:-50]
                return
            # Slots are spaced 1/rate apart; an idle limiter does not bank a burst.
            slot = max(self._next_slot, now)
            self._next_slot = slot + 1.0 / self._rate
        if slot > now:
            self._sleep(slot - now)

    def on_throttled(self) -> None:
        """The gateway answered code 11: cut the rate."""
        with self._lock:
            self.throttles += 1
            if self._rate is None:
                self._ceiling = self._observed_rate()
            current = self._rate if self._rate is not None else self._ceiling or self.min_rate
            self._rate = max(self.min_rate, current * self.decrease)
            # Give the gateway's bucket a moment to refill before the next slot.
            self._next_slot = max(self._next_slot, self._clock() + 1.0 / self._rate)

    def on_success(self) -> None:
        """A request was accepted: recover a little of the rate given up."""
        with self._lock:
            if self._rate is None or self._ceiling is None:
                return
            step = max(self._ceiling * self.recover_fraction, 0.1)
            self._rate = min(self._ceiling, self._rate + step)

    def _observed_rate(self) -> float:
        if len(self._recent) < 2:
            return 10.0
        span = self._recent[-1] - self._recent[0]
        return (len(self._recent) - 1) / span if span > 0 else 100.0
