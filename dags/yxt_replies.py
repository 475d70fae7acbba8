"""Example: act on inbound replies as they arrive (event-driven scheduling, Airflow 3).

The asset ``yxt_replies`` is watched by ``YxtRepliesTrigger`` in the triggerer: it polls the
gateway, stores each page of replies in the ledger, confirms it, and then updates the
asset. This DAG runs on the asset and takes from the ledger every reply it has not handled
yet (``Ledger.take_replies``):

- a patient who answers "1" (or 确认/是) gets their appointment marked confirmed, in the
  table ``yxt_example_appointments`` that the DAG keeps in the ledger's database;
- any other reply is logged for follow-up, the number masked and the text left out.

The confirmations and the "handled" marks commit in one transaction, so a lost event only
delays the work to the next one, and a repeated event (or a second run) handles nothing twice.
Uses ``yxt_default`` and the embedded SQLite ledger (set ``LEDGER_CONN_ID`` for a shared one).
The watcher runs only while this DAG is unpaused.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from yxt_provider.triggers.replies import YxtRepliesTrigger

LEDGER_CONN_ID: str | None = None
CONSUMER = "yxt_replies_example"
CONFIRMING = frozenset({"1", "确认", "是", "y", "yes"})
# [START howto_trigger_yxt_replies]
# The trigger's kwargs identify the watcher: change them and Airflow starts a new trigger.
REPLIES = Asset(
    "yxt_replies",
    watchers=[
        AssetWatcher(
            name="yxt_replies_watcher",
            trigger=YxtRepliesTrigger(
                yxt_conn_id="yxt_default", ledger_conn_id=LEDGER_CONN_ID, poll_interval=5
            ),
        )
    ],
)
# [END howto_trigger_yxt_replies]

log = logging.getLogger(__name__)

# [START howto_dag_on_replies]
with DAG(
    dag_id="yxt_replies",
    schedule=[REPLIES],
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["yxt", "example"],
):
    # [END howto_dag_on_replies]

    @task
    def handle_replies() -> dict[str, Any]:
        """Confirm appointments answered "1"; log the rest for follow-up (masked)."""
        import sqlalchemy as sa

        from yxt_provider.client.numbers import mask_number
        from yxt_provider.hooks.ledger import open_ledger

        ledger = open_ledger(LEDGER_CONN_ID)
        appointments = sa.Table(
            "yxt_example_appointments",
            sa.MetaData(),
            sa.Column("phone", sa.String(20), primary_key=True),
            sa.Column("campaign_id", sa.String(250), nullable=True),
            sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        )
        appointments.create(ledger.engine, checkfirst=True)
        handled = confirmed = 0
        # [START howto_take_replies]
        while True:
            with ledger.take_replies(CONSUMER) as batch:
                for reply in batch.replies:
                    if reply.content.strip().casefold() in CONFIRMING:
                        values = {"campaign_id": reply.campaign_id, "confirmed_at": reply.reply_time}
                        updated = batch.connection.execute(
                            appointments.update()
                            .where(appointments.c.phone == reply.user_number)
                            .values(**values)
                        )
                        if updated.rowcount == 0:
                            batch.connection.execute(
                                appointments.insert().values(phone=reply.user_number, **values)
                            )
                        confirmed += 1
                    else:
                        log.info(
                            "Reply from %s (campaign %s) needs follow-up: %d characters",
                            mask_number(reply.user_number), reply.campaign_id, len(reply.content),
                        )  # fmt: skip
                handled += len(batch.replies)
            if not batch.replies:
                break
        # [END howto_take_replies]
        log.info("Handled %d replies: %d appointments confirmed", handled, confirmed)
        return {"handled": handled, "confirmed": confirmed}

    handle_replies()
