"""Numbers the gateway refuses inside an accepted send: recorded as refused, counted apart, never re-sent."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.campaign.test_run import QUIET, TASK, make_run
from yxt_provider.client.models import Receipt
from yxt_provider.ledger import Ledger, export_campaign_csv
from yxt_provider.receipts.ingest import drain_receipts
from yxt_provider.sandbox import SandboxServer
from yxt_provider.sandbox.outcomes import MAGIC_DELIVERED, MAGIC_REFUSED_AT_SEND


def _rows(refused: int, delivered: int) -> list[dict[str, str]]:
    return [{"phone": f"{MAGIC_REFUSED_AT_SEND}{i:04d}", "name": "甲"} for i in range(refused)] + [
        {"phone": f"{MAGIC_DELIVERED}{i:04d}", "name": "乙"} for i in range(delivered)
    ]


@pytest.mark.parametrize("fail_list_format", ["string", "list"])
def test_refused_numbers_are_final_counted_apart_and_never_resent(
    gateway: SandboxServer, ledger: Ledger, fail_list_format: str
) -> None:
    gateway.configure(fail_list_format=fail_list_format)
    rows = _rows(refused=7, delivered=1200)  # two batches, the refused ones in the first
    with gateway.client() as client:
        first = make_run(ledger, rows).send(client, QUIET)
        again = make_run(ledger, rows).send(client, QUIET)
        drain_receipts(client, ledger)
    assert (first.planned, first.sent, first.refused, first.failed, first.status) == (
        1207,
        1200,
        7,
        0,
        "sent",
    )
    assert (again.sent, again.refused, again.failed) == (0, 0, 0)
    accepted = Counter(n for request in gateway.accepted() for n in request.numbers)
    assert len(accepted) == 1200 and set(accepted.values()) == {1}
    assert sorted(n for request in gateway.accepted() for n in request.refused) == sorted(
        row["phone"] for row in rows[:7]
    )

    report = ledger.delivery_report(TASK.campaign_id())
    assert (report.total, report.sent, report.refused, report.delivered, report.pending, report.not_sent) == (
        1207, 1200, 7, 1200, 0, 0,
    )  # fmt: skip
    assert report.complete and report.to_dict()["refused"] == 7
    assert "refused at send (failList)" in report.as_table()
    with ledger.engine.connect() as conn:
        view = conn.execute(sa.text("SELECT sent, refused FROM yxt_campaign_summary")).one()
        statuses = Counter(conn.execute(sa.text("SELECT status FROM yxt_message_status")).scalars().all())
    assert (view.sent, view.refused) == (1200, 7)
    assert statuses == Counter({"delivered": 1200, "refused": 7})


def test_a_receipt_for_a_refused_number_does_not_change_it(gateway: SandboxServer, ledger: Ledger) -> None:
    rows = _rows(refused=2, delivered=1)
    with gateway.client() as client:
        make_run(ledger, rows).send(client, QUIET)
    batch = ledger.iter_batches(TASK.campaign_id())[0]
    ledger.store_receipts([Receipt(batch.serial_number, rows[0]["phone"], 0)])
    report = ledger.delivery_report(TASK.campaign_id())
    assert (report.refused, report.delivered) == (2, 0)


def test_the_csv_export_names_the_refused_rows(
    gateway: SandboxServer, ledger: Ledger, tmp_path: Path
) -> None:
    rows = _rows(refused=1, delivered=1)
    with gateway.client() as client:
        make_run(ledger, rows).send(client, QUIET)
    out = tmp_path / "report.csv"
    assert export_campaign_csv(ledger, TASK.campaign_id(), out) == 2
    first_row = out.read_text(encoding="utf-8").splitlines()[1]
    assert "refused at send by the gateway (failList)" in first_row
