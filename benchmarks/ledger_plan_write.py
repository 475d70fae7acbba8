"""Rows/s of ``Ledger.create_plan`` for a million-recipient plan (SQLite by default).

Usage: ``python benchmarks/ledger_plan_write.py [--rows 1000000] [--url sqlite:///...]``
(without ``--url``, a temporary SQLite file is used and removed afterwards).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from yxt_provider.ledger import CampaignRecord, Ledger, PlannedBatch


def batches(campaign_id: str, rows: int, size: int) -> Iterator[PlannedBatch]:
    """Lazily generated batches of synthetic, distinct numbers."""
    for index, start in enumerate(range(0, rows, size)):
        yield PlannedBatch(
            campaign_id=campaign_id,
            batch_index=index,
            serial_number=f"{int(time.time()) % 10**8:08d}{index:012d}",
            template_id="2031012220113",
            content="您的验证码为 4578，有效期为30分钟。",
            content_hash="bench",
            numbers=[f"13{n:09d}" for n in range(start, min(start + size, rows))],
        )


def main() -> None:
    """Write one plan and print the rate."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        ledger = Ledger.from_url(url)
        campaign_id = f"bench.plan.{time.time_ns()}"
        campaign = CampaignRecord(
            campaign_id=campaign_id, dag_id="bench", run_id="bench", task_id="plan", template_id="t"
        )
        started = time.perf_counter()
        assert ledger.create_plan(campaign, batches(campaign_id, args.rows, args.batch_size))
        elapsed = time.perf_counter() - started
        ledger.dispose()
    backend = url.split(":", 1)[0]
    print(f"{backend}: {args.rows:,} message rows in {elapsed:.1f} s = {args.rows / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main()
