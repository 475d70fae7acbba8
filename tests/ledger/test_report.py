"""Delivery report numbers, its renderings, and the CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.ledger.conftest import make_batches, make_campaign, phone, serial
from yxt_provider.client.models import Receipt
from yxt_provider.ledger import DeliveryReport, Ledger, export_campaign_csv, schema
from yxt_provider.ledger.report import CSV_COLUMNS


@pytest.fixture
def campaign(ledger: Ledger) -> Ledger:
    """10 messages: batch 0 (0-3) sent long ago, batch 1 (4-7) sent now, batch 2 (8-9) not sent.

    Receipts: 0 delivered, 1 failed code 7, 4 failed code 7, 5 failed code 12.
    """
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [4, 4, 2]))
    ledger.mark_sent("c1", 0, gateway_task_id="A", duplicate=False)
    ledger.mark_sent("c1", 1, gateway_task_id="B", duplicate=False)
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.update(schema.messages)
            .where(schema.messages.c.batch_index == 0)
            .values(sent_at=datetime.now(timezone.utc) - timedelta(hours=5))
        )
    ledger.store_receipts(
        [
            Receipt(serial(1, 0), phone(0), 0),
            Receipt(serial(1, 0), phone(1), 7),
            Receipt(serial(1, 1), phone(4), 7),
            Receipt(serial(1, 1), phone(5), 12),
        ]
    )
    return ledger


def test_delivery_report_numbers(campaign: Ledger) -> None:
    report = campaign.delivery_report("c1", pending_timeout=timedelta(hours=2))
    assert (report.total, report.sent, report.not_sent) == (10, 8, 2)
    assert (report.delivered, report.failed, report.pending) == (1, 3, 4)
    assert report.failed_by_code == {7: 2, 12: 1}
    assert report.pending_past_timeout == 2  # numbers 2, 3 of batch 0
    assert report.delivered_share == pytest.approx(1 / 8)
    assert report.sent == report.delivered + report.failed + report.pending
    assert not report.complete


def test_pending_timeout_uses_now(campaign: Ledger) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=3)
    report = campaign.delivery_report("c1", pending_timeout=timedelta(hours=2), now=later)
    assert report.pending_past_timeout == 4
    assert campaign.delivery_report("c1").pending_past_timeout == 0


def test_report_for_unknown_campaign_is_empty(ledger: Ledger) -> None:
    report = ledger.delivery_report("nope")
    assert (report.total, report.sent, report.delivered_share) == (0, 0, 0.0)
    assert report.complete


def test_to_dict_is_json_and_small(campaign: Ledger) -> None:
    data = campaign.delivery_report("c1", pending_timeout=timedelta(minutes=30)).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["failed_by_code"] == {"7": 2, "12": 1}
    assert data["pending_timeout_seconds"] == 1800.0
    assert data["delivered_share"] == 0.125


def test_as_table_names_codes_and_no_numbers(campaign: Ledger) -> None:
    table = campaign.delivery_report("c1", pending_timeout=timedelta(hours=2)).as_table()
    assert "Delivery report for campaign c1" in table
    assert "failed (code 7)" in table and "failed (code 12)" in table
    assert "delivered" in table and "not sent" in table
    assert "138" not in table


def test_as_table_without_sends() -> None:
    table = DeliveryReport(campaign_id="x", total=0, sent=0, delivered=0, failed=0).as_table()
    assert "messages planned" in table


def test_export_campaign_csv_to_path(campaign: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    assert export_campaign_csv(campaign, "c1", path) == 10
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [r["phone"] for r in rows] == [phone(i) for i in range(10)]
    by_phone = {r["phone"]: r for r in rows}
    assert by_phone[phone(0)]["status"] == "delivered" and by_phone[phone(0)]["result_code"] == "0"
    assert by_phone[phone(5)]["result_code"] == "12"
    assert by_phone[phone(9)]["status"] == "planned" and by_phone[phone(9)]["sent_at"] == ""
    assert datetime.fromisoformat(by_phone[phone(4)]["receipt_at"]).utcoffset() == timedelta(0)
    assert by_phone[phone(4)]["serial_number"] == serial(1, 1)


def test_export_campaign_csv_to_file_object(campaign: Ledger) -> None:
    out = io.StringIO()
    assert export_campaign_csv(campaign, "c1", out) == 10
    assert out.getvalue().splitlines()[0] == ",".join(CSV_COLUMNS)


def test_failure_code_meanings_in_table_and_dict() -> None:
    from yxt_provider.ledger.report import result_meanings

    report = DeliveryReport(
        campaign_id="c", total=10, sent=10, delivered=7, failed=3, failed_by_code={2: 2, 9: 1}, pending=0
    )
    meanings = result_meanings({"2": "空号", 5: "unused"})
    assert meanings == {2: "空号", 5: "unused"}
    table = report.as_table(meanings)
    assert "failed (code 2: 空号)" in table and "failed (code 9)" in table
    assert report.to_dict(meanings)["failed_code_meanings"] == {"2": "空号"}  # only codes present
    assert report.to_dict()["failed_code_meanings"] == {}
    with pytest.raises(ValueError, match="integers"):
        result_meanings({"MK:0001": "x"})


def test_table_columns_align_with_chinese_labels() -> None:
    from rich.cells import cell_len

    report = DeliveryReport(
        campaign_id="x", total=100, sent=100, delivered=70, failed=30, failed_by_code={2: 20, 9: 10},
        pending_timeout=timedelta(minutes=90),
    )  # fmt: skip
    lines = report.as_table({2: "空号", 9: "关机或停机"}).splitlines()
    counts = [line for line in lines if "failed (code" in line or line.strip().startswith("delivered")]
    # The count column ends at the same screen column on every line, whatever the label's script.
    ends = {
        cell_len(line[: line.index(n) + len(n)]) for line, n in zip(counts, ["70", "20", "10"], strict=True)
    }
    assert len(ends) == 1, lines
    assert "of which sent over 1 h 30 min ago" in "\n".join(lines)
