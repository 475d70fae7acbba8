"""The ledger's reporting contract: SQL views, every input row in the export, the ledger's identity."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from jinja2 import Environment

from tests.ledger.conftest import make_batches, make_campaign, phone, serial
from yxt_provider.campaign.content import MessageContent
from yxt_provider.campaign.recipients import clean_recipients, iter_recipients
from yxt_provider.campaign.serials import serial_for_batch
from yxt_provider.client.models import Receipt
from yxt_provider.ledger import Ledger, export_campaign_csv, migrations, schema

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def summary_row(ledger: Ledger, campaign_id: str) -> dict[str, object]:
    with ledger.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT * FROM yxt_campaign_summary WHERE campaign_id = :c"), {"c": campaign_id}
        ).one()
    return dict(row._mapping)


def test_views_give_the_report_s_counts(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [4, 4, 2]))
    ledger.mark_sent("c1", 0, gateway_task_id="A", duplicate=False)
    ledger.mark_sent("c1", 1, gateway_task_id="B", duplicate=False)
    ledger.store_receipts(
        [
            Receipt(serial(1, 0), phone(0), 0),
            Receipt(serial(1, 0), phone(1), 7),
            Receipt(serial(1, 1), phone(4), 0),
        ]
    )
    report = ledger.delivery_report("c1")
    row = summary_row(ledger, "c1")
    assert (row["planned"], row["sent"], row["delivered"], row["failed"], row["pending"], row["not_sent"]) == (
        report.total, report.sent, report.delivered, report.failed, report.pending, report.not_sent,
    )  # fmt: skip
    assert (report.sent, report.delivered, report.failed, report.pending, report.not_sent) == (8, 2, 1, 5, 2)
    with ledger.engine.connect() as conn:
        statuses = Counter(
            status
            for (status,) in conn.execute(
                sa.text("SELECT status FROM yxt_message_status WHERE campaign_id = 'c1'")
            )
        )
        # The raw column says "planned" for every message of a sent batch without a receipt.
        raw = Counter(
            s for (s,) in conn.execute(sa.text("SELECT status FROM yxt_messages WHERE campaign_id = 'c1'"))
        )
    assert statuses == {"sent": 5, "delivered": 2, "failed": 1, "planned": 2}
    assert raw["planned"] == 7


def test_a_campaign_without_messages_has_a_summary_row(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("empty"), [])
    row = summary_row(ledger, "empty")
    assert (row["planned"], row["sent"], row["not_sent"]) == (0, 0, 0)


def test_export_has_one_row_per_input_row_in_source_order(ledger: Ledger) -> None:
    source = [
        {"phone": "13800000001", "name": "甲"},
        {"phone": "12345", "name": "乙"},
        {"phone": "13800000002", "name": "丙"},
        {"phone": "+86 138-0000-0001", "name": "甲again"},
        {"phone": "13800000003", "name": "丙"},
    ]
    clean = clean_recipients(iter_recipients(source))
    content = MessageContent("{{ name }}您好", Environment(), {})
    plan, _ = content.plan("rows", clean, "1", 1000, ledger_key=ledger.identity)
    record = make_campaign("rows", planned=plan.recipients, invalid=clean.invalid, duplicate=clean.duplicate)
    assert ledger.create_plan(record, plan.batches, clean.excluded)
    # Batch of "丙" (rows 3 and 5) is sent and row 5 delivered; "甲" is not sent yet.
    sent = next(b for b in plan.batches if b.content == "丙您好")
    ledger.mark_sent("rows", sent.batch_index, gateway_task_id="T", duplicate=False)
    ledger.store_receipts([Receipt(sent.serial_number, "13800000003", 2)])
    out = io.StringIO()
    assert export_campaign_csv(ledger, "rows", out, {2: "空号"}) == 5
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["row"], r["phone"], r["outcome"]) for r in rows] == [
        ("1", "13800000001", "not sent"),
        ("2", "12345", "invalid: not a mainland mobile number"),
        ("3", "13800000002", "pending (no receipt yet)"),
        ("4", "+86 138-0000-0001", "duplicate of row 1"),
        ("5", "13800000003", "failed (code 2: 空号)"),
    ]
    report = ledger.delivery_report("rows")
    assert (report.input_rows, report.invalid, report.duplicate, report.total) == (5, 1, 1, 3)
    table = report.as_table({2: "空号"})
    assert "set aside: invalid" in table and "failed (code 2: 空号)" in table


def test_serials_include_the_ledger_s_identity(ledger: Ledger, ledger_url: str) -> None:
    assert len(ledger.identity) == 16
    again = Ledger.from_url(ledger_url)
    assert again.identity == ledger.identity  # made once, kept
    again.dispose()
    ours = serial_for_batch("dag/run/task/-1", 0, ledger.identity)
    other = serial_for_batch("dag/run/task/-1", 0, "0123456789abcdef")
    assert ours != other and ours == serial_for_batch("dag/run/task/-1", 0, ledger.identity)
    assert len(ours) == 20 and ours.isdigit()


def test_upgrading_a_version_1_ledger_keeps_its_serials(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger made by the previous release: version 1, no identity, no input rows, no views."""
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "STEPS", migrations.STEPS[:1])
        patched.setattr(migrations, "LATEST_VERSION", 1)
        patched.setattr(migrations, "replace_views", lambda conn: None)
        Ledger.from_url(ledger_url).dispose()
    old_serial = serial_for_batch("legacy", 0)  # what version 1 derived: no ledger key
    engine = sa.create_engine(ledger_url)
    with engine.begin() as conn:
        # The version-1 shape of the messages table (schema.py holds the latest), and a plan in it.
        conn.exec_driver_sql(f"DROP TABLE {schema.messages.name}")
        v1 = sa.Table(
            schema.messages.name,
            sa.MetaData(),
            *(c.copy() for c in schema.messages.columns if c.name != "input_row"),
        )
        v1.create(conn)
        campaign = make_campaign("legacy", planned=3, batches=1)
        conn.execute(schema.campaigns.insert(), {**campaign.__dict__, "created_at": NOW, "updated_at": NOW})
        conn.execute(
            schema.batches.insert(),
            {"campaign_id": "legacy", "batch_index": 0, "serial_number": old_serial, "template_id": "1",
             "content": "hi", "content_hash": "h", "size": 3, "state": "planned", "attempts": 0,
             "duplicate": False},
        )  # fmt: skip
        conn.execute(
            v1.insert(),
            [{"serial_number": old_serial, "phone": phone(i), "campaign_id": "legacy", "batch_index": 0,
              "position": i, "status": "planned"} for i in range(3)],
        )  # fmt: skip
    engine.dispose()

    upgraded = Ledger.from_url(ledger_url)  # runs version 2
    with upgraded.engine.connect() as conn:
        assert migrations.current_version(conn) == migrations.LATEST_VERSION
        columns = {c["name"] for c in sa.inspect(conn).get_columns(schema.messages.name)}
    assert "input_row" in columns and len(upgraded.identity) == 16
    assert [b.serial_number for b in upgraded.iter_batches("legacy")] == [old_serial]
    assert upgraded.batch_numbers("legacy", 0) == [phone(i) for i in range(3)]
    out = io.StringIO()
    assert export_campaign_csv(upgraded, "legacy", out) == 3  # no row numbers: planned order
    assert summary_row(upgraded, "legacy")["not_sent"] == 3
    upgraded.dispose()
