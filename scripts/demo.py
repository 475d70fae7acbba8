"""The README's main job: a batch notification, sent and tracked to delivery, on the sandbox gateway.

What it does, with nothing to install or start by hand:

1. starts the sandbox gateway inside this process (receipts arrive after a few seconds;
   a few fail, a few never arrive — like a real gateway);
2. makes a throw-away Airflow home in ``.demo/`` (metadata database migrated there), with the
   repository's ``dags/`` as DAGs folder and ``yxt_default`` pointing at the sandbox;
3. runs ``dags/yxt_batch_notification.py`` with ``dag.test()``: recipients → SendSmsOperator →
   SmsDeliverySensor (deferrable) → SmsDeliveryReportOperator, on the embedded SQLite ledger;
4. prints the delivery report, checks it against the sandbox's ground truth, and exits.

Airflow's own log output goes to ``.demo/demo.log``. Nothing is left running: the sandbox
lives and dies with this process, and ``dag.test()`` runs every task (and the trigger) in it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
DEMO_HOME = ROOT / ".demo"
LOG_FILE = DEMO_HOME / "demo.log"
CSV_FILE = DEMO_HOME / "delivery_report.csv"
DAG_ID = "yxt_batch_notification"

# Airflow reads its configuration when first imported: set it up before that.
os.environ["AIRFLOW_HOME"] = str(DEMO_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")

_console: TextIO = sys.stdout


def say(text: str = "") -> None:
    """Print to the real console, even while Airflow's output is redirected to the log file."""
    _console.write(text + "\n")
    _console.flush()


@contextlib.contextmanager
def airflow_output_to_log() -> Iterator[None]:
    """Send everything written to file descriptors 1 and 2 (Airflow's logs) to ``.demo/demo.log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    with open(LOG_FILE, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)


def fresh_demo_home() -> None:
    """Keep the migrated Airflow database between runs (fast re-runs); drop the rest."""
    DEMO_HOME.mkdir(exist_ok=True)
    for name in ("yxt_ledger.db", "yxt_ledger.db-wal", "yxt_ledger.db-shm", CSV_FILE.name, LOG_FILE.name):
        (DEMO_HOME / name).unlink(missing_ok=True)
    shutil.rmtree(DEMO_HOME / "logs", ignore_errors=True)


def migrate() -> None:
    with open(LOG_FILE, "a", encoding="utf-8") as log:
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )


def main() -> int:
    global _console
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=500, help="patients to notify (default 500)")
    args = parser.parse_args()
    _console = os.fdopen(os.dup(1), "w", encoding="utf-8")
    started = time.monotonic()
    fresh_demo_home()

    from yxt_provider.sandbox import SandboxConfig, run_sandbox

    config = SandboxConfig(
        receipt_delay=3.0,  # receipts come a few seconds after the send, so the sensor has to wait
        receipt_fail_share=0.05,
        receipt_missing_share=0.02,
        report_page_size=100,
        seed=2026,
    )
    with run_sandbox(config) as sandbox:
        say(f"==> sandbox gateway on {sandbox.base_url} (receipts after {config.receipt_delay:.0f}s; "
            f"{config.receipt_fail_share:.0%} fail, {config.receipt_missing_share:.0%} never arrive)")  # fmt: skip
        os.environ["AIRFLOW_CONN_YXT_DEFAULT"] = json.dumps(
            {
                "conn_type": "yxt",
                "host": sandbox.base_url,
                "login": sandbox.config.app_key,
                "password": sandbox.config.app_secret,
                "extra": {"sp_code": sandbox.config.sp_code},
            }
        )
        say(f"==> Airflow home {DEMO_HOME.relative_to(ROOT)}/ (metadata database, ledger, logs in demo.log)")
        migrate()
        say(f"==> running DAG {DAG_ID} ({args.recipients} recipients): send → wait for delivery → report")
        with airflow_output_to_log():
            from airflow.dag_processing.dagbag import DagBag

            bag = DagBag(str(ROOT / "dags" / f"{DAG_ID}.py"))
            if bag.import_errors:
                raise SystemExit(f"DAG import errors: {bag.import_errors}")
            dag = bag.get_dag(DAG_ID)
            run = dag.test(run_conf={"recipients": args.recipients, "report_csv": str(CSV_FILE)})
        states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()}
        say("    tasks: " + ", ".join(f"{task} {state}" for task, state in states.items()))
        if any(state != "success" for state in states.values()):
            say(f"!! a task did not succeed; see {LOG_FILE.relative_to(ROOT)}")
            return 1
        deferred = "Pausing task as DEFERRED" in LOG_FILE.read_text(encoding="utf-8", errors="replace")
        if deferred:
            say("    the sensor deferred: the wait ran in the trigger, not in a worker slot")

        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        from yxt_provider.hooks.ledger import default_ledger_url
        from yxt_provider.ledger import Ledger
        from yxt_provider.ledger.report import result_meanings

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(dag_id=DAG_ID, run_id=run.run_id, task_id="delivery_report", key="return_value")
                .one()
            )
            report_dict = XComModel.deserialize_value(row)
        ledger = Ledger.from_url(default_ledger_url())
        report = ledger.delivery_report(report_dict["campaign_id"], pending_timeout=timedelta(minutes=30))
        serials = {b.serial_number for b in ledger.iter_batches(report.campaign_id)}
        ledger.dispose()
        say()
        # The report task's dict carries the DAG's meanings of the failure codes present.
        say(report.as_table(result_meanings(report_dict.get("failed_code_meanings"))))
        say()
        expected = sandbox.expected_delivery(serials)
        got = {key: report_dict[key] for key in expected}
        got["failed_by_code"] = {int(code): n for code, n in got["failed_by_code"].items()}
        if got == expected:
            say("==> the report matches the gateway's ground truth exactly "
                f"({expected['delivered']} delivered, {expected['failed']} failed, {expected['pending']} never)")  # fmt: skip
        else:
            say(f"!! the report differs from the gateway's ground truth: {got} != {expected}")
            return 1
        say(
            f"==> per-recipient CSV: {CSV_FILE.relative_to(ROOT)}; Airflow's log: {LOG_FILE.relative_to(ROOT)}"
        )
    say(f"==> done in {time.monotonic() - started:.0f}s; sandbox stopped, nothing left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
