"""Batch and campaign state transitions on the send side."""

from __future__ import annotations

import pytest

from tests.ledger.conftest import make_batches, make_campaign
from yxt_provider.ledger import Ledger, UnknownBatchError, UnknownCampaignError


@pytest.fixture
def planned(ledger: Ledger) -> Ledger:
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [3, 2]))
    return ledger


def test_mark_attempted_moves_planned_to_attempted_and_counts(planned: Ledger) -> None:
    planned.mark_attempted("c1", 0)
    first = planned.iter_batches("c1")[0]
    assert (first.state, first.attempts) == ("attempted", 1)
    assert first.attempted_at is not None and first.attempted_at.tzinfo is not None
    planned.mark_attempted("c1", 0)
    again = planned.iter_batches("c1")[0]
    assert (again.state, again.attempts) == ("attempted", 2)
    assert again.attempted_at is not None and again.attempted_at >= first.attempted_at
    assert planned.iter_batches("c1")[1].state == "planned"


def test_mark_sent_updates_batch_and_its_messages_only(planned: Ledger) -> None:
    planned.mark_attempted("c1", 0)
    planned.mark_sent("c1", 0, gateway_task_id="T-1", duplicate=False)
    batch = planned.iter_batches("c1")[0]
    assert (batch.state, batch.gateway_task_id, batch.duplicate) == ("sent", "T-1", False)
    assert batch.sent_at is not None
    counts = planned.campaign_counts("c1")
    assert counts["messages_sent"] == 3 and counts["messages_planned"] == 2
    assert counts["batches_sent"] == 1 and counts["batches_planned"] == 1


def test_mark_sent_twice_keeps_the_first_acceptance(planned: Ledger) -> None:
    planned.mark_sent("c1", 1, gateway_task_id=None, duplicate=True)
    first = planned.iter_batches("c1")[1]
    planned.mark_sent("c1", 1, gateway_task_id="late", duplicate=False)
    second = planned.iter_batches("c1")[1]
    assert second == first
    assert second.duplicate is True and second.gateway_task_id is None


def test_mark_attempted_does_not_regress_a_sent_batch(planned: Ledger) -> None:
    planned.mark_sent("c1", 0, gateway_task_id="T", duplicate=False)
    planned.mark_attempted("c1", 0)
    assert planned.iter_batches("c1")[0].state == "sent"


def test_mark_batch_error_keeps_state(planned: Ledger) -> None:
    planned.mark_attempted("c1", 1)
    planned.mark_batch_error("c1", 1, code=20, error="send failed, contact administrator")
    batch = planned.iter_batches("c1")[1]
    assert (batch.state, batch.error_code, batch.error) == (
        "attempted",
        20,
        "send failed, contact administrator",
    )
    planned.mark_batch_error("c1", 1, code=None, error="timeout")
    assert planned.iter_batches("c1")[1].error_code is None


def test_unknown_batch_raises(planned: Ledger) -> None:
    with pytest.raises(UnknownBatchError):
        planned.mark_attempted("c1", 7)
    with pytest.raises(UnknownBatchError):
        planned.mark_sent("c1", 7, gateway_task_id="x", duplicate=False)
    with pytest.raises(UnknownBatchError):
        planned.mark_batch_error("nope", 0, code=1, error="x")
    assert planned.get_batch("c1", 7) is None


def test_set_campaign_status(planned: Ledger) -> None:
    before = planned.get_campaign("c1")
    assert before is not None
    planned.set_campaign_status("c1", "failed", error="balance exhausted (code 13)")
    after = planned.get_campaign("c1")
    assert after is not None
    assert (after.status, after.error) == ("failed", "balance exhausted (code 13)")
    assert after.updated_at is not None and before.updated_at is not None
    assert after.updated_at >= before.updated_at
    planned.set_campaign_status("c1", "sent")
    final = planned.get_campaign("c1")
    assert final is not None and (final.status, final.error) == ("sent", None)
    with pytest.raises(ValueError, match="unknown campaign status"):
        planned.set_campaign_status("c1", "done")
    with pytest.raises(UnknownCampaignError):
        planned.set_campaign_status("nope", "sent")


def test_campaign_counts_for_unknown_campaign_are_zero(ledger: Ledger) -> None:
    counts = ledger.campaign_counts("nope")
    assert set(counts.values()) == {0}
    assert {"batches_planned", "batches_failed", "messages_delivered", "messages_total"} <= counts.keys()
