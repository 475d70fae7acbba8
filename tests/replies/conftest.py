"""Reply tests run on every backend the ledger supports, against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from tests.fixtures.ledger import ALL_BACKENDS, ledger_url_fixture
from tests.fixtures.tasks import (  # noqa: F401 - fixtures are registered by importing them
    any_ledger,
    no_full_numbers_in_logs,
    sqlite_ledger,
    task_logs,
)
from tests.fixtures.tasks import sandbox as sandbox
from yxt_provider.ledger import CampaignRecord, Ledger, PlannedBatch
from yxt_provider.sandbox import SandboxServer, run_sandbox

ledger_url = ledger_url_fixture(ALL_BACKENDS)
ACCESS_NUMBER = "1069000012345"


@pytest.fixture
def gateway() -> Iterator[SandboxServer]:
    """A sandbox of its own (not bound to a connection)."""
    with run_sandbox() as server:
        yield server


def sent_campaign(
    ledger: Ledger, campaign_id: str, numbers: list[str], sent_at: datetime, *, tag: int
) -> None:
    """Record a campaign whose one batch went out at ``sent_at``."""
    batch = PlannedBatch(
        campaign_id=campaign_id, batch_index=0, serial_number=f"{tag:08d}{0:012d}", template_id="1",
        content="hi", content_hash="h", numbers=numbers,
    )  # fmt: skip
    record = CampaignRecord(
        campaign_id=campaign_id, dag_id="d", run_id=campaign_id, task_id="t", template_id="1"
    )
    assert ledger.create_plan(record, [batch])
    ledger.mark_sent(campaign_id, 0, gateway_task_id="T", duplicate=False)
    from sqlalchemy import update

    from yxt_provider.ledger import schema

    with ledger.engine.begin() as conn:
        conn.execute(
            update(schema.batches).where(schema.batches.c.campaign_id == campaign_id).values(sent_at=sent_at)
        )


def beijing(text: str) -> datetime:
    """A ``YYYY-MM-DD HH:MM:SS`` Beijing wall time as aware UTC."""
    naive = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    return (naive - timedelta(hours=8)).replace(tzinfo=timezone.utc)
