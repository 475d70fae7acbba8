"""Replies/s stored and confirmed from the sandbox gateway into the ledger (SQLite, PostgreSQL, MariaDB).

For each backend: a fresh ledger holding a sent 20,000-recipient campaign (so every reply
has a campaign to be attributed to), 20,000 replies injected into a sandbox running in its
own process, then ``drain_replies`` timed: query a page, store it (attribution included),
confirm it, page after page. Baseline: 1,000 replies/s — a million-recipient campaign
answered by one in ten within ten minutes is about 170/s.

Usage: ``python benchmarks/reply_ingest.py [--replies 20000] [--page-size 100]
[--backends sqlite,postgresql,mysql]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.receipt_ingest import ledger_url
from benchmarks.sandbox_process import numbers, sandbox_process
from yxt_provider.client import YxtClient
from yxt_provider.ledger import CampaignRecord, Ledger, PlannedBatch
from yxt_provider.replies.ingest import drain_replies
from yxt_provider.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE

BASELINE = 1_000
BATCH = 1000
INJECT_CHUNK = 2_000


def prepare(ledger: Ledger, count: int, tag: int) -> None:
    """A campaign to ``count`` numbers whose batches were all accepted an hour ago."""
    campaign_id = f"bench-replies-{tag}"
    batches = [
        PlannedBatch(
            campaign_id=campaign_id, batch_index=b, serial_number=f"{tag:08d}{b:012d}", template_id="1",
            content="benchmark", content_hash="h", numbers=numbers(BATCH, start=b * BATCH),
        )
        for b in range(count // BATCH)
    ]  # fmt: skip
    record = CampaignRecord(campaign_id=campaign_id, dag_id="b", run_id="b", task_id="b", template_id="1")
    ledger.create_plan(record, batches)
    for batch in batches:
        ledger.mark_sent(campaign_id, batch.batch_index, gateway_task_id="T", duplicate=False)


def inject(base_url: str, count: int) -> None:
    when = (datetime.now(timezone(timedelta(hours=8))) + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    for start in range(0, count, INJECT_CHUNK):
        items = [
            {"callMdn": "1069000012345", "content": "1" if i % 3 else "几点到？", "userNumber": number,
             "replyTime": when}
            for i, number in enumerate(numbers(min(INJECT_CHUNK, count - start), start=start), start=start)
        ]  # fmt: skip
        requests.post(f"{base_url}/_sandbox/replies", json=items, timeout=60).raise_for_status()


def run_backend(backend: str, url: str, base_url: str, count: int, tag: int) -> float:
    ledger = Ledger.from_url(url)
    prepare(ledger, count, tag)
    inject(base_url, count)
    client = YxtClient(base_url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
    started = time.perf_counter()
    result = drain_replies(client, ledger, max_pages=None, max_seconds=None)
    elapsed = time.perf_counter() - started
    client.close()
    ledger.dispose()
    assert result.read == result.stored == result.attributed == count, result
    rate = result.read / elapsed
    print(
        f"{backend:>10}: {result.read:,} replies in {result.pages} pages, {elapsed:.2f} s: "
        f"{rate:,.0f} replies/s stored and confirmed ({rate / BASELINE:.1f}x the {BASELINE:,}/s baseline)",
        flush=True,
    )
    return rate


def main() -> None:
    """Run the benchmark for each backend."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=100, help="the sandbox's reply_page_size")
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("YXT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--mysql-url",
        default=os.environ.get("YXT_TEST_MYSQL_URL", "mysql+mysqldb://root@127.0.0.1:3306/test"),
    )
    args = parser.parse_args()
    count = args.replies - args.replies % BATCH
    print(f"reply ingest: {count:,} replies, pages of {args.page_size}, sandbox in its own process")
    for tag, backend in enumerate(args.backends.split(","), start=1):
        with (
            sandbox_process(reply_page_size=args.page_size) as base_url,
            ledger_url(backend, args.postgres_url, args.mysql_url) as url,
        ):
            run_backend(backend, url, base_url, count, tag)


if __name__ == "__main__":
    main()
