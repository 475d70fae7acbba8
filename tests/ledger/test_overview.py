"""The campaigns view's read model: the list, its filters and pages, one campaign in detail, on every backend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.ledger.conftest import make_batches, make_campaign, phone, serial
from yxt_provider.client.models import Receipt, Reply
from yxt_provider.ledger import Ledger, schema
from yxt_provider.ledger.overview import (
    MAX_PAGE_SIZE,
    campaign_detail,
    campaign_of_task,
    dags_with_campaigns,
    list_campaigns,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def _set_created(ledger: Ledger, campaign_id: str, when: datetime) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.update(schema.campaigns)
            .where(schema.campaigns.c.campaign_id == campaign_id)
            .values(created_at=when)
        )


def _set_receipt_times(ledger: Ledger, campaign_id: str, times: dict[str, datetime]) -> None:
    m = schema.messages.c
    with ledger.engine.begin() as conn:
        for number, when in times.items():
            conn.execute(
                sa.update(schema.messages)
                .where(m.campaign_id == campaign_id, m.phone == number)
                .values(receipt_at=when)
            )


@pytest.fixture
def ledger_with_campaigns(ledger: Ledger) -> Ledger:
    """Three campaigns of two DAGs, a day apart; c1 has receipts, a refusal-free failure mix, replies, an opt-out.

    c1 (dag "reminders", planned T0): 10 messages; batches 0 and 1 sent, batch 2 refused with code 11.
    Receipts: 0, 1, 2 delivered; 3 failed code 7; 4 failed code 7; 5 failed code 12. 6, 7 pending.
    Replies: 0 says "好的，收到", 1 says "TD" (opts out), 3 mentions another number.
    """
    assert ledger.create_plan(
        make_campaign("c1", dag_id="reminders", run_id="r1"), make_batches("c1", [4, 4, 2])
    )
    ledger.mark_sent("c1", 0, gateway_task_id="A", duplicate=False)
    ledger.mark_sent("c1", 1, gateway_task_id="B", duplicate=False)
    ledger.mark_attempted("c1", 2)
    ledger.mark_batch_error("c1", 2, code=11, error="too fast")
    codes = {0: 0, 1: 0, 2: 0, 3: 7, 4: 7, 5: 12}
    ledger.store_receipts([Receipt(serial(1, i // 4), phone(i), code) for i, code in codes.items()])
    _set_receipt_times(
        ledger,
        "c1",
        {phone(i): T0 + timedelta(minutes=2 + 3 * i) for i in codes} | {phone(5): T0 + timedelta(hours=2)},
    )
    ledger.store_replies(
        [
            Reply("10690001", "好的，收到", datetime.now(timezone.utc), phone(0)),
            Reply("10690001", "TD", datetime.now(timezone.utc), phone(1)),
            Reply("10690001", "请改发 13912345678", datetime.now(timezone.utc), phone(3)),
        ]
    )
    assert ledger.create_plan(
        make_campaign("c2", dag_id="reminders", run_id="r2", source_fingerprint="fp-2"),
        make_batches("c2", [3], campaign_no=2, start=100),
    )
    assert ledger.create_plan(
        make_campaign(
            "c3", dag_id="alerts", run_id="r3", task_id="page", map_index=2, source_fingerprint="fp-3"
        ),
        make_batches("c3", [2], campaign_no=3, start=200),
    )
    for cid, days in (("c1", 0), ("c2", 1), ("c3", 2)):
        _set_created(ledger, cid, T0 + timedelta(days=days))
    return ledger


def test_list_is_newest_first_with_the_reports_counts(ledger_with_campaigns: Ledger) -> None:
    page = list_campaigns(ledger_with_campaigns.engine)
    assert page.total == 3
    assert [c.campaign_id for c in page.campaigns] == ["c3", "c2", "c1"]
    c1 = page.campaigns[-1]
    report = ledger_with_campaigns.delivery_report("c1")
    assert (c1.recipients, c1.sent, c1.delivered, c1.pending, c1.not_sent) == (
        report.total, report.sent, report.delivered, report.pending, report.not_sent,
    )  # fmt: skip
    assert (c1.recipients, c1.delivered, c1.failed, c1.pending, c1.not_sent) == (10, 3, 3, 2, 2)
    assert (c1.replies, c1.opt_outs) == (3, 1)
    assert c1.delivered_pct == pytest.approx(30.0)
    assert c1.failed_pct == pytest.approx(30.0)
    assert c1.pending_pct == pytest.approx(20.0)
    assert c1.created_at == T0
    c3 = page.campaigns[0]
    assert (c3.dag_id, c3.task_id, c3.map_index, c3.recipients, c3.pending_pct) == (
        "alerts",
        "page",
        2,
        2,
        0.0,
    )


def test_filters_by_dag_and_dates_and_pages(ledger_with_campaigns: Ledger) -> None:
    engine = ledger_with_campaigns.engine
    assert [c.campaign_id for c in list_campaigns(engine, dag_id="reminders").campaigns] == ["c2", "c1"]
    since_day_1 = list_campaigns(engine, created_from=T0 + timedelta(days=1))
    assert [c.campaign_id for c in since_day_1.campaigns] == ["c3", "c2"]
    before_day_1 = list_campaigns(engine, created_before=T0 + timedelta(days=1))
    assert [c.campaign_id for c in before_day_1.campaigns] == ["c1"]
    second = list_campaigns(engine, limit=2, offset=2)
    assert (second.total, [c.campaign_id for c in second.campaigns]) == (3, ["c1"])
    assert dags_with_campaigns(engine) == ["alerts", "reminders"]


def test_only_readable_dags_are_listed(ledger_with_campaigns: Ledger) -> None:
    engine = ledger_with_campaigns.engine
    assert [c.campaign_id for c in list_campaigns(engine, readable_dags={"alerts", "other"}).campaigns] == [
        "c3"
    ]
    assert list_campaigns(engine, readable_dags=set()).total == 0
    assert list_campaigns(engine, dag_id="reminders", readable_dags={"alerts"}).total == 0
    assert campaign_detail(engine, "c1", readable_dags={"alerts"}) is None
    assert campaign_detail(engine, "c3", readable_dags={"alerts"}) is not None


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (MAX_PAGE_SIZE + 1, 0), (10, -1)])
def test_bad_page_arguments_say_what_is_allowed(ledger: Ledger, limit: int, offset: int) -> None:
    with pytest.raises(ValueError, match=r"limit must be between|offset must not be negative"):
        list_campaigns(ledger.engine, limit=limit, offset=offset)


def test_detail_funnel_failures_chart_and_masked_replies(ledger_with_campaigns: Ledger) -> None:
    detail = campaign_detail(ledger_with_campaigns.engine, "c1", meanings={7: "空号"})
    assert detail is not None
    assert (detail.report.total, detail.report.sent, detail.report.delivered) == (10, 8, 3)
    failures = {(f.kind, f.code): (f.count, f.meaning) for f in detail.failures}
    assert failures[("receipt", 7)] == (2, "failed (code 7: 空号)")
    assert failures[("receipt", 12)] == (1, "failed (code 12)")
    assert failures[("not_sent", 11)][0] == 2
    assert "too fast" not in failures[("not_sent", 11)][1]  # the code's meaning, not the raw error
    assert detail.failures[0].count == max(f.count for f in detail.failures)
    # Receipts from T0+2 min to T0+2 h: 5-minute bars, every bar between the first and the last.
    assert detail.bucket_seconds == 300
    assert sum(b.delivered for b in detail.receipts) == 3
    assert sum(b.failed for b in detail.receipts) == 3
    assert detail.receipts[0].start == T0
    assert detail.receipts[-1].start == T0 + timedelta(hours=2)
    assert len(detail.receipts) == 25
    steps = {b2.start - b1.start for b1, b2 in zip(detail.receipts, detail.receipts[1:], strict=False)}
    assert steps == {timedelta(seconds=300)}
    numbers = {r.number for r in detail.replies}
    assert numbers == {"138****0000", "138****0001", "138****0003"}
    assert {r.content for r in detail.replies} == {"好的，收到", "TD", "请改发 139****5678"}
    assert [r.opted_out for r in detail.replies if r.content == "TD"] == [True]
    assert sum(r.opted_out for r in detail.replies) == 1


def test_detail_of_a_campaign_without_receipts(ledger_with_campaigns: Ledger) -> None:
    detail = campaign_detail(ledger_with_campaigns.engine, "c2")
    assert detail is not None
    assert detail.receipts == []
    assert [(f.kind, f.code, f.count) for f in detail.failures] == [("not_sent", None, 3)]
    assert campaign_detail(ledger_with_campaigns.engine, "nope") is None


def test_campaign_of_a_task_instance(ledger_with_campaigns: Ledger) -> None:
    engine = ledger_with_campaigns.engine
    assert campaign_of_task(engine, dag_id="alerts", run_id="r3", task_id="page", map_index=2) == "c3"
    assert campaign_of_task(engine, dag_id="alerts", run_id="r3", task_id="page", map_index=1) is None
    assert campaign_of_task(engine, dag_id="reminders", run_id="r1", task_id="task") == "c1"
