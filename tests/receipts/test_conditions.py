"""evaluate_condition: the one judgement shared by the sensor and the trigger."""

from __future__ import annotations

import pytest

from yxt_provider.ledger import DeliveryReport
from yxt_provider.receipts import DeliveryOutcome, evaluate_condition, validate_condition


def report(*, delivered: int, failed: int = 0, pending: int = 0, not_sent: int = 0) -> DeliveryReport:
    sent = delivered + failed + pending
    return DeliveryReport(
        campaign_id="c", total=sent + not_sent, sent=sent, delivered=delivered, failed=failed,
        failed_by_code={2: failed} if failed else {}, pending=pending, not_sent=not_sent,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "outcome"),
    [
        ({"delivered": 9, "failed": 1}, DeliveryOutcome.MET),
        ({"delivered": 9, "pending": 1}, DeliveryOutcome.WAITING),
        ({"delivered": 10, "not_sent": 1}, DeliveryOutcome.WAITING),
        ({"delivered": 0}, DeliveryOutcome.MET),  # nothing to wait for
    ],
)
def test_all_final(counts: dict[str, int], outcome: DeliveryOutcome) -> None:
    assert evaluate_condition(report(**counts), "all_final") is outcome


@pytest.mark.parametrize(
    ("counts", "outcome"),
    [
        ({"delivered": 19, "pending": 1}, DeliveryOutcome.MET),  # 19/20 is exactly 0.95
        ({"delivered": 18, "pending": 2}, DeliveryOutcome.WAITING),
        ({"delivered": 18, "failed": 2}, DeliveryOutcome.UNREACHABLE),  # all final, too few delivered
        ({"delivered": 18, "failed": 1, "pending": 1}, DeliveryOutcome.WAITING),
    ],
)
def test_delivered_share(counts: dict[str, int], outcome: DeliveryOutcome) -> None:
    assert evaluate_condition(report(**counts), "delivered_share", 0.95) is outcome


@pytest.mark.parametrize(
    ("condition", "share", "message"),
    [
        ("everything", None, "condition must be one of"),
        ("delivered_share", None, "needs min_delivered_share"),
        ("delivered_share", 0.0, r"in \(0, 1\]"),
        ("delivered_share", 1.5, r"in \(0, 1\]"),
    ],
)
def test_invalid_conditions_are_refused(condition: str, share: float | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_condition(condition, share)
