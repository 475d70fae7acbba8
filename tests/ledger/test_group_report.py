"""Campaign groups in the ledger: shard reports read together and combined into one report, the group CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.ledger.conftest import make_batches, make_campaign, phone, serial
from yxt_provider.client.models import Receipt, Reply
from yxt_provider.ledger import DeliveryReport, Ledger, export_group_csv, schema
from yxt_provider.ledger.report import CSV_COLUMNS, GROUP_CSV_COLUMNS

SHARDS = ("g/0", "g/1", "g/2")
# Every count field of a report: the group's must be the sum of its shards'.
COUNT_FIELDS = ("total", "sent", "delivered", "failed", "pending", "pending_past_timeout", "not_sent", "refused",
                "invalid", "duplicate", "opted_out", "capped", "replies")  # fmt: skip


@pytest.fixture
def group(ledger: Ledger) -> Ledger:
    """Three shards of one mapped send.

    - ``g/0``: 6 messages in 2 batches, both sent (batch 0 five hours ago); receipts: 2
      delivered, 1 failed code 7, 1 failed code 12; 2 pending (both of batch 0: overdue); 3 invalid, 1
      duplicate input rows; one reply.
    - ``g/1``: 5 messages, 1 batch sent with 2 numbers refused (failList); receipts: 1
      delivered, 1 failed code 7; 1 pending; 2 opted out, 1 capped; batch 1 (2 messages)
      never sent.
    - ``g/2``: a shard with no messages (every row opted out), status ``sent``.
    """
    assert ledger.create_plan(
        make_campaign("g/0", map_index=0, invalid=3, duplicate=1), make_batches("g/0", [4, 2])
    )
    ledger.mark_sent("g/0", 0, gateway_task_id="A", duplicate=False)
    ledger.mark_sent("g/0", 1, gateway_task_id="B", duplicate=False)
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.update(schema.messages)
            .where(schema.messages.c.campaign_id == "g/0", schema.messages.c.batch_index == 0)
            .values(sent_at=datetime.now(timezone.utc) - timedelta(hours=5))
        )
    g1 = make_campaign("g/1", map_index=1, opted_out=2, capped=1)
    assert ledger.create_plan(g1, make_batches("g/1", [5, 2], campaign_no=2, start=100))
    ledger.mark_sent("g/1", 0, gateway_task_id="C", duplicate=False, refused=[phone(103), phone(104)])
    assert ledger.create_plan(make_campaign("g/2", map_index=2, opted_out=4), [])
    for campaign_id in SHARDS:
        ledger.set_campaign_status(campaign_id, "sent")
    ledger.set_campaign_status("g/1", "failed", error="balance exhausted")
    ledger.store_receipts(
        [
            Receipt(serial(1, 0), phone(0), 0),
            Receipt(serial(1, 0), phone(1), 7),
            Receipt(serial(1, 1), phone(4), 0),
            Receipt(serial(1, 1), phone(5), 12),
            Receipt(serial(2, 0), phone(100), 0),
            Receipt(serial(2, 0), phone(101), 7),
        ]
    )
    # phone(2) was messaged by g/0 only: its reply is attributed there.
    counts = ledger.store_replies([Reply("106", "ok", datetime.now(timezone.utc), phone(2))])
    assert counts.attributed == 1
    return ledger


def test_reports_read_together_equal_each_read_alone(group: Ledger) -> None:
    now = datetime.now(timezone.utc)
    together = group.delivery_reports([*SHARDS, "g/missing"], pending_timeout=timedelta(hours=2), now=now)
    assert list(together) == [*SHARDS, "g/missing"]
    for campaign_id in SHARDS:
        assert together[campaign_id] == group.delivery_report(
            campaign_id, pending_timeout=timedelta(hours=2), now=now
        )
    assert together["g/missing"].status == "not planned" and together["g/missing"].total == 0


def test_shard_reports_hold_what_the_fixture_made(group: Ledger) -> None:
    reports = group.delivery_reports(SHARDS, pending_timeout=timedelta(hours=2))
    g0, g1, g2 = (reports[c] for c in SHARDS)
    assert (g0.total, g0.sent, g0.delivered, g0.failed, g0.pending, g0.pending_past_timeout) == (
        6,
        6,
        2,
        2,
        2,
        2,
    )
    assert (g1.total, g1.sent, g1.refused, g1.delivered, g1.failed, g1.pending, g1.not_sent) == (
        7,
        3,
        2,
        1,
        1,
        1,
        2,
    )
    assert (g2.total, g2.opted_out, g2.status) == (0, 4, "sent")


def test_combine_sums_every_count_and_merges_codes_and_reasons(group: Ledger) -> None:
    shards = list(group.delivery_reports(SHARDS, pending_timeout=timedelta(hours=2)).values())
    combined = DeliveryReport.combine("g/*", shards)
    for name in COUNT_FIELDS:
        assert getattr(combined, name) == sum(getattr(s, name) for s in shards), name
    assert combined.failed_by_code == {7: 2, 12: 1}
    assert combined.not_sent_reasons == {"not attempted yet": 2}
    assert (combined.total, combined.sent, combined.refused, combined.not_sent) == (13, 9, 2, 2)
    assert (combined.opted_out, combined.capped, combined.invalid, combined.duplicate) == (6, 1, 3, 1)
    assert (combined.pending_past_timeout, combined.replies) == (2, 1)
    # The invariants of a single report hold for the group.
    assert combined.sent == combined.delivered + combined.failed + combined.pending
    assert combined.total == combined.sent + combined.refused + combined.not_sent
    assert combined.input_rows == sum(s.input_rows for s in shards)
    # Shares come from the sums, not from adding or averaging the shards' shares.
    assert combined.delivered_share == pytest.approx(3 / 9)
    assert combined.delivered_share != pytest.approx(sum(s.delivered_share for s in shards) / 3)
    assert not combined.complete
    assert combined.pending_timeout == timedelta(hours=2)
    assert combined.status == "mixed: 2 sent, 1 failed"
    assert combined.error == "g/1: balance exhausted"
    assert combined.shards == tuple(shards) and combined.missing_shards == ()


def test_combine_of_one_status_keeps_it_and_a_missing_shard_is_named(group: Ledger) -> None:
    reports = group.delivery_reports(["g/0", "g/2", "g/9"])
    missing = dataclasses.replace(reports["g/9"], error="rejected: template unknown")
    combined = DeliveryReport.combine("g/*", [reports["g/0"], reports["g/2"], missing])
    assert combined.status == "mixed: 2 sent, 1 not planned"
    assert combined.missing_shards == ("g/9",)
    assert combined.error == "g/9: rejected: template unknown"
    assert DeliveryReport.combine("g/*", [reports["g/0"], reports["g/2"]]).status == "sent"


def test_combine_refuses_what_it_cannot_add(group: Ledger) -> None:
    a = group.delivery_report("g/0", pending_timeout=timedelta(hours=1))
    b = group.delivery_report("g/1", pending_timeout=timedelta(hours=2))
    with pytest.raises(ValueError, match="at least one"):
        DeliveryReport.combine("g/*", [])
    with pytest.raises(ValueError, match="pending_timeout"):
        DeliveryReport.combine("g/*", [a, b])
    with pytest.raises(ValueError, match="single campaigns"):
        DeliveryReport.combine("g/*", [DeliveryReport.combine("g/*", [a])])


def test_combined_dict_and_table_have_totals_and_a_line_per_shard(group: Ledger) -> None:
    shards = list(group.delivery_reports(SHARDS).values())
    combined = DeliveryReport.combine("g/*", shards)
    data = combined.to_dict({7: "空号"})
    assert json.loads(json.dumps(data)) == data
    single_keys = set(shards[0].to_dict())
    assert single_keys <= set(data)  # every field the single report has
    assert data["campaign_id"] == "g/*" and data["campaign_ids"] == list(SHARDS)
    assert data["failed_by_code"] == {"7": 2, "12": 1} and data["failed_code_meanings"] == {"7": "空号"}
    assert [s["campaign_id"] for s in data["shards"]] == list(SHARDS)
    assert [s["delivered"] for s in data["shards"]] == [2, 1, 0]
    assert data["shards"][1]["refused"] == 2 and data["shards"][2]["opted_out"] == 4
    assert data["missing_shards"] == []
    assert "campaign_ids" not in shards[0].to_dict()  # a single campaign's dict is unchanged

    table = combined.as_table({7: "空号"})
    assert "Delivery report for campaign group g/* (3 shards) (mixed: 2 sent, 1 failed)" in table
    assert "failed (code 7: 空号)" in table
    assert "Shards of campaign group g/* (3)" in table
    shard_lines = [line for line in table.splitlines() if line.startswith("g/")]
    assert len(shard_lines) == 3
    assert shard_lines[1].split()[:4] == ["g/1", "failed", "7", "3"]
    assert shard_lines[2].split()[-1] == "-"  # nothing sent: no share
    assert phone(0) not in table


def test_group_csv_has_every_shards_rows_under_its_campaign_id(group: Ledger) -> None:
    out = io.StringIO()
    assert export_group_csv(group, [*SHARDS, "g/missing"], out) == 6 + 7
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == GROUP_CSV_COLUMNS == ("campaign_id", *CSV_COLUMNS)
    by_shard = [row[0] for row in rows[1:]]
    assert by_shard == ["g/0"] * 6 + ["g/1"] * 7
    outcomes = [row[GROUP_CSV_COLUMNS.index("outcome")] for row in rows[1:] if row[0] == "g/1"]
    assert outcomes.count("refused at send by the gateway (failList)") == 2
    assert outcomes.count("not sent") == 2
