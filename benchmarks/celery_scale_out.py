"""The sharded campaign (dags/yxt_sharded_campaign.py) on Airflow's CeleryExecutor, measured.

Prints two figures, each with its target or baseline:

1. against a sandbox throttled to R requests/s (code 11 beyond), two workers under one pool, the
   connection's ``max_requests_per_second`` = R: the achieved rate of accepted send requests
   (first to last) / R (target >= 0.95), failed batches and code-11 answers (target 0);
2. against an unthrottled sandbox (``--latency`` per send, 50 ms by default), the send phase's
   wall time (first shard's start to last shard's end) with one worker vs two, each worker
   running ``--concurrency`` tasks, the pool as large as two workers' slots: the ratio one / two.
   On this 2-core machine every component shares the CPU, so a second worker adds task slots,
   not CPU: it pays where the gateway's latency, not the CPU, is the limit (try ``--latency 0.5``).

Each figure starts its own stack (tests/e2e/celery_stack.py: PostgreSQL, Redis, scheduler, DAG
processor, triggerer, API server, workers), about 40 s each on 2 cores.

    .venv/bin/python -m benchmarks.celery_scale_out [--recipients 200000] [--shards 8] [--rate 5]
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
from pathlib import Path
from typing import Any

import pendulum

from tests.e2e.celery_stack import CeleryAirflow, celery_airflow
from yxt_provider.sandbox import Fault, SandboxConfig, SandboxServer, run_sandbox

DAG_ID = "yxt_sharded_campaign"
DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / f"{DAG_ID}.py"
LATENCY = Fault("send", "latency", seconds=0.05)  # figure 1


def _connection(sandbox: SandboxServer, rate: float | None, max_in_flight: int) -> str:
    extra: dict[str, Any] = {"sp_code": "100001", "max_in_flight": max_in_flight}
    if rate is not None:
        extra["max_requests_per_second"] = rate
    return json.dumps(
        {
            "conn_type": "yxt",
            "host": sandbox.base_url,
            "login": "demo_app",
            "password": "s3cr3t",
            "extra": extra,
        }
    )


def _run(stack: CeleryAirflow, recipients: int, shards: int) -> list[dict[str, Any]]:
    """Trigger the DAG once, wait for it, and return the send task instances (failing if the run failed)."""
    stack.wait_for(f"DAG {DAG_ID} to be parsed", lambda: stack.api("GET", f"/dags/{DAG_ID}").ok)
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    body = {"logical_date": None, "conf": {"recipients": recipients, "shards": shards}}
    response = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json=body)
    response.raise_for_status()
    run_id = response.json()["dag_run_id"]

    def finished() -> str | None:
        state = stack.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    state = stack.wait_for(f"run {run_id} to finish", finished, interval=1.0)
    tis = stack.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=100")["task_instances"]
    if state != "success":
        raise SystemExit(
            f"run {run_id} ended {state}: {[(t['task_id'], t['map_index'], t['state']) for t in tis]}"
        )
    sends = [ti for ti in tis if ti["task_id"] == "send"]
    for ti in sends:
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/send/xcomEntries/return_value"
        value = stack.api("GET", path, params={"map_index": ti["map_index"]}).json()["value"]
        ti["summary"] = json.loads(value) if isinstance(value, str) else value
    return list(sends)


def _send_phase_seconds(sends: list[dict[str, Any]]) -> float:
    starts = [pendulum.parse(ti["start_date"]) for ti in sends]
    ends = [pendulum.parse(ti["end_date"]) for ti in sends]
    return (max(ends) - min(starts)).total_seconds()  # type: ignore[operator]


def figure_1(recipients: int, shards: int, rate: float) -> None:
    config = SandboxConfig(
        rate_limit=rate, burst=2, rate_limit_endpoints=("send",), faults=(LATENCY,), seed=14
    )
    with run_sandbox(config) as sandbox, tempfile.TemporaryDirectory(prefix="yxt-bench-celery-") as root:
        with celery_airflow(Path(root), {DAG_FILE.name: DAG_FILE.read_text()}, _connection(sandbox, rate, 2),
                            timeout=3600, workers=2) as stack:  # fmt: skip
            stack.create_pool("yxt_gateway", 3)
            sends = _run(stack, recipients, shards)
        times = sorted(request.accepted_at for request in sandbox.accepted())
        counters = sandbox.counters()
    achieved = (len(times) - 1) / (times[-1] - times[0])
    failed = sum(int(ti["summary"]["failed"]) for ti in sends)
    retried = sum(1 for ti in sends if ti["try_number"] > 1)
    hosts = sorted({ti["hostname"] for ti in sends})
    print(f"1. {recipients} recipients in {shards} shards, gateway throttled to R = {rate:g} requests/s "
          f"(token bucket of 2), 2 workers, pool of 3 slots")  # fmt: skip
    print(f"   accepted send requests            : {len(times)} over {times[-1] - times[0]:.1f} s")
    print(
        f"   achieved rate                     : {achieved:.2f} requests/s = {achieved / rate:.3f} x R   (target >= 0.95)"
    )
    print(f"   failed batches (recipients unsent): {failed}   shard retries: {retried}   (target 0)")
    print(f"   code-11 answers                   : {counters['requests']['send'].get('11', 0)}")
    print(f"   shards ran on                     : {', '.join(hosts)}")


def figure_2(recipients: int, shards: int, concurrency: int, latency: float) -> None:
    walls: dict[int, float] = {}
    config = SandboxConfig(faults=(Fault("send", "latency", seconds=latency),), seed=14)
    for workers in (1, 2):
        with (
            run_sandbox(config) as sandbox,
            tempfile.TemporaryDirectory(prefix="yxt-bench-celery-") as root,
        ):
            with celery_airflow(Path(root), {DAG_FILE.name: DAG_FILE.read_text()}, _connection(sandbox, None, 4),
                                timeout=3600, workers=workers, worker_concurrency=concurrency) as stack:  # fmt: skip
                stack.create_pool("yxt_gateway", 2 * concurrency)
                sends = _run(stack, recipients, shards)
            assert sum(len(r.numbers) for r in sandbox.accepted()) == recipients
        walls[workers] = _send_phase_seconds(sends)
    print(f"2. {recipients} recipients in {shards} shards, unthrottled gateway ({latency * 1000:.0f} ms a send), "
          f"{concurrency} task slots per worker, pool of {2 * concurrency}")  # fmt: skip
    print(f"   send phase, one worker            : {walls[1]:.1f} s")
    print(f"   send phase, two workers           : {walls[2]:.1f} s")
    print(f"   ratio one / two                   : {walls[1] / walls[2]:.2f}   (2 cores for everything: "
          "the workers share the machine)")  # fmt: skip


def main() -> None:
    # SIGTERM unwinds like Ctrl-C, so the stack is stopped and its databases dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--rate", type=float, default=5.0, help="R: the throttled gateway's requests/s")
    parser.add_argument("--concurrency", type=int, default=2, help="task slots per worker in figure 2")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds a send takes in figure 2")
    parser.add_argument("--only", choices=("1", "2"), help="run one figure")
    args = parser.parse_args()
    if args.only in (None, "1"):
        figure_1(args.recipients, args.shards, args.rate)
    if args.only in (None, "2"):
        figure_2(args.recipients, args.shards, args.concurrency, args.latency)


if __name__ == "__main__":
    main()
