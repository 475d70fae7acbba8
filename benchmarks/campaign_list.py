"""How long the "SMS campaigns" view's read model takes on a PostgreSQL ledger of a million messages.

Seeds a fresh PostgreSQL database through the ledger's own API: ``--campaigns`` campaigns
(default 1,000) of ``--messages`` messages each (default 1,000, batches of up to 1000),
planned over four weeks by 20 DAGs (``create_plan``), most batches accepted (``mark_sent``,
some with numbers refused in ``failList``), a few never sent (not attempted, or refused
with a gateway code), receipts for most messages (about 85 % delivered, 10 % failed with
a handful of codes, the rest still pending; ``store_receipts``), and replies to about 2 %
of the messages, a fifth of them unsubscribe keywords (``store_replies``, which attributes
them to campaigns and adds the opt-outs). Then ``ANALYZE``, as the ledger does after a plan.

Measured, warm (one untimed call first), over ``--runs`` calls each: the list's first page
(50 per page), a page deep in it (offset 900), the list filtered by one DAG, the list for
a viewer who may read 18 of the 20 DAGs (the view asks the auth manager about the ledger's
DAGs only), and one campaign's
detail page. Prints the median and p95 of each; the first page's median is compared with
the 300 ms target, and the exit status is 1 when it is over.

Usage: ``python benchmarks/campaign_list.py [--campaigns 1000] [--messages 1000] [--runs 30]
[--postgres-url URL] [--keep]``. The database (``yxt_bench_<pid>_<random>``) is created on
the server of ``--postgres-url`` (default: ``$YXT_TEST_POSTGRES_URL`` or
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and dropped afterwards unless
``--keep`` is given (its name is printed). Seeding a million messages took 4.5 min on two
cores (PostgreSQL 15, shared_buffers 128 MB); the timed reads take 2–3 s per case in all.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.celery_stack import StackServices, _on_server
from tests.fixtures.ledger import postgres_base_url
from yxt_provider.client.models import Receipt, Reply
from yxt_provider.ledger import CampaignRecord, Ledger, PlannedBatch, dialects, schema
from yxt_provider.ledger.overview import campaign_detail, list_campaigns

TARGET_MS = 300.0
BATCH = 1000
DAGS = 20
RECEIPT_PAGE = 2_000
REPLY_PAGE = 500
# Failure result codes a receipt may carry (the gateway documents only 0; these are what
# carriers commonly return: unknown number, switched off, blocked, other).
FAILURE_CODES = (2, 3, 4, 99)
REPLY_TEXTS = ("好的", "收到", "几点到？", "1", "请打13812345678联系我", "谢谢")
OPT_OUT_TEXTS = ("TD", "退订", "T")
TEMPLATE = "2031012220113"


@contextmanager
def fresh_database(server_url: str, keep: bool) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``, dropped afterwards unless ``keep``."""
    name = f"yxt_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    services = StackServices(postgres=server_url)
    _on_server(services, f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            _on_server(services, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dag_name(k: int) -> str:
    """The k-th DAG that sends campaigns."""
    return f"sms_campaign_{k:02d}"


def seed(ledger: Ledger, campaigns: int, messages: int, rng: random.Random) -> list[str]:
    """Plan, send, receipt and answer ``campaigns`` campaigns; returns their ids, oldest first."""
    now = datetime.now(timezone.utc)
    # Recipients drawn from one audience, so numbers repeat across campaigns as they do in
    # practice, and a reply has several campaigns it could answer.
    audience = max(messages * 4, campaigns * messages // 4)
    ids: list[str] = []
    receipts: list[Receipt] = []
    replies: list[Reply] = []
    for no in range(campaigns):
        created = (
            now
            - timedelta(days=28)
            + timedelta(days=28) * no / campaigns
            + timedelta(seconds=rng.randrange(600))
        )
        dag_id = dag_name(rng.randrange(DAGS))
        mapped = rng.random() < 0.2
        campaign_id = f"{dag_id}.scheduled__{created:%Y-%m-%dT%H:%M:%S}.send.{no if mapped else -1}"
        numbers = [f"13{n:09d}" for n in rng.sample(range(audience), messages)]
        batches = [
            PlannedBatch(
                campaign_id=campaign_id, batch_index=b, serial_number=f"{no + 1:08d}{b:012d}",
                template_id=TEMPLATE, content="【示例】您的订单已发货，回TD退订", content_hash=f"h{no}",
                numbers=numbers[start : start + BATCH],
            )
            for b, start in enumerate(range(0, messages, BATCH))
        ]  # fmt: skip
        record = CampaignRecord(
            campaign_id=campaign_id, dag_id=dag_id, run_id=f"scheduled__{created:%Y-%m-%dT%H:%M:%S}",
            task_id="send", map_index=no if mapped else -1, template_id=TEMPLATE,
            source_fingerprint=f"fp-{no}", created_at=created, updated_at=created,
        )  # fmt: skip
        assert ledger.create_plan(record, batches)
        ids.append(campaign_id)
        unsent = 0
        for batch in batches:
            fate = rng.random()
            if fate < 0.015:  # planned, its turn not come yet
                unsent += 1
                continue
            if fate < 0.03:  # refused as a whole by the gateway
                ledger.mark_attempted(campaign_id, batch.batch_index)
                ledger.mark_batch_error(campaign_id, batch.batch_index, code=12, error="余额不足")
                unsent += 1
                continue
            refused = rng.sample(batch.numbers, 3) if rng.random() < 0.1 else []
            ledger.mark_attempted(campaign_id, batch.batch_index)
            ledger.mark_sent(campaign_id, batch.batch_index, gateway_task_id=f"T{no}", duplicate=False,
                             refused=refused)  # fmt: skip
            refused_set = set(refused)
            for number in batch.numbers:
                if number in refused_set:
                    continue
                outcome = rng.random()
                if outcome < 0.85:
                    receipts.append(Receipt(batch.serial_number, number, 0))
                elif outcome < 0.95:
                    receipts.append(Receipt(batch.serial_number, number, rng.choice(FAILURE_CODES)))
                # else: no receipt yet, pending
                if rng.random() < 0.02:
                    text = rng.choice(OPT_OUT_TEXTS) if rng.random() < 0.2 else rng.choice(REPLY_TEXTS)
                    at = now + timedelta(seconds=1 + rng.randrange(3600))
                    replies.append(Reply("1069000012345", text, at, number, reply_id=str(len(replies) + 1)))
        ledger.set_campaign_status(campaign_id, "sending" if unsent else "sent")
        # Receipts and replies arrive while later campaigns are planned, page by page.
        while len(receipts) >= RECEIPT_PAGE:
            ledger.store_receipts(receipts[:RECEIPT_PAGE])
            del receipts[:RECEIPT_PAGE]
    for start in range(0, len(receipts), RECEIPT_PAGE):
        ledger.store_receipts(receipts[start : start + RECEIPT_PAGE])
    # After every send, so that each reply is attributed to the last campaign that messaged its number.
    replies.sort(key=lambda reply: reply.reply_time)
    for start in range(0, len(replies), REPLY_PAGE):
        ledger.store_replies(replies[start : start + REPLY_PAGE])
    return ids


def analyze(engine: sa.Engine) -> None:
    """Fresh planner statistics: the ledger's own refresh (messages), and the tables it leaves out."""
    dialects.refresh_statistics(engine)
    with engine.connect() as conn:
        for table in (schema.campaigns, schema.batches, schema.replies, schema.opt_outs, schema.receipts):
            conn.exec_driver_sql(f"ANALYZE {table.name}")
        conn.commit()


def timed(call: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median and p95 of ``runs`` calls of ``call``, in ms, after one untimed (warming) call."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20, method="inclusive")[-1]


def main() -> None:
    """Seed a ledger, time the view's reads, and exit 1 when the first page misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=1_000)
    parser.add_argument("--messages", type=int, default=1_000, help="messages per campaign")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres-url", default=postgres_base_url())
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--seed", type=int, default=15, help="seed of the random status mix")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with fresh_database(args.postgres_url, args.keep) as url:
        ledger = Ledger.from_url(url)
        try:
            started = time.perf_counter()
            ids = seed(ledger, args.campaigns, args.messages, rng)
            analyze(ledger.engine)
            seeding = time.perf_counter() - started
            with ledger.engine.connect() as conn:
                size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
                counts = {
                    table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                    for table in (schema.messages, schema.receipts, schema.replies, schema.opt_outs)
                }
            print(
                f"seeded {args.campaigns:,} campaigns, {counts['yxt_messages']:,} messages, "
                f"{counts['yxt_receipts']:,} receipts, {counts['yxt_replies']:,} replies, "
                f"{counts['yxt_opt_outs']:,} opt-outs in {seeding:.0f} s; "
                f"database size {size / 2**20:,.0f} MiB"
            )
            engine = ledger.engine
            dags = [dag_name(k) for k in range(DAGS)]
            # What the view passes for a viewer who may read all but two of the ledger's DAGs: it
            # asks the auth manager about the ledger's DAGs, then lists those it allows.
            readable = set(dags[2:])
            # A campaign from the middle of the list, as a user clicking through would open.
            middle = ids[len(ids) // 2]
            deep = min(900, max(args.campaigns - 50, 0))
            cases: list[tuple[str, Callable[[], Any], bool]] = [
                ("campaign list (50 per page)", lambda: list_campaigns(engine, limit=50), True),
                (
                    f"campaign list (offset {deep})",
                    lambda: list_campaigns(engine, limit=50, offset=deep),
                    True,
                ),
                ("campaign list (one DAG)", lambda: list_campaigns(engine, limit=50, dag_id=dags[7]), True),
                (
                    f"campaign list ({len(readable)} of {DAGS} DAGs readable)",
                    lambda: list_campaigns(engine, limit=50, readable_dags=readable),
                    True,
                ),
                ("campaign detail", lambda: campaign_detail(engine, middle), False),
            ]
            first_page = 0.0
            for label, call, is_list in cases:
                median, p95 = timed(call, args.runs)
                first_page = first_page or median
                ratio = f" = {median / TARGET_MS:.2f}× the {TARGET_MS:.0f} ms target" if is_list else ""
                print(f"{label}: median {median:.1f} ms, p95 {p95:.1f} ms over {args.runs} runs{ratio}")
        finally:
            ledger.dispose()
    if first_page > TARGET_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
