"""Ledger tests: the ``ledger_url``/``ledger`` fixtures come from ``tests.fixtures.ledger``, over every backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fixtures.ledger import ALL_BACKENDS, ledger_url_fixture
from yxt_provider.ledger import CampaignRecord, PlannedBatch

# The ledger's own tests run on every backend it supports, MariaDB/MySQL included.
ledger_url = ledger_url_fixture(ALL_BACKENDS)


def make_campaign(campaign_id: str = "dag.run.task.-1", **overrides: object) -> CampaignRecord:
    """A campaign record with test defaults."""
    fields: dict[str, object] = {
        "campaign_id": campaign_id,
        "dag_id": "dag",
        "run_id": "run",
        "task_id": "task",
        "map_index": -1,
        "template_id": "2031012220113",
        "source_fingerprint": "fp-1",
    }
    fields.update(overrides)
    return CampaignRecord(**fields)  # type: ignore[arg-type]


def phone(i: int) -> str:
    """The i-th synthetic mobile number (distinct, 11 digits)."""
    return f"138{i:08d}"


def serial(campaign_no: int, batch_index: int) -> str:
    """A 20-digit serial for a test batch."""
    return f"{campaign_no:08d}{batch_index:012d}"


def make_batches(
    campaign_id: str, sizes: list[int], *, campaign_no: int = 1, start: int = 0
) -> Iterator[PlannedBatch]:
    """Lazily yield batches of the given sizes with consecutive synthetic numbers."""
    offset = start
    for index, size in enumerate(sizes):
        yield PlannedBatch(
            campaign_id=campaign_id,
            batch_index=index,
            serial_number=serial(campaign_no, index),
            template_id="2031012220113",
            content=f"hello {index}",
            content_hash=f"h{index}",
            numbers=[phone(offset + k) for k in range(size)],
        )
        offset += size


@pytest.fixture
def plan_factory() -> Callable[..., Iterator[PlannedBatch]]:
    """The :func:`make_batches` helper as a fixture."""
    return make_batches
