"""Retry settings and the tenacity policy the client applies to every call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity

from yxt_provider.client.errors import YxtClockSkewError, YxtError, YxtThrottledError

__all__ = ["RetrySettings", "build_retrying"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrySettings:
    """How the client retries transient failures (transport errors, HTTP 5xx, codes 11, 20, 507).

    :param max_attempts: attempts in all, the first included.
    :param max_elapsed: seconds after which no new attempt starts.
    :param initial_wait: first back-off in seconds; it doubles each attempt.
    :param max_wait: longest single back-off in seconds.
    :param jitter: up to this many seconds added at random to each back-off.
    :param retry_throttled: retry code 11 here; callers that pace themselves (the campaign
        sender) turn this off to hear of a throttle at once and slow down instead.
    """

    max_attempts: int = 5
    max_elapsed: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 10.0
    jitter: float = 0.5
    retry_throttled: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_elapsed <= 0 or self.initial_wait < 0 or self.max_wait < 0 or self.jitter < 0:
            raise ValueError("retry times must be positive")


class _RetryPredicate:
    """Retry what can help; code 507 (clock skew) only once per call, as the protocol says."""

    def __init__(self, retry_throttled: bool) -> None:
        self.clock_skews = 0
        self.retry_throttled = retry_throttled

    def __call__(self, exc: BaseException) -> bool:
        if isinstance(exc, YxtThrottledError) and not self.retry_throttled:
            return False
        if isinstance(exc, YxtClockSkewError):
            self.clock_skews += 1
            return self.clock_skews < 2
        return isinstance(exc, YxtError) and bool(exc.retryable)


def build_retrying(
    settings: RetrySettings,
    what: str,
    on_retry: Callable[[BaseException, int], None] | None = None,
) -> tenacity.Retrying:
    """Return a ``tenacity.Retrying`` for one logical call (a fresh one per call)."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s failed (attempt %d): %s; retrying in %.2fs", what, state.attempt_number, exc, wait)
        if on_retry is not None and exc is not None:
            on_retry(exc, state.attempt_number)

    kwargs: dict[str, Any] = {
        "stop": tenacity.stop_after_attempt(settings.max_attempts)
        | tenacity.stop_after_delay(settings.max_elapsed),
        "wait": tenacity.wait_exponential(multiplier=settings.initial_wait, max=settings.max_wait)
        + tenacity.wait_random(0, settings.jitter),
        "retry": tenacity.retry_if_exception(_RetryPredicate(settings.retry_throttled)),
        "before_sleep": before_sleep,
        "reraise": True,
    }
    return tenacity.Retrying(**kwargs)
