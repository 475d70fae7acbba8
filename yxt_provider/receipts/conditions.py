"""When has a campaign's delivery reached what the DAG author waits for?

A pure function of the ledger's :class:`~yxt_provider.ledger.DeliveryReport`, shared by the
sensor (poke mode) and the trigger (deferrable mode), so both decide alike.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yxt_provider.ledger import DeliveryReport

__all__ = ["CONDITIONS", "DeliveryOutcome", "describe_condition", "evaluate_condition", "validate_condition"]

ALL_FINAL = "all_final"
DELIVERED_SHARE = "delivered_share"
#: The conditions a wait for delivery may take: ``all_final`` and ``delivered_share``.
CONDITIONS = (ALL_FINAL, DELIVERED_SHARE)


class DeliveryOutcome(str, enum.Enum):
    """Where the wait stands after one look at the ledger."""

    MET = "met"
    """The condition holds."""
    WAITING = "waiting"
    """Not yet; receipts still pending could change that."""
    UNREACHABLE = "unreachable"
    """Not met and never will be: every message is final and the delivered share is too low."""
    TIMEOUT = "timeout"
    """The wait ran out of time (set by the waiter, never by :func:`evaluate_condition`)."""


def validate_condition(condition: str, min_delivered_share: float | None) -> float | None:
    """Check a condition and its threshold; return the threshold to use.

    :param condition: ``all_final`` or ``delivered_share``.
    :param min_delivered_share: required for ``delivered_share``: a share in (0, 1].
    :raises ValueError: with what is wrong.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}; got {condition!r}")
    if condition == ALL_FINAL:
        return min_delivered_share
    if min_delivered_share is None:
        raise ValueError("condition 'delivered_share' needs min_delivered_share (e.g. 0.95)")
    share = float(min_delivered_share)
    if not 0.0 < share <= 1.0:
        raise ValueError(f"min_delivered_share must be in (0, 1], got {min_delivered_share!r}")
    return share


def describe_condition(condition: str, min_delivered_share: float | None) -> str:
    """The condition in words, for log lines and messages.

    :param condition: ``all_final`` or ``delivered_share``.
    :param min_delivered_share: the threshold for ``delivered_share``.
    """
    if condition == ALL_FINAL:
        return "every message final"
    return f"delivered share >= {(min_delivered_share or 0.0):.2%}"


def evaluate_condition(
    report: DeliveryReport, condition: str, min_delivered_share: float | None = None
) -> DeliveryOutcome:
    """Judge ``report`` against the condition.

    - ``all_final``: every planned message was sent and has its receipt (delivered or failed).
    - ``delivered_share``: delivered / sent (``DeliveryReport.delivered_share``) is at or above
      ``min_delivered_share``. When nothing is pending any more and the share is below it,
      the outcome is ``UNREACHABLE``, so a waiter can stop early.

    A campaign with no messages counts as met: there is nothing to wait for.

    :param report: the campaign's report from the ledger.
    :param condition: ``all_final`` or ``delivered_share``.
    :param min_delivered_share: the threshold for ``delivered_share``.
    """
    threshold = validate_condition(condition, min_delivered_share)
    if report.total == 0:
        return DeliveryOutcome.MET
    if condition == ALL_FINAL:
        return DeliveryOutcome.MET if report.complete else DeliveryOutcome.WAITING
    assert threshold is not None
    # Compare counts, not floats: 19/20 >= 0.95 must hold although 19/20 is 0.9499999... in binary.
    if report.sent and report.delivered >= threshold * report.sent - 1e-9:
        return DeliveryOutcome.MET
    if report.complete:
        return DeliveryOutcome.UNREACHABLE
    return DeliveryOutcome.WAITING
