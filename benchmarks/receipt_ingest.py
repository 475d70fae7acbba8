"""Receipts/s ingested from the sandbox gateway into the ledger (SQLite, PostgreSQL, MariaDB).

For each backend: plan a 100,000-recipient campaign (100 batches of 1000) in a fresh
ledger, send it to a sandbox running in its own process (so the gateway does not share
this process's GIL), then time ``drain_receipts`` reading every receipt page by page over
HTTP and storing each page before reading the next. Target: 20,000 receipts/s per backend.

Usage: ``python benchmarks/receipt_ingest.py [--receipts 100000] [--page-size 500]
[--backends sqlite,postgresql] [--postgres-url URL] [--mysql-url URL]``. PostgreSQL runs in
a fresh schema (dropped afterwards) of ``--postgres-url`` (default: ``$YXT_TEST_POSTGRES_URL``
or ``postgresql+psycopg2://postgres@127.0.0.1:5432/test``); ``--backends ...,mysql`` adds
MariaDB/MySQL, in a fresh database (dropped afterwards) on the server of ``--mysql-url``
(default: ``$YXT_TEST_MYSQL_URL`` or ``mysql+mysqldb://root@127.0.0.1:3306/test``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.sandbox_process import numbers, sandbox_process
from yxt_provider.client import YxtClient
from yxt_provider.ledger import CampaignRecord, Ledger, PlannedBatch
from yxt_provider.receipts import drain_receipts
from yxt_provider.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE

TARGET = 20_000
BATCH = 1000
TEMPLATE = "1000000000001"


@contextmanager
def ledger_url(backend: str, postgres_url: str, mysql_url: str = "") -> Iterator[str]:
    """A fresh, empty ledger database: a temporary SQLite file, a private PostgreSQL schema or MySQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'ledger.db'}"
        return
    name = f"yxt_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    if backend == "mysql":
        server, create, drop = (
            mysql_url,
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
            f"DROP DATABASE `{name}`",
        )
        url = sa.make_url(mysql_url).set(database=name).update_query_dict({"charset": "utf8mb4"})
    else:
        server, create, drop = (
            postgres_url,
            f'CREATE SCHEMA "{name}"',
            f'DROP SCHEMA IF EXISTS "{name}" CASCADE',
        )
        url = sa.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={name}"})
    admin = sa.create_engine(server, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(create))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(drop))
        admin.dispose()


def run_backend(backend: str, url: str, client: YxtClient, receipts: int, tag: int) -> float:
    """Plan and send ``receipts`` messages, then time draining their receipts; return receipts/s."""
    ledger = Ledger.from_url(url)
    campaign_id = f"bench-{backend}-{tag}"
    batches = [
        PlannedBatch(
            campaign_id=campaign_id,
            batch_index=b,
            serial_number=f"{tag:08d}{b:012d}",
            template_id=TEMPLATE,
            content="benchmark",
            content_hash="h",
            numbers=numbers(BATCH, start=b * BATCH),
        )
        for b in range(receipts // BATCH)
    ]
    record = CampaignRecord(
        campaign_id=campaign_id, dag_id="b", run_id="b", task_id="b", template_id=TEMPLATE
    )
    ledger.create_plan(record, batches)
    for batch in batches:
        client.send(batch.numbers, batch.content, TEMPLATE, batch.serial_number)
        ledger.mark_sent(campaign_id, batch.batch_index, gateway_task_id="T", duplicate=False)

    started = time.perf_counter()
    result = drain_receipts(client, ledger, max_pages=None, max_seconds=None)
    elapsed = time.perf_counter() - started

    report = ledger.delivery_report(campaign_id)
    ledger.dispose()
    expected = len(batches) * BATCH
    assert result.read == result.stored_new == result.matched == expected, result
    assert report.delivered == expected and report.pending == 0, report
    rate = result.read / elapsed
    print(
        f"{backend:>10}: {result.read:,} receipts in {result.pages} pages, {elapsed:.2f} s: "
        f"{rate:,.0f} receipts/s ({rate / TARGET:.2f}x the {TARGET:,}/s target)",
        flush=True,
    )
    return rate


def main() -> None:
    """Run the benchmark for each backend."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receipts", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=500, help="the sandbox's report_page_size")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("YXT_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("YXT_TEST_MYSQL_URL", "mysql+mysqldb://root@127.0.0.1:3306/test"),
    )
    args = parser.parse_args()
    if args.receipts % BATCH:
        parser.error(f"--receipts must be a multiple of {BATCH}")
    print(
        f"receipt ingest: {args.receipts:,} receipts, report pages of {args.page_size}, sandbox in its own process"
    )
    with sandbox_process(report_page_size=args.page_size) as base_url:
        client = YxtClient(base_url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
        try:
            for tag, backend in enumerate(args.backends.split(","), start=1):
                with ledger_url(backend, args.postgres_url, args.mysql_url) as url:
                    run_backend(backend, url, client, args.receipts, tag)
        finally:
            client.close()


if __name__ == "__main__":
    main()
