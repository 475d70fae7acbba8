"""A sharded campaign on Airflow's CeleryExecutor: two workers, one pool, one rate for the account.

The example DAG ``dags/yxt_sharded_campaign.py`` runs unchanged on the stack of
:mod:`tests.e2e.celery_stack` (metadata and ledger on PostgreSQL, broker on Redis, two Celery
workers, scheduler, DAG processor, triggerer, API server), against the sandbox gateway in this
process with a rate limit of its own. Witnesses: the sandbox's accepted log (each recipient
exactly once), its record of concurrent send calls (the pool's bound), the accepted requests'
times (the account's rate), the task instances' hosts (both workers worked), the ledger (the
report's figures) and the logs (no full number).

The chaos test kills one worker with SIGKILL, task processes and all, while shards are sending;
its shards are failed by the scheduler once their heartbeat is 20 s old and retried on the other
worker, and every recipient is still accepted exactly once. ``YXT_CHAOS_RUNS`` (default 1)
repeats it; each repetition kills the worker that holds more sending shards, then starts it again.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.celery_stack import CeleryAirflow, ServiceUnavailable, celery_airflow
from tests.fixtures.leaks import find_leaks
from tests.fixtures.ledger import services_required
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import Fault, SandboxConfig, SandboxServer, run_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DAG_ID = "yxt_sharded_campaign"
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / f"{DAG_ID}.py"
RECIPIENTS = 50_000  # the example's default is 200,000; the benchmark sends those
SHARDS = 8
POOL, POOL_SLOTS = "yxt_gateway", 3
MAX_IN_FLIGHT = 2  # per shard (connection extra): the pool bounds the account at 3 × 2 calls
# Requests per second: the account's limit, in the sandbox and in the connection. Below what three
# shards reach unpaced against a quick gateway (about 40/s here), so the shared pace holds them.
RATE = 16.0
# The gateway's own limit, a little above the pace: accepted requests above RATE would show that
# the shards did not keep to the shared pace (the gateway alone would let 20 a second through).
GATEWAY_RATE = 20.0
# A slow gateway (1 s a send) asks for RATE x 1 s = 16 calls at once: more than the pool allows.
SLOW, QUICK = Fault("send", "latency", seconds=1.0), Fault("send", "latency", seconds=0.05)
CHAOS_RUNS = int(os.environ.get("YXT_CHAOS_RUNS", "1"))
# Every wait of the module (start-up, three or more runs) must end within this many seconds.
OVERALL_TIMEOUT = 300.0 + 120.0 * CHAOS_RUNS


def _connection(sandbox: SandboxServer) -> str:
    return json.dumps(
        {"conn_type": "yxt", "host": sandbox.base_url, "login": "demo_app", "password": "s3cr3t",
         "extra": {"sp_code": "100001", "max_in_flight": MAX_IN_FLIGHT, "max_requests_per_second": RATE}}
    )  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        rate_limit=GATEWAY_RATE,  # code 11 beyond it
        burst=3,
        rate_limit_endpoints=("send",),
        faults=(QUICK,),
        receipt_fail_share=0.05,
        seed=14,
    )
    with run_sandbox(config) as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> Iterator[CeleryAirflow]:
    root = tmp_path_factory.mktemp("celery")
    try:
        running = celery_airflow(
            root, {DAG_FILE.name: DAG_FILE.read_text(encoding="utf-8")}, _connection(sandbox), OVERALL_TIMEOUT
        )
        airflow = running.__enter__()
    except ServiceUnavailable as exc:
        if services_required():
            pytest.fail(f"{exc} (YXT_REQUIRE_SERVICES=1)")
        pytest.skip(str(exc))
    try:
        airflow.create_pool(POOL, POOL_SLOTS)
        airflow.wait_for(f"DAG {DAG_ID} to be parsed", lambda: airflow.api("GET", f"/dags/{DAG_ID}").ok)
        response = airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        assert response.ok, response.text
        yield airflow
    finally:
        running.__exit__(None, None, None)


# -- helpers -------------------------------------------------------------------------------------


def _trigger(stack: CeleryAirflow) -> str:
    body = {"logical_date": None, "conf": {"recipients": RECIPIENTS, "shards": SHARDS}}
    response = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json=body)
    assert response.ok, response.text
    return str(response.json()["dag_run_id"])


def _task_instances(stack: CeleryAirflow, run_id: str) -> list[dict[str, Any]]:
    return list(stack.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=100")["task_instances"])


def _wait_finished(stack: CeleryAirflow, run_id: str) -> list[dict[str, Any]]:
    def finished() -> str | None:
        state = stack.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    state = stack.wait_for(f"run {run_id} to finish", finished, interval=1.0)
    tis = _task_instances(stack, run_id)
    if state != "success":
        stack.fail(f"run {run_id} ended {state}: {[(t['task_id'], t['map_index'], t['state']) for t in tis]}")
    return tis


def _xcom(stack: CeleryAirflow, run_id: str, task_id: str, map_index: int = -1) -> Any:
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    response = stack.api("GET", path, params={"map_index": map_index})
    assert response.ok, response.text
    value = response.json()["value"]
    return json.loads(value) if isinstance(value, str) else value


def _shard_campaigns(stack: CeleryAirflow, run_id: str) -> list[str]:
    return [_xcom(stack, run_id, "send", shard)["campaign_id"] for shard in range(SHARDS)]


def _accepted_once(sandbox: SandboxServer) -> Counter[str]:
    return Counter(number for request in sandbox.accepted() for number in request.numbers)


def _assert_every_recipient_exactly_once(sandbox: SandboxServer) -> None:
    counts = _accepted_once(sandbox)
    twice = [n for n, c in counts.items() if c > 1]
    assert not twice, f"{len(twice)} recipients accepted more than once"
    assert len(counts) == RECIPIENTS, f"{RECIPIENTS - len(counts)} recipients never accepted"
    assert set(counts) == {f"139{i:08d}" for i in range(RECIPIENTS)}


def _peak_rate(times: list[float], window: float = 1.0) -> int:
    """The most requests accepted within any ``window`` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _report_matches_ledger(stack: CeleryAirflow, sandbox: SandboxServer, run_id: str) -> dict[str, Any]:
    report = _xcom(stack, run_id, "delivery_report")
    campaigns = _shard_campaigns(stack, run_id)
    ledger = Ledger.from_url(stack.ledger_url)
    try:
        shards = [ledger.delivery_report(campaign) for campaign in campaigns]
        serials = {batch.serial_number for c in campaigns for batch in ledger.iter_batches(c)}
    finally:
        ledger.dispose()
    assert sum(s.sent for s in shards) == report["sent"] == RECIPIENTS
    assert sum(s.delivered for s in shards) == report["delivered"]
    assert sum(s.failed for s in shards) == report["failed"]
    assert sum(s.pending for s in shards) == report["pending"]
    # The sensor stopped at 90% delivered, so some receipts may still be on their way: the
    # report cannot have more failures than the gateway's truth, and counts every message.
    expected = sandbox.expected_delivery(serials)
    assert (report["delivered"] + report["failed"] + report["pending"]) == expected["sent"]
    assert report["failed"] <= expected["failed"] and report["failed"] > 0
    return dict(report)


def _assert_no_full_numbers_in_logs(stack: CeleryAirflow) -> None:
    sample = [f"139{i:08d}" for i in range(0, RECIPIENTS, 997)]
    texts = [path.read_text(errors="replace") for path in stack.log_paths()]
    leaks = find_leaks(texts, sample, secrets=["s3cr3t"])
    assert not leaks, f"full numbers or the secret in the logs: {leaks[:3]}"


# -- the tests -----------------------------------------------------------------------------------


def test_shards_spread_over_both_workers_exactly_once_within_the_pool(
    stack: CeleryAirflow, sandbox: SandboxServer
) -> None:
    sandbox.reset()
    sandbox.configure(faults=[SLOW])
    run_id = _trigger(stack)
    tis = _wait_finished(stack, run_id)

    sends = [ti for ti in tis if ti["task_id"] == "send"]
    assert sorted(ti["map_index"] for ti in sends) == list(range(SHARDS))
    assert {ti["hostname"] for ti in sends} == {"worker-1", "worker-2"}, "both workers sent shards"
    assert {ti["pool"] for ti in sends} == {POOL}
    _assert_every_recipient_exactly_once(sandbox)

    peak = sandbox.counters()["peak_in_flight"]["send"]
    assert peak <= POOL_SLOTS * MAX_IN_FLIGHT, f"{peak} send calls at once: the pool's bound was exceeded"
    assert peak > MAX_IN_FLIGHT, (
        f"at most {peak} calls at once: shards never overlapped, the test shows nothing"
    )

    _report_matches_ledger(stack, sandbox, run_id)
    _assert_no_full_numbers_in_logs(stack)


def test_all_shards_on_all_workers_together_keep_the_accounts_rate(
    stack: CeleryAirflow, sandbox: SandboxServer
) -> None:
    sandbox.reset()
    run_id = _trigger(stack)
    tis = _wait_finished(stack, run_id)
    _assert_every_recipient_exactly_once(sandbox)
    assert all(ti["try_number"] == 1 for ti in tis if ti["task_id"] == "send"), "no shard needed a retry"

    times = [request.accepted_at for request in sandbox.accepted()]
    assert _peak_rate(times) <= RATE + 2, f"{_peak_rate(times)} requests accepted within one second"
    # Per-task pacing would let three shards ask for 3 x RATE: the gateway would refuse a third
    # of them. One pace for the account leaves code 11 to the odd collision with its bucket.
    throttled = sandbox.counters()["requests"]["send"].get("11", 0)
    assert throttled <= len(times) // 20, f"{throttled} sends refused with code 11 for {len(times)} accepted"
    # The pace bound: the campaign went out at about the account's rate, not far below it.
    span = max(times) - min(times)
    assert len(times) / span > RATE / 3, f"{len(times)} requests in {span:.1f} s"


@pytest.mark.parametrize("round_", range(CHAOS_RUNS))
def test_a_worker_killed_mid_campaign_loses_and_duplicates_nothing(
    stack: CeleryAirflow, sandbox: SandboxServer, round_: int
) -> None:
    sandbox.reset()
    run_id = _trigger(stack)

    def sending_on_each_worker() -> dict[str, int] | None:
        # Kill once the campaign is well under way: a sixth to a half of its 60 requests accepted.
        accepted = len(sandbox.accepted())
        if not 10 <= accepted <= 30:
            return None
        running = Counter(
            ti["hostname"] for ti in _task_instances(stack, run_id)
            if ti["task_id"] == "send" and ti["state"] == "running"
        )  # fmt: skip
        return dict(running) if running else None

    running = stack.wait_for("shards sending on the workers", sending_on_each_worker, interval=0.2)
    victim = max(running, key=lambda worker: running[worker])
    accepted_before = len(sandbox.accepted())
    killed = stack.kill(victim)
    assert killed >= 2, f"only {killed} processes of {victim} killed"  # the worker and its tasks
    assert victim not in stack.celery_workers_answering()

    tis = _wait_finished(stack, run_id)
    sends = {ti["map_index"]: ti for ti in tis if ti["task_id"] == "send"}
    retried = {index: ti for index, ti in sends.items() if ti["try_number"] > 1}
    assert retried, "no shard was retried: the kill hit no sending task"
    survivor = "worker-2" if victim == "worker-1" else "worker-1"
    assert {ti["hostname"] for ti in retried.values()} == {survivor}
    assert len(sandbox.accepted()) > accepted_before
    _assert_every_recipient_exactly_once(sandbox)
    _report_matches_ledger(stack, sandbox, run_id)
    # One line per round for the record (pytest -s shows it): what the kill hit, what recovered.
    print(
        f"chaos round {round_}: killed {victim} ({killed} processes) after {accepted_before} accepted "
        f"requests; shards {sorted(retried)} retried on {survivor}; "
        f"{len(sandbox.accepted())} requests, {RECIPIENTS} recipients, each exactly once"
    )

    # Back to two workers for the next round (and to show a restarted worker rejoins).
    stack.start_component(victim)
    stack.wait_for(f"{victim} to answer again", lambda: victim in stack.celery_workers_answering())
