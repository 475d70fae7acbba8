"""The exactly-once witness sees what it must: a number sent twice, one never sent, a reply lost."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.witness import reply_violations, send_violations
from tests.reliability.crash_child import Job, client_for, send_campaign
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import run_sandbox

NUMBERS = tuple(f"138{i:08d}" for i in range(30))


def test_a_number_sent_twice_and_one_never_sent_are_violations(tmp_path: Path) -> None:
    with run_sandbox() as sandbox, client_for(sandbox.base_url) as client:
        ledger = Ledger.from_url(f"sqlite:///{tmp_path}/ledger.db")
        job = Job("send", "unused", sandbox.base_url, numbers=NUMBERS)
        send_campaign(job, ledger, client)
        assert send_violations(sandbox, ledger, job.campaign_id, NUMBERS) == []
        client.send([NUMBERS[0]], "again", "1000000000001", "9" * 20)  # a second send, new serial
        problems = send_violations(sandbox, ledger, job.campaign_id, (*NUMBERS, "13900000000"))
        ledger.dispose()
    assert problems[0] == "1 numbers accepted more than once, e.g. 138****0000"
    assert problems[1] == "1 numbers never accepted, e.g. 139****0000"
    assert problems[2:] == ["the ledger plans 30 recipients in 30 messages, not 31"]


def test_a_reply_left_unstored_and_unconfirmed_is_a_violation(tmp_path: Path) -> None:
    with run_sandbox() as sandbox:
        ledger = Ledger.from_url(f"sqlite:///{tmp_path}/ledger.db")
        reply_id = sandbox.inject_reply("10690000123", "1", "13800000001")
        problems = reply_violations(sandbox, ledger, {reply_id: ("13800000001", "1")})
        ledger.dispose()
    assert problems == [
        "1 replies still unconfirmed at the gateway",
        f"1 replies never stored (gateway ids ['{reply_id}'])",
    ]
