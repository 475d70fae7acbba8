"""Deciding which configured :class:`~yxt_provider.sandbox.config.Fault` hits a call."""

from __future__ import annotations

import random
from dataclasses import dataclass

from yxt_provider.sandbox.config import Fault

__all__ = ["FaultAction", "FaultPlan"]


@dataclass(frozen=True)
class FaultAction:
    """What to do to one call: wait ``latency`` seconds, then apply ``kind`` (``None``: answer normally).

    ``seconds`` is the hitting rule's own delay (how long ``accept_then_stall`` holds the answer).
    """

    latency: float = 0.0
    kind: str | None = None
    seconds: float = 0.0


NO_FAULT = FaultAction()


class FaultPlan:
    """Counts calls per rule and applies ``skip``/``times``/``probability``.

    Not thread-safe by itself: the sandbox state calls it under its lock.

    :param faults: the configured rules, in order; the first non-latency rule that hits wins.
    :param seed: seeds the draws of rules with ``probability`` below 1.
    """

    def __init__(self, faults: tuple[Fault, ...], seed: int) -> None:
        self.faults = faults
        self._seen = [0] * len(faults)
        self._rng = random.Random(seed)

    def next_action(self, endpoint: str) -> FaultAction:
        """Count one call to ``endpoint`` against every matching rule and return the combined action."""
        if not self.faults:
            return NO_FAULT
        latency = 0.0
        kind: str | None = None
        seconds = 0.0
        for index, fault in enumerate(self.faults):
            if not fault.matches(endpoint):
                continue
            position = self._seen[index]
            self._seen[index] += 1
            if position < fault.skip:
                continue
            if fault.times is not None and position >= fault.skip + fault.times:
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            if fault.kind == "latency":
                latency += fault.seconds
            elif kind is None:
                kind, seconds = fault.kind, fault.seconds
        return FaultAction(latency, kind, seconds) if latency or kind else NO_FAULT
