"""The campaign layer without Airflow: identity, plan or resume, and the summary (sandbox + SQLite).

Each test runs in a fresh interpreter state as far as Airflow goes: nothing here imports it,
which ``test_no_airflow_needed`` proves in a subprocess.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest
from jinja2 import Environment

from yxt_provider.campaign.content import MessageContent
from yxt_provider.campaign.errors import CampaignIdError, CampaignRejected
from yxt_provider.campaign.identity import TaskIdentity, campaign_id_of, default_campaign_id
from yxt_provider.campaign.recipients import Recipient, iter_recipients
from yxt_provider.campaign.run import CampaignRun, check_template_id
from yxt_provider.campaign.sender import SendSettings
from yxt_provider.client import RetrySettings
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer

TEMPLATE = "1000000000001"
TASK = TaskIdentity(dag_id="clinic", run_id="scheduled__2026-12-01", task_id="remind")
QUIET = SendSettings(progress_interval=3600)


def audience(count: int, start: int = 0) -> list[dict[str, str]]:
    return [{"phone": f"138{i:08d}", "name": f"客户{i % 3}"} for i in range(start, start + count)]


def make_run(
    ledger: Ledger, rows: list[dict[str, str]], *, content: str = "{{ name }}您好", task: TaskIdentity = TASK,
    campaign_id: str | None = None, allow_empty: bool = False,
) -> CampaignRun:  # fmt: skip
    def read() -> Iterator[Recipient]:
        return iter_recipients(rows)

    return CampaignRun(
        ledger,
        task,
        campaign_id=task.campaign_id(campaign_id),
        template_id=TEMPLATE,
        content=MessageContent(content, Environment(), {"ds": "2026-12-01"}),
        recipients=read,
        batch_size=1000,
        allow_empty=allow_empty,
    )


def accepted(gateway: SandboxServer) -> Counter[str]:
    return Counter(n for request in gateway.accepted() for n in request.numbers)


def test_identity_rules() -> None:
    assert TASK.campaign_id() == default_campaign_id("clinic", "scheduled__2026-12-01", "remind", -1)
    assert TASK.campaign_id("daily") == "daily"
    shard = TaskIdentity(dag_id="clinic", run_id="r", task_id="remind", map_index=3)
    assert shard.campaign_id("daily") == "daily/3"
    assert shard.campaign_id() == "clinic/r/remind/3"
    assert campaign_id_of({"campaign_id": " a/b "}) == "a/b"
    with pytest.raises(CampaignIdError, match=r"send\.output"):
        campaign_id_of(None)
    with pytest.raises(CampaignIdError):
        campaign_id_of({"planned": 3})


def test_task_identity_reads_a_task_instance() -> None:
    class FakeTi:
        dag_id, run_id, task_id, map_index = "d", "r", "t", None

    assert TaskIdentity.of(FakeTi()) == TaskIdentity("d", "r", "t", -1)


def test_template_check() -> None:
    check_template_id(TEMPLATE, None, "yxt_default")
    check_template_id(TEMPLATE, (TEMPLATE,), "yxt_default")
    with pytest.raises(CampaignRejected, match="not among the templates of connection 'yxt_default'"):
        check_template_id("999", (TEMPLATE,), "yxt_default")


def test_first_try_plans_and_sends_a_retry_resumes(gateway: SandboxServer, ledger: Ledger) -> None:
    rows = audience(2500)
    with gateway.client() as client:
        first = make_run(ledger, rows).send(client, QUIET)
        again = make_run(ledger, rows).send(client, QUIET)
    assert (first.planned, first.sent, first.skipped, first.batches) == (2500, 2500, 0, 3)
    assert (again.sent, again.skipped, again.failed) == (0, 2500, 0)
    assert set(accepted(gateway).values()) == {1} and len(accepted(gateway)) == 2500
    assert {r.content for r in gateway.accepted()} == {"客户0您好", "客户1您好", "客户2您好"}
    assert "138" not in str(first.to_dict())


def test_a_campaign_planned_by_another_task_is_rejected(gateway: SandboxServer, ledger: Ledger) -> None:
    with gateway.client() as client:
        make_run(ledger, audience(10), campaign_id="shared").send(client, QUIET)
        other = TaskIdentity(dag_id="clinic", run_id="scheduled__2026-12-01", task_id="other")
        with pytest.raises(CampaignRejected, match="was planned by another task"):
            make_run(ledger, audience(10, start=50), task=other, campaign_id="shared").send(client, QUIET)
    assert len(accepted(gateway)) == 10


def test_empty_audience_rejected_unless_allowed(gateway: SandboxServer, ledger: Ledger) -> None:
    rows = [{"phone": "123"}]
    with gateway.client() as client:
        with pytest.raises(CampaignRejected, match=r"has no valid recipient \(1 invalid, 0 duplicate\)"):
            make_run(ledger, rows).send(client, QUIET)
        summary = make_run(ledger, rows, allow_empty=True).send(client, QUIET)
    assert (summary.planned, summary.invalid, summary.sent, summary.status) == (0, 1, 0, "empty")
    assert gateway.accepted() == []
    # Recorded with nothing to send, so the report can still say why each row was not sent.
    campaign = ledger.get_campaign(TASK.campaign_id())
    assert campaign is not None and (campaign.planned, campaign.invalid, campaign.status) == (0, 1, "sent")
    report = ledger.delivery_report(TASK.campaign_id())
    assert (report.input_rows, report.invalid, report.total, report.not_sent_reasons) == (1, 1, 0, {})


def test_unreadable_source_and_unsendable_text_are_rejected(ledger: Ledger) -> None:
    def broken() -> Iterator[Recipient]:
        raise OSError("no such file: audience.csv")

    run = make_run(ledger, [])
    run.read_recipients = broken
    with pytest.raises(CampaignRejected, match="cannot read the recipients: no such file"):
        run.dry_run()
    with pytest.raises(CampaignRejected, match="at most 500"):
        make_run(ledger, audience(3), content="长" * 501).dry_run()


def test_dry_run_counts_and_records_nothing(ledger: Ledger) -> None:
    summary = make_run(ledger, [*audience(1500), {"phone": "1"}, audience(1)[0]], content="x" * 80).dry_run()
    assert summary.dry_run and (summary.planned, summary.invalid, summary.duplicate) == (1500, 1, 1)
    assert summary.segments == 3000 and summary.batches == 2
    assert ledger.get_campaign(TASK.campaign_id()) is None


def test_uniform_text_is_logged_with_numbers_masked(
    gateway: SandboxServer, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with gateway.client() as client:
        make_run(ledger, audience(5), content="明天停水，咨询请拨 13912345678（{{ ds }}）").send(
            client, QUIET
        )
    assert "sends one text to every recipient: 明天停水，咨询请拨 139****5678（2026-12-01）" in caplog.text
    assert "13912345678" not in caplog.text


def test_changed_source_warns_and_sends_the_recorded_plan(
    gateway: SandboxServer, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    with gateway.client(retry=RetrySettings(max_attempts=1)) as client:
        make_run(ledger, audience(20)).send(client, QUIET)
        caplog.set_level(logging.INFO)
        resumed = make_run(ledger, audience(20, start=10)).send(client, QUIET)
    assert "changed since campaign" in caplog.text
    assert resumed.sent == 0 and resumed.skipped == 20
    assert set(accepted(gateway)) == {f"138{i:08d}" for i in range(20)}


def test_no_airflow_needed() -> None:
    code = (
        "import sys; import yxt_provider.campaign.run, yxt_provider.campaign.identity, "
        "yxt_provider.campaign.content, yxt_provider.campaign.sources, yxt_provider.ledger; "
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
