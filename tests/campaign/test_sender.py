"""CampaignSender against the sandbox and a real ledger: the edge cases of exactly-once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from yxt_provider.campaign.planning import plan_campaign
from yxt_provider.campaign.sender import CampaignSender, CampaignStoppedError, SendSettings
from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.ledger import CampaignRecord, Ledger
from yxt_provider.sandbox import Fault, SandboxServer, run_sandbox

TEMPLATE = "1000000000001"
QUIET = SendSettings(progress_interval=3600)


@pytest.fixture
def gateway() -> Iterator[SandboxServer]:
    with run_sandbox() as server:
        yield server


def planned(ledger: Ledger, campaign_id: str, count: int, batch_size: int = 1000) -> None:
    recipients = {f"138{i:08d}": {} for i in range(count)}
    plan = plan_campaign(campaign_id, recipients, TEMPLATE, None, "hi", batch_size)
    record = CampaignRecord(
        campaign_id=campaign_id, dag_id="d", run_id="r", task_id="t", template_id=TEMPLATE
    )
    assert ledger.create_plan(record, plan.batches)


def client(gateway: SandboxServer, attempts: int = 1) -> YxtClient:
    return gateway.client(retry=RetrySettings(max_attempts=attempts, initial_wait=0.01, jitter=0))


def accepted(gateway: SandboxServer) -> Counter[str]:
    return Counter(n for request in gateway.accepted() for n in request.numbers)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    instance = Ledger.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield instance
    instance.dispose()


def test_serial_collision_is_not_taken_for_our_send_on_resume(gateway: SandboxServer, ledger: Ledger) -> None:
    planned(ledger, "c", 1500)
    # Another system already used batch 0's serial.
    serial = ledger.iter_batches("c")[0].serial_number
    gateway.client().send(["13900000000"], "other", TEMPLATE, serial)
    for _ in range(2):  # the first try, then a resume after "clearing the task"
        with pytest.raises(CampaignStoppedError, match="another campaign or system uses the same serial"):
            CampaignSender(ledger, client(gateway), QUIET).send("c")
        assert ledger.get_batch("c", 0).state != "sent"  # type: ignore[union-attr]
    assert "13800000000" not in accepted(gateway)


def test_lost_answer_recorded_as_unknown_then_code_15_counts_as_sent(
    gateway: SandboxServer, ledger: Ledger
) -> None:
    planned(ledger, "c", 2500)
    gateway.configure(faults=(Fault(endpoint="send", kind="accept_then_drop", skip=1, times=1),))
    with pytest.raises(Exception, match="could not be sent this time"):
        CampaignSender(ledger, client(gateway), SendSettings(max_in_flight=1, progress_interval=3600)).send(
            "c"
        )
    batch = ledger.get_batch("c", 1)
    assert batch is not None and batch.state == "attempted" and batch.maybe_accepted
    outcome = CampaignSender(ledger, client(gateway), QUIET).send("c")
    assert outcome.duplicate_batches == 1 and outcome.skipped_batches == 2 and outcome.unsent_recipients == 0
    counts = accepted(gateway)
    assert len(counts) == 2500 and set(counts.values()) == {1}


def test_two_senders_on_one_campaign_send_each_number_once(gateway: SandboxServer, ledger: Ledger) -> None:
    planned(ledger, "c", 20_000, batch_size=500)
    gateway.configure(faults=(Fault(endpoint="send", kind="latency", seconds=0.02),))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            CampaignSender(ledger, client(gateway, attempts=3), QUIET).send("c")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    counts = accepted(gateway)
    assert len(counts) == 20_000 and set(counts.values()) == {1}
    assert ledger.campaign_counts("c")["batches_sent"] == 40


def test_fatal_error_stops_queued_batches(gateway: SandboxServer, ledger: Ledger) -> None:
    planned(ledger, "c", 10_000, batch_size=100)
    gateway.configure(balance=250)
    with pytest.raises(CampaignStoppedError, match="balance"):
        CampaignSender(ledger, client(gateway), SendSettings(max_in_flight=4, progress_interval=3600)).send(
            "c"
        )
    # Two or three batches fit the balance; the stop keeps the other ~97 from being tried.
    assert len(accepted(gateway)) <= 300
    assert ledger.campaign_counts("c")["batches_planned"] >= 90
    assert ledger.get_campaign("c").status == "failed"  # type: ignore[union-attr]


def test_unknown_outcome_on_transport_error_is_recorded_without_a_code(
    gateway: SandboxServer, ledger: Ledger
) -> None:
    planned(ledger, "c", 100)
    gateway.configure(faults=(Fault(endpoint="send", kind="drop", times=1),))
    with pytest.raises(Exception, match="could not be sent this time"):
        CampaignSender(ledger, client(gateway), QUIET).send("c")
    batch = ledger.get_batch("c", 0)
    assert batch is not None and batch.error_code is None and "ConnectionError" in (batch.error or "")
