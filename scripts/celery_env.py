"""Run the sharded example campaign on Airflow's CeleryExecutor, on this machine, against the sandbox.

Starts the stack of ``tests/e2e/celery_stack.py`` (metadata database and ledger on PostgreSQL,
Celery broker on Redis, N workers, scheduler, DAG processor, triggerer, API server) with
``dags/yxt_sharded_campaign.py``, creates the ``yxt_gateway`` pool, runs the DAG once and prints
the campaign's delivery report; ``--keep-running`` then leaves everything up until Ctrl-C, to
look around in the UI. Everything stops, and both databases are dropped, on the way out.

    bash scripts/celery-env.sh [--recipients 200000] [--shards 8] [--workers 2] [--pool-slots 3]
                               [--rate 20] [--keep-running]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.celery_stack import CeleryAirflow, ServiceUnavailable, celery_airflow  # noqa: E402
from yxt_provider.sandbox import Fault, SandboxConfig, run_sandbox  # noqa: E402

DAG_ID = "yxt_sharded_campaign"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool-slots", type=int, default=3, help="slots of the yxt_gateway pool")
    parser.add_argument(
        "--rate", type=float, default=None,
        help="the account's limit in requests/s: the sandbox throttles above it, the connection paces at it",
    )  # fmt: skip
    parser.add_argument("--keep-running", action="store_true", help="stay up after the run until Ctrl-C")
    return parser.parse_args()


def _connection(base_url: str, rate: float | None) -> str:
    extra: dict[str, object] = {"sp_code": "100001"}
    if rate:
        extra["max_requests_per_second"] = rate
    return json.dumps(
        {"conn_type": "yxt", "host": base_url, "login": "demo_app", "password": "s3cr3t", "extra": extra}
    )


def _run_once(stack: CeleryAirflow, recipients: int, shards: int) -> tuple[str, str]:
    stack.wait_for(f"DAG {DAG_ID} to be parsed", lambda: stack.api("GET", f"/dags/{DAG_ID}").ok)
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    body = {"logical_date": None, "conf": {"recipients": recipients, "shards": shards}}
    response = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json=body)
    response.raise_for_status()
    run_id = str(response.json()["dag_run_id"])
    print(f"==> triggered {run_id}; following it in the API", flush=True)

    def finished() -> str | None:
        state = stack.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    return str(stack.wait_for(f"run {run_id} to finish", finished, interval=2.0)), run_id


def _print_report(stack: CeleryAirflow) -> None:
    """The report task's log lines: the campaign's delivery report."""
    logs = sorted(
        p for p in (stack.home / "logs").rglob("*") if p.is_file() and "task_id=delivery_report" in str(p)
    )
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line).get("event", "")
            except ValueError:
                event = line
            if event:
                print(event)


def main() -> int:
    args = _arguments()
    # SIGTERM unwinds like Ctrl-C, so everything is stopped and both databases dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    root = Path(tempfile.mkdtemp(prefix="yxt-celery-"))
    config = SandboxConfig(rate_limit=args.rate, burst=3, faults=(Fault("send", "latency", seconds=0.05),),
                           receipt_fail_share=0.05, seed=14)  # fmt: skip
    dag = (REPO / "dags" / f"{DAG_ID}.py").read_text(encoding="utf-8")
    print(f"==> sandbox gateway, Airflow home and logs under {root}", flush=True)
    with run_sandbox(config) as sandbox:
        try:
            stack_cm = celery_airflow(root, {f"{DAG_ID}.py": dag}, _connection(sandbox.base_url, args.rate),
                                      timeout=3600, workers=args.workers)  # fmt: skip
            stack = stack_cm.__enter__()
        except ServiceUnavailable as exc:
            print(
                f"error: {exc}. Start it (.ci/run has the commands for this machine), or point the "
                "script elsewhere with YXT_CELERY_POSTGRES_URL / YXT_CELERY_REDIS_URL",
                file=sys.stderr,
            )
            return 2
        try:
            print(
                f"==> Airflow on Celery is up: {stack.base_url} (workers: {', '.join(stack.workers)})",
                flush=True,
            )
            stack.create_pool("yxt_gateway", args.pool_slots)
            started = time.monotonic()
            state, run_id = _run_once(stack, args.recipients, args.shards)
            print(f"==> run {run_id} ended {state} after {time.monotonic() - started:.0f} s", flush=True)
            _print_report(stack)
            if args.keep_running:
                print(f"==> still running: {stack.base_url}; Ctrl-C stops everything", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(3600)
            return 0 if state == "success" else 1
        finally:
            stack_cm.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
