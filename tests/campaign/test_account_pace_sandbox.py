"""End to end: four campaigns sent at once through one account of a sandbox that throttles above R/s."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from yxt_provider.campaign.planning import plan_campaign
from yxt_provider.campaign.sender import CampaignSender, SendOutcome, SendSettings
from yxt_provider.client import RetrySettings
from yxt_provider.ledger import CampaignRecord, Ledger
from yxt_provider.sandbox import SandboxConfig, SandboxServer, run_sandbox

TEMPLATE = "1000000000001"
RATE = 20.0  # the account's limit, and the sandbox's token bucket
BURST = 3
CAMPAIGNS = 4
BATCHES = 15  # one number a batch: one request each


@pytest.fixture
def gateway() -> Iterator[SandboxServer]:
    with run_sandbox(SandboxConfig(rate_limit=RATE, burst=BURST, rate_limit_endpoints=("send",))) as server:
        yield server


def _plan(url: str, campaign_id: str, first_number: int) -> None:
    ledger = Ledger.from_url(url)
    recipients = {f"138{first_number + i:08d}": {} for i in range(BATCHES)}
    plan = plan_campaign(campaign_id, recipients, TEMPLATE, None, "hi", 1)
    record = CampaignRecord(
        campaign_id=campaign_id, dag_id="d", run_id="r", task_id="t", template_id=TEMPLATE
    )
    assert ledger.create_plan(record, plan.batches)
    ledger.dispose()


def _send_concurrently(
    gateway: SandboxServer, url: str, settings: SendSettings, tag: str
) -> list[SendOutcome]:
    """Each campaign in its own thread, with its own ledger engine and client: four mapped tasks."""
    ids = [f"{tag}-{n}" for n in range(CAMPAIGNS)]
    for n, campaign_id in enumerate(ids):
        _plan(url, campaign_id, (n + (0 if tag == "shared" else CAMPAIGNS)) * BATCHES)
    outcomes: dict[str, SendOutcome] = {}
    start = threading.Barrier(CAMPAIGNS)

    def task(campaign_id: str) -> None:
        ledger = Ledger.from_url(url)
        # As the operator builds it: code 11 comes straight back to the sender's pacing.
        client = gateway.client(retry=RetrySettings(max_attempts=1, retry_throttled=False))
        try:
            sender = CampaignSender(ledger, client, settings)
            start.wait(30)
            outcomes[campaign_id] = sender.send(campaign_id)
        finally:
            client.close()
            ledger.dispose()

    threads = [threading.Thread(target=task, args=(campaign_id,)) for campaign_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return [outcomes[campaign_id] for campaign_id in ids]


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


def test_four_campaigns_share_the_account_rate_and_are_hardly_throttled(
    gateway: SandboxServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"

    # Before: each task paces itself at the account's limit, so together they offer four times it.
    per_task = _send_concurrently(
        gateway, url, SendSettings(max_requests_per_second=RATE, progress_interval=3600), "own"
    )
    per_task_11 = gateway.counters()["requests"]["send"].get("11", 0)
    assert all(not outcome.failed_batches for outcome in per_task)

    gateway.reset()  # the same account, a fresh bucket and log
    shared_settings = SendSettings(
        max_in_flight=2, account_max_requests_per_second=RATE, progress_interval=3600
    )
    shared = _send_concurrently(gateway, url, shared_settings, "shared")
    shared_11 = gateway.counters()["requests"]["send"].get("11", 0)

    assert all(not outcome.failed_batches and outcome.sent_batches == BATCHES for outcome in shared)
    accepted = gateway.accepted()
    assert len(accepted) == CAMPAIGNS * BATCHES
    # The gateway saw at most the account's rate (one slot of tolerance), not the bucket's burst on top...
    busiest = _busiest_second([request.accepted_at for request in accepted])
    assert busiest <= RATE + 1, busiest
    # ...and it hardly had to refuse anything, where per-task pacing was refused again and again.
    assert shared_11 <= 3, shared_11
    assert per_task_11 >= 10 and per_task_11 >= 5 * max(shared_11, 1), (per_task_11, shared_11)
