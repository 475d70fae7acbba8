"""The adaptive rate limiter, on a fake clock (no sleeping)."""

from __future__ import annotations

from yxt_provider.campaign.ratelimit import AdaptiveRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_paces_requests_at_the_configured_rate() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    for _ in range(21):
        limiter.acquire()
    assert abs(clock.now - 2.0) < 1e-9  # 21 slots 0.1 s apart


def test_throttle_halves_the_rate_and_success_recovers_it() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(10.0, clock=clock, sleep=clock.sleep)
    limiter.on_throttled()
    assert limiter.rate == 7.0
    limiter.on_throttled()
    assert abs(limiter.rate - 4.9) < 1e-9
    for _ in range(200):
        limiter.on_success()
    assert limiter.rate == 10.0  # back to the ceiling, never above


def test_unlimited_limiter_starts_pacing_after_a_throttle_and_keeps_probing_up() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(None, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        limiter.acquire()
        clock.now += 0.01  # 100 requests/s observed over the last second
    assert limiter.rate is None
    limiter.on_throttled()
    assert limiter.rate is not None and 65 <= limiter.rate <= 75  # 0.7 x ~100/s
    assert limiter.throttles == 1
    for _ in range(100):
        limiter.on_success()
    assert limiter.rate > 100  # no ceiling: it probes past the old pace until the next 11


def test_observed_pace_is_not_inflated_by_threads_starting_together() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(None, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        limiter.acquire()  # four threads starting in the same instant
    limiter.on_throttled()
    assert limiter.rate is not None and limiter.rate <= 0.7 * 4 / 0.25
