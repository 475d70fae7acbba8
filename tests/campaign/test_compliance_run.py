"""Compliance in real campaigns (sandbox over HTTP, SQLite ledger): opt-outs, caps, windows, exactly once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pendulum
import pytest
from jinja2 import Environment

from yxt_provider.campaign.compliance import CompliancePolicy, FrequencyCap
from yxt_provider.campaign.content import MessageContent
from yxt_provider.campaign.errors import CampaignIncompleteError, CampaignRejected
from yxt_provider.campaign.identity import TaskIdentity
from yxt_provider.campaign.recipients import Recipient, iter_recipients
from yxt_provider.campaign.run import CampaignRun
from yxt_provider.campaign.sender import SendSettings
from yxt_provider.campaign.window import SendWindow
from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.ledger import Ledger
from yxt_provider.replies.ingest import drain_replies
from yxt_provider.sandbox import Fault, SandboxServer

TEMPLATE = "1000000000001"
QUIET = SendSettings(progress_interval=3600, max_in_flight=1)
ACCESS_NUMBER = "1069000000"


def number(i: int) -> str:
    return f"139{i:08d}"


def make_run(
    ledger: Ledger, count: int, *, task_id: str = "promote", content: str = "【XX商城】会员日满减，回复TD退订",
    batch_size: int = 10, policy: CompliancePolicy | None = None, window: SendWindow | None = None,
) -> CampaignRun:  # fmt: skip
    task = TaskIdentity(dag_id="shop", run_id="manual__1", task_id=task_id)

    def read() -> Iterator[Recipient]:
        return iter_recipients([number(i) for i in range(count)])

    return CampaignRun(
        ledger,
        task,
        campaign_id=task.campaign_id(),
        template_id=TEMPLATE,
        content=MessageContent(content, Environment(), {}),
        recipients=read,
        batch_size=batch_size,
        policy=policy,
        window=window,
    )


def accepted(gateway: SandboxServer) -> Counter[str]:
    return Counter(n for request in gateway.accepted() for n in request.numbers)


def test_opted_out_numbers_are_skipped_counted_and_kept_with_their_reason(
    gateway: SandboxServer, ledger: Ledger
) -> None:
    # Two refusals arrive as replies, through the gateway, the way they do in production.
    gateway.inject_reply(ACCESS_NUMBER, "TD", user_number=number(3))
    gateway.inject_reply(ACCESS_NUMBER, " 退订 ", user_number=number(17))
    gateway.inject_reply(ACCESS_NUMBER, "谢谢", user_number=number(5))
    with gateway.client() as client:
        assert drain_replies(client, ledger).opted_out == 2
        summary = make_run(ledger, 25).send(client, QUIET)
    assert (summary.planned, summary.opted_out, summary.sent, summary.status) == (23, 2, 23, "sent")
    sent = accepted(gateway)
    assert number(3) not in sent and number(17) not in sent and number(5) in sent
    assert set(sent.values()) == {1} and len(sent) == 23
    report = ledger.delivery_report(summary.campaign_id)
    assert (report.input_rows, report.opted_out, report.total) == (25, 2, 23)
    text = report.as_table()
    assert "set aside: opted out" in text and "139****0003" not in text


def test_transactional_messages_may_ignore_the_list(gateway: SandboxServer, ledger: Ledger) -> None:
    ledger.add_opt_outs([number(1)])
    with gateway.client() as client:
        summary = make_run(
            ledger, 3, content="您的验证码为4578", policy=CompliancePolicy(respect_opt_out=False)
        ).send(client, QUIET)
    assert (summary.sent, summary.opted_out) == (3, 0) and accepted(gateway)[number(1)] == 1


def test_everyone_opted_out_is_an_empty_campaign_on_record(gateway: SandboxServer, ledger: Ledger) -> None:
    ledger.add_opt_outs([number(0), number(1)])
    with gateway.client() as client:
        summary = make_run(ledger, 2).send(client, QUIET)
    assert (summary.status, summary.planned, summary.opted_out) == ("empty", 0, 2)
    assert gateway.accepted() == []
    campaign = ledger.get_campaign(summary.campaign_id)
    assert campaign is not None and (campaign.opted_out, campaign.status) == (2, "sent")


def test_frequency_caps_skip_and_count_across_campaigns(gateway: SandboxServer, ledger: Ledger) -> None:
    cap = CompliancePolicy(frequency_cap=FrequencyCap.parse("2/day"))
    with gateway.client() as client:
        first = make_run(ledger, 10, task_id="a", policy=cap).send(client, QUIET)
        second = make_run(ledger, 20, task_id="b", policy=cap).send(client, QUIET)
        third = make_run(ledger, 20, task_id="c", policy=cap).send(client, QUIET)
    assert (first.sent, first.capped) == (10, 0)
    assert (second.sent, second.capped) == (20, 0)  # numbers 0-9 have one message: under the cap
    assert (third.sent, third.capped) == (10, 10)  # 0-9 have two: capped; 10-19 have one
    sent = accepted(gateway)
    assert all(sent[number(i)] == 2 for i in range(20))
    report = ledger.delivery_report(third.campaign_id)
    assert (report.capped, report.total, report.input_rows) == (10, 10, 20)
    assert "set aside: over the frequency cap" in report.as_table()


def test_marketing_preflight_refuses_before_anything_is_planned(
    gateway: SandboxServer, ledger: Ledger
) -> None:
    run = make_run(ledger, 5, content="会员日满减", policy=CompliancePolicy(marketing=True))
    with gateway.client() as client, pytest.raises(CampaignRejected, match="lacks a 【signature】") as caught:
        run.send(client, QUIET)
    assert "a way to refuse" in str(caught.value)
    assert gateway.accepted() == [] and ledger.get_campaign(run.campaign_id) is None


class RepliesArriveMidCampaign(YxtClient):
    """A real client on the sandbox that, right after the ``after``-th accepted batch, stores the
    waiting replies (the opt-outs) — so every later batch is attempted after they are stored."""

    def __init__(self, gateway: SandboxServer, ledger: Ledger, after: int) -> None:
        cfg = gateway.config
        super().__init__(gateway.base_url, cfg.sp_code, cfg.app_key, cfg.app_secret)
        self.ledger, self.after, self.sends = ledger, after, 0

    def send_body(self, body: Any, **kwargs: Any) -> Any:
        result = super().send_body(body, **kwargs)
        self.sends += 1
        if self.sends == self.after:
            assert drain_replies(self, self.ledger).opted_out > 0
        return result


def test_an_opt_out_mid_campaign_reaches_no_later_batch(gateway: SandboxServer, ledger: Ledger) -> None:
    # Batches of 10: numbers 0-9, 10-19, … Refusals from batch 0 (sent), 2 (attempted next),
    # 3 and every number of batch 5, queued on the gateway; read after batch 1 is accepted.
    refusing = [number(4), number(21), number(35), *(number(i) for i in range(50, 60))]
    for who in refusing:
        gateway.inject_reply(ACCESS_NUMBER, "TD", user_number=who)
    client = RepliesArriveMidCampaign(gateway, ledger, after=2)
    with client:
        summary = make_run(ledger, 80).send(client, QUIET)
    sent = accepted(gateway)
    assert sent[number(4)] == 1  # its batch went before the refusal
    assert not {number(21), number(35)} & set(sent)
    assert not any(number(i) in sent for i in range(50, 60))
    assert len(sent) == 80 - 12 and set(sent.values()) == {1}
    assert (summary.opted_out, summary.planned, summary.sent, summary.status) == (12, 68, 68, "sent")
    batches = ledger.iter_batches(summary.campaign_id)
    assert [b.state for b in batches].count("skipped") == 1 and batches[5].size == 0
    assert len(gateway.accepted()) == 7  # eight batches planned, one emptied


class StopsAfterFailure(YxtClient):
    """A real client on the sandbox whose campaign is stopped (as ``on_kill`` does) when a send fails."""

    def __init__(self, gateway: SandboxServer, run: CampaignRun) -> None:
        cfg = gateway.config
        retry = RetrySettings(max_attempts=2, initial_wait=0.01, max_wait=0.01)
        super().__init__(gateway.base_url, cfg.sp_code, cfg.app_key, cfg.app_secret, retry=retry)
        self.run = run

    def send_body(self, body: Any, **kwargs: Any) -> Any:
        try:
            return super().send_body(body, **kwargs)
        except Exception:
            self.run.stop()
            raise


def test_a_batch_that_may_have_reached_the_gateway_is_resent_unchanged(
    gateway: SandboxServer, ledger: Ledger
) -> None:
    # Batch 1's request is accepted but its answer lost, twice (the client's one retry too),
    # and the task is killed then: batch 1's outcome is unknown, batches 2-3 never attempted.
    gateway.configure(faults=(Fault("send", "accept_then_500", skip=1, times=2),))
    run = make_run(ledger, 40)
    with StopsAfterFailure(gateway, run) as client, pytest.raises(CampaignIncompleteError):
        run.send(client, QUIET)
    batches = ledger.iter_batches(run.campaign_id)
    assert [(b.state, b.attempts) for b in batches] == [
        ("sent", 1),
        ("attempted", 1),
        ("planned", 0),
        ("planned", 0),
    ]
    ledger.add_opt_outs([number(12), number(25)])  # one in batch 1 (maybe sent), one in batch 2
    with gateway.client() as client:
        summary = make_run(ledger, 40).send(client, QUIET)
    sent = accepted(gateway)
    # The re-send carried batch 1 exactly as first sent (code 15: the gateway had it): no change, no repeat.
    assert sent[number(12)] == 1
    assert [len(r.numbers) for r in gateway.accepted()] == [10, 10, 9, 10]
    assert number(25) not in sent
    assert len(sent) == 39 and set(sent.values()) == {1}
    assert (summary.opted_out, summary.status) == (1, "sent")


def seconds_from(now: datetime, start: float, end: float) -> str:
    """A span from ``now + start`` to ``now + end`` seconds, in Beijing wall-clock time."""
    local = pendulum.instance(now).in_timezone("Asia/Shanghai")
    return f"{local.add(seconds=start).strftime('%H:%M:%S')}-{local.add(seconds=end).strftime('%H:%M:%S')}"


def wait_until(moment: datetime) -> None:
    """Wait for a wall-clock moment the window says (not a guess: the test's own schedule)."""
    time.sleep(max(0.0, (moment - datetime.now(timezone.utc)).total_seconds()) + 0.05)


def test_outside_the_window_nothing_is_planned_and_the_opening_is_named(
    gateway: SandboxServer, ledger: Ledger
) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    window = SendWindow.parse(seconds_from(now, 2, 60))
    run = make_run(ledger, 30, window=window)
    with gateway.client() as client:
        waiting = run.send(client, QUIET)
        assert (waiting.status, waiting.planned, waiting.sent) == ("waiting", 30, 0)
        assert waiting.resume_at is not None
        opens = pendulum.parse(waiting.resume_at)
        assert opens == now + timedelta(seconds=2)
        assert ledger.get_campaign(run.campaign_id) is None and gateway.accepted() == []
        wait_until(opens)  # type: ignore[arg-type]
        done = make_run(ledger, 30, window=window).send(client, QUIET)
    assert (done.status, done.sent) == ("sent", 30)


def test_a_campaign_crossing_the_window_end_pauses_and_resumes_exactly_once(
    gateway: SandboxServer, ledger: Ledger
) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    # Open now for 2 s, closed for 2 s, then open again: 20 batches at 5 per second cross the end.
    window = SendWindow.parse(f"{seconds_from(now, -60, 2)}; {seconds_from(now, 4, 120)}")
    paced = SendSettings(progress_interval=3600, max_in_flight=2, max_requests_per_second=5)
    wait_until(now)
    with gateway.client() as client:
        first = make_run(ledger, 200, window=window).send(client, paced)
        assert first.status == "paused" and 0 < first.sent < 200
        assert first.resume_at is not None and pendulum.parse(first.resume_at) == now + timedelta(seconds=4)
        sent_before = len(accepted(gateway))
        assert sent_before == first.sent
        campaign = ledger.get_campaign(first.campaign_id)
        assert campaign is not None and campaign.status == "sending"
        # No batch started after the window closed.
        close = now + timedelta(seconds=2)
        attempted = [b.attempted_at for b in ledger.iter_batches(first.campaign_id) if b.attempted_at]
        assert all(at < close for at in attempted)
        wait_until(now + timedelta(seconds=4))
        second = make_run(ledger, 200, window=window).send(client, paced)
    assert second.status == "sent" and second.sent == 200 - first.sent and second.skipped == first.sent
    sent = accepted(gateway)
    assert len(sent) == 200 and set(sent.values()) == {1}
