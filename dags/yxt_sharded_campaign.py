"""Example: one large campaign in shards, on any number of workers, under one gateway pool.

200,000 repayment reminders (the ``recipients`` param) are split into 8 shards (``shards``) by
dynamic task mapping: each shard is a mapped ``SendSmsOperator`` that reads its slice of the
customer table and is its own campaign in the shared ledger, sent exactly once however often it
is retried and on whichever worker it runs. Every shard takes a slot of the ``yxt_gateway``
pool, which bounds how many talk to the gateway at once; the connection's
``max_requests_per_second`` is the account's limit and holds for all shards together. One
deferrable sensor waits for the receipts of every shard, and one report covers the campaign.

The first task fills ``yxt_example_customers`` in the ledger's database — your DAG points
``recipients_sql`` at your own table instead.

Needs: the connections ``yxt_default`` and ``yxt_ledger`` (a database every worker reaches:
PostgreSQL, MySQL/MariaDB), and the pool: ``airflow pools set yxt_gateway 3 "YXT gateway"``.
``scripts/celery-env.sh`` runs it on two Celery workers against the sandbox gateway; see
docs/deployment.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sensors.delivery import SmsDeliverySensor

LEDGER_CONN_ID = "yxt_ledger"
CUSTOMERS = "yxt_example_customers"
# Short for the demo; 60 s or more against a real gateway.
POKE_INTERVAL = timedelta(seconds=5)

with DAG(
    dag_id="yxt_sharded_campaign",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    tags=["yxt", "example"],
    params={
        "recipients": Param(200_000, type="integer", minimum=1, maximum=10_000_000),
        "shards": Param(8, type="integer", minimum=1, maximum=64),
    },
):

    @task
    def fill_customers(params: dict[str, Any] | None = None) -> int:
        """The example's stand-in for your customer database: ``recipients`` rows, each in a shard."""
        import sqlalchemy as sa

        from yxt_provider.hooks.ledger import open_ledger

        count, shards = int((params or {})["recipients"]), int((params or {})["shards"])
        table = sa.Table(
            CUSTOMERS,
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("mobile", sa.String(20), nullable=False),
            sa.Column("name", sa.String(50), nullable=False),
            sa.Column("amount", sa.Integer, nullable=False),
            sa.Column("shard", sa.Integer, nullable=False, index=True),
        )
        engine = open_ledger(LEDGER_CONN_ID).engine
        table.create(engine, checkfirst=True)
        names = ["张先生", "李女士", "王先生"]
        with engine.begin() as conn:
            filled = conn.execute(sa.select(sa.func.count(), sa.func.max(table.c.shard))).one()
            if tuple(filled) == (count, shards - 1):
                return count  # filled by an earlier run with the same params
            conn.execute(table.delete())
            for start in range(0, count, 50_000):  # in chunks: 200,000 rows at once is a lot of memory
                rows = [
                    {"id": i, "mobile": f"139{i:08d}", "name": names[i % 3], "amount": 500 + 100 * (i % 4),
                     "shard": i % shards}
                    for i in range(start, min(count, start + 50_000))
                ]  # fmt: skip
                conn.execute(table.insert(), rows)
        return count

    @task
    def shard_queries(params: dict[str, Any] | None = None) -> list[str]:
        """One query per shard: each mapped send reads only its slice of the table."""
        shards = int((params or {})["shards"])
        return [
            f"SELECT mobile, name, amount FROM {CUSTOMERS} WHERE shard = {n} ORDER BY id"
            for n in range(shards)
        ]

    # [START howto_sharded_campaign]
    send = SendSmsOperator.partial(
        task_id="send",
        content="【XX银行】{{ name }}您好，您本期应还{{ amount }}元，请于12月15日前还款。回复TD退订",
        template_id="1000000000003",
        recipients_conn_id=LEDGER_CONN_ID,  # any Airflow SQL connection: your database
        ledger_conn_id=LEDGER_CONN_ID,  # shared by every worker: not the embedded SQLite file
        pool="yxt_gateway",  # one slot per shard sending: bounds concurrent gateway calls
        retries=3,  # a shard killed with its worker is retried, and sends only what is missing
    ).expand(recipients_sql=shard_queries())

    wait = SmsDeliverySensor(
        task_id="wait_for_delivery",
        campaign_id=send.output,  # every shard's summary: waits for the whole campaign
        condition="delivered_share",  # over all shards together
        min_delivered_share=0.9,
        deferrable=True,  # waits in the triggerer, holding no worker slot
        poke_interval=POKE_INTERVAL,
        timeout=timedelta(hours=2),
        pending_timeout=timedelta(minutes=30),
        on_timeout="succeed",  # report whatever arrived
        ledger_conn_id=LEDGER_CONN_ID,
        trigger_rule="all_done",  # a shard that failed for good: still wait for the others
    )

    report = SmsDeliveryReportOperator(
        task_id="delivery_report",
        campaign_id=send.output,  # one report for every shard
        pending_timeout=timedelta(minutes=30),
        ledger_conn_id=LEDGER_CONN_ID,
        trigger_rule="all_done",  # also when a shard failed: what was sent, what was not, why
    )
    # [END howto_sharded_campaign]

    fill_customers() >> send
    wait >> report
