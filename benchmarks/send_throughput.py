"""Send-side throughput of SendSmsOperator's engine against the sandbox (in another process).

Prints four figures, each with its baseline or target:

1. the operator's send path (ledger + CampaignSender) vs a bare keep-alive YxtClient loop
   over the same batches of 1000 (target ratio >= 0.8);
2. a personalised campaign (one recipient per request) against 50 ms of gateway latency:
   the operator vs the ``@task`` a DAG author would otherwise write (requests.post, one
   batch after another), as a ratio;
3. against a gateway throttled to R requests/s (code 11 beyond) with latency: achieved
   rate / R (target >= 0.9) and failed batches (target 0);
4. peak RSS and wall time of planning a 1,000,000-recipient uniform campaign into the
   SQLite ledger (targets: < 300 MB, < 60 s), measured in a child process.

    .venv/bin/python -m benchmarks.send_throughput [--batches 150] [--skip-plan]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from benchmarks.sandbox_process import numbers, sandbox_process
from yxt_provider.campaign.planning import plan_campaign
from yxt_provider.campaign.sender import CampaignSender, SendSettings
from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.client.client import PATH_SEND, build_send_body
from yxt_provider.ledger import CampaignRecord, Ledger, opt_out_store
from yxt_provider.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE

TEMPLATE = "1000000000001"
CONTENT = "【测试】您的账单已出，请及时查看。"


def client_for(base_url: str, pool: int = 10, retry: RetrySettings | None = None) -> YxtClient:
    return YxtClient(
        base_url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET, pool_size=pool, retry=retry
    )


# As in SendSmsOperator: the try that records a plan sends from the numbers it holds.
PLANNED_NUMBERS: dict[str, dict[int, Sequence[str]]] = {}


def planned_ledger(
    workdir: Path,
    campaign_id: str,
    recipients: dict[str, dict[str, str]],
    render: object = None,
    batch_size: int = 1000,
) -> Ledger:
    ledger = Ledger.from_url(f"sqlite:///{workdir / (campaign_id + '.db')}")
    plan = plan_campaign(campaign_id, recipients, TEMPLATE, render, None if render else CONTENT, batch_size)  # type: ignore[arg-type]
    record = CampaignRecord(
        campaign_id=campaign_id, dag_id="bench", run_id="bench", task_id="send", template_id=TEMPLATE,
        planned=plan.recipients, batches=len(plan.batches), segments=plan.segments,
    )  # fmt: skip
    assert ledger.create_plan(record, plan.batches)
    PLANNED_NUMBERS[campaign_id] = {b.batch_index: b.numbers for b in plan.batches}
    return ledger


def operator_send(
    base_url: str, ledger: Ledger, campaign_id: str, settings: SendSettings, *, respect_opt_out: bool = True
) -> tuple[float, object]:
    # As SendSmsOperator builds it: code 11 reaches the sender's pacing at once.
    client = client_for(
        base_url, pool=max(10, settings.max_in_flight), retry=RetrySettings(retry_throttled=False)
    )
    started = time.perf_counter()
    # As SendSmsOperator's default: each batch's first attempt also takes out late opt-outs.
    outcome = CampaignSender(ledger, client, settings, respect_opt_out=respect_opt_out).send(
        campaign_id, PLANNED_NUMBERS[campaign_id]
    )
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed, outcome


def bare_client_send(base_url: str, batches: list[list[str]], run: int) -> float:
    client = client_for(base_url)
    started = time.perf_counter()
    for index, batch in enumerate(batches):
        client.send(batch, CONTENT, TEMPLATE, f"{run:02d}{index:018d}")
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def figure_1(workdir: Path, batches: int) -> None:
    recipients: dict[str, dict[str, str]] = {n: {} for n in numbers(batches * 1000)}
    with sandbox_process() as base_url:
        bare_client_send(
            base_url, [numbers(1000, start=10_000_000 + i * 1000) for i in range(10)], run=98
        )  # warm-up
        bare = bare_client_send(
            base_url, [numbers(1000, start=20_000_000 + i * 1000) for i in range(batches)], run=97
        )
        ledger = planned_ledger(workdir, "fig1", recipients)
        # A realistic list: 10,000 numbers that refused before the plan, 20 more since (replies
        # read while the campaign goes out); none of them in this campaign.
        day_ago = datetime.now(timezone.utc) - timedelta(days=1)
        opt_out_store.add_opt_outs(
            ledger.engine, numbers(10_000, start=90_000_000), source="import", now=day_ago
        )
        ledger.add_opt_outs(numbers(20, start=95_000_000))
        op, _ = operator_send(base_url, ledger, "fig1", SendSettings(progress_interval=3600))
        unchecked_ledger = planned_ledger(
            workdir, "fig1b", {n: {} for n in numbers(batches * 1000, start=30_000_000)}
        )
        unchecked, _ = operator_send(
            base_url, unchecked_ledger, "fig1b", SendSettings(progress_interval=3600), respect_opt_out=False
        )
    print(f"1. batches of 1000, {batches} requests")
    print(f"   bare YxtClient loop (1 thread)        : {batches / bare:8.1f} requests/s")
    print(
        f"   operator send path (ledger, 4 threads): {batches / op:8.1f} requests/s  (opt-outs checked per batch)"
    )
    print(f"   same, respect_opt_out=False           : {batches / unchecked:8.1f} requests/s")
    print(f"   ratio operator / bare                 : {bare / op:8.2f}   (target >= 0.8)")


def figure_2(workdir: Path, recipients_count: int) -> None:
    recipients = {n: {"name": f"客户{i}"} for i, n in enumerate(numbers(recipients_count))}
    with sandbox_process(faults=[{"endpoint": "send", "kind": "latency", "seconds": 0.05}]) as base_url:
        # What a DAG author would otherwise write in a @task: sign and post one request after another.
        signer = client_for(base_url)
        session = requests.Session()
        started = time.perf_counter()
        for index, recipient in enumerate(numbers(recipients_count, start=5_000_000)):
            body = build_send_body([recipient], f"客户{index}您好", TEMPLATE, f"96{index:018d}")
            reply = session.post(base_url + PATH_SEND, data=json.dumps(body, ensure_ascii=False).encode(),
                                  headers=signer.signed_headers(body), timeout=30)  # fmt: skip
            assert reply.json()["code"] == 0
        naive = time.perf_counter() - started
        ledger = planned_ledger(workdir, "fig2", recipients, render=lambda r: f"{r.variables['name']}您好")
        op, _ = operator_send(base_url, ledger, "fig2", SendSettings(max_in_flight=8, progress_interval=3600))
    print(
        f"2. personalised, {recipients_count} recipients = {recipients_count} requests, 50 ms gateway latency"
    )
    print(f"   @task looping requests.post           : {recipients_count / naive:8.1f} requests/s")
    print(f"   operator (max_in_flight=8)            : {recipients_count / op:8.1f} requests/s")
    print(f"   ratio operator / @task loop           : {naive / op:8.2f}")


def figure_3(workdir: Path, rate: float, batches: int) -> None:
    recipients: dict[str, dict[str, str]] = {n: {} for n in numbers(batches * 100)}
    config = {"rate_limit": rate, "burst": 2, "rate_limit_endpoints": ["send"],
              "faults": [{"endpoint": "send", "kind": "latency", "seconds": 0.02}]}  # fmt: skip
    print(
        f"3. gateway throttled to R = {rate:.0f} requests/s (token bucket of 2, code 11 beyond), 20 ms latency, {batches} batches of 100"
    )
    for label, settings in (
        (
            "paced at R (connection extra)",
            SendSettings(max_in_flight=4, max_requests_per_second=rate, progress_interval=3600),
        ),
        ("unpaced, adapting to code 11  ", SendSettings(max_in_flight=4, progress_interval=3600)),
    ):
        with sandbox_process(**config) as base_url:
            campaign = "fig3" + label[:5].strip()
            ledger = planned_ledger(workdir, campaign, recipients, batch_size=100)
            elapsed, outcome = operator_send(base_url, ledger, campaign, settings)
            counters = requests.get(f"{base_url}/_sandbox/counters", timeout=10).json()
        throttled = counters["requests"]["send"].get("11", 0)
        achieved = batches / elapsed
        print(f"   {label}: {achieved:6.1f} requests/s = {achieved / rate:.2f} x R, "
              f"failed batches {len(outcome.failed_batches)}, code-11 answers {throttled}")  # type: ignore[attr-defined]  # fmt: skip


PLAN_CHILD = """
import resource, sys, time
from yxt_provider.campaign.planning import plan_campaign
from yxt_provider.campaign.recipients import clean_recipients, iter_recipients
from yxt_provider.ledger import CampaignRecord, Ledger, opt_out_store
from yxt_provider.campaign.planning import plan_fingerprint
started = time.perf_counter()
numbers = [f"138{i:08d}" for i in range(1_000_000)]
clean = clean_recipients(iter_recipients(numbers))
plan = plan_campaign("million", clean.valid, "1000000000001", None, "【测试】您的账单已出，请及时查看。")
fingerprint = plan_fingerprint("1000000000001", plan)
ledger = Ledger.from_url(f"sqlite:///{sys.argv[1]}")
record = CampaignRecord(campaign_id="million", dag_id="b", run_id="b", task_id="t", template_id="1000000000001",
                        planned=plan.recipients, batches=len(plan.batches), segments=plan.segments,
                        source_fingerprint=fingerprint)
assert ledger.create_plan(record, plan.batches)
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def figure_4(workdir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PLAN_CHILD, str(workdir / "million.db")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    wall, rss = float(out[-2]), float(out[-1])
    print("4. planning a 1,000,000-recipient uniform campaign into the SQLite ledger (child process)")
    print(f"   wall time {wall:6.1f} s (target < 60 s), peak RSS {rss:6.0f} MB (target < 300 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--personal", type=int, default=400)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--skip-plan", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yxt-bench-") as tmp:
        workdir = Path(tmp)
        figure_1(workdir, args.batches)
        figure_2(workdir, args.personal)
        figure_3(workdir, args.rate, int(args.rate * 6))
        if not args.skip_plan:
            figure_4(workdir)


if __name__ == "__main__":
    main()
