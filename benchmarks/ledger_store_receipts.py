"""Receipts/s of ``Ledger.store_receipts`` against a planned, sent campaign.

Usage: ``python benchmarks/ledger_store_receipts.py [--url URL] [--messages 300000]
[--receipts 60000] [--page 2000] [--order arrival|random]``. ``arrival`` feeds receipts
roughly in send order (shuffled within windows of 20 batches), as a gateway queue returns
them; ``random`` spreads each page over the whole campaign (worst case). Without ``--url``
a temporary SQLite file is used. On PostgreSQL, point ``--url`` at a scratch schema, e.g.
``postgresql+psycopg2://postgres@127.0.0.1/test?options=-csearch_path%3Dbench``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from yxt_provider.client.models import Receipt
from yxt_provider.ledger import CampaignRecord, Ledger, PlannedBatch


def main() -> None:
    """Plan and send a campaign, then time storing its receipts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--receipts", type=int, default=60_000)
    parser.add_argument("--page", type=int, default=2000)
    parser.add_argument("--order", choices=("arrival", "random"), default="arrival")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        ledger = Ledger.from_url(url)
        tag = time.time_ns() % 10**8
        campaign_id = f"bench.receipts.{tag}"

        def serial(index: int) -> str:
            return f"{tag:08d}{index:012d}"

        ledger.create_plan(
            CampaignRecord(campaign_id=campaign_id, dag_id="b", run_id="b", task_id="b", template_id="t"),
            (
                PlannedBatch(
                    campaign_id=campaign_id,
                    batch_index=b,
                    serial_number=serial(b),
                    template_id="t",
                    content="x",
                    content_hash="h",
                    numbers=[f"13{n:09d}" for n in range(b * 1000, (b + 1) * 1000)],
                )
                for b in range(args.messages // 1000)
            ),
        )
        for b in range(args.messages // 1000):
            ledger.mark_sent(campaign_id, b, gateway_task_id="T", duplicate=False)
        if args.order == "random":
            chosen = random.sample(range(args.messages), args.receipts)
        else:
            chosen = list(range(args.receipts))
            for start in range(0, len(chosen), 20_000):
                window = chosen[start : start + 20_000]
                random.shuffle(window)
                chosen[start : start + 20_000] = window
        receipts = [Receipt(serial(i // 1000), f"13{i:09d}", 0 if i % 9 else 5) for i in chosen]
        started = time.perf_counter()
        matched = 0
        for start in range(0, len(receipts), args.page):
            matched += ledger.store_receipts(receipts[start : start + args.page]).matched
        elapsed = time.perf_counter() - started
        ledger.dispose()
    assert matched == len(receipts)
    backend = url.split(":", 1)[0]
    print(
        f"{backend}: {len(receipts):,} receipts ({args.order}, pages of {args.page}) over "
        f"{args.messages:,} messages: {len(receipts) / elapsed:,.0f} receipts/s"
    )


if __name__ == "__main__":
    main()
