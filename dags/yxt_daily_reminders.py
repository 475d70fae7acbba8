"""Example: daily appointment reminders — one campaign per logical date, safe to re-run and catch up.

Every evening at 18:00 Beijing time, patients with an appointment the next day get a
reminder. The campaign id is the run's logical date (``reminders-{{ ds }}``), so re-running
or clearing a day sends nothing twice, and catching up missed days sends each day once. The
clinic is closed on Sundays: Saturday's run finds no one, and ``allow_empty=True`` lets it
succeed with nothing sent (leave it out to have such a day fail instead).

The example keeps its appointment book in the table ``yxt_example_appointment_book`` of the
ledger's database, filled by its first task; your DAG reads your own table instead. Needs
the SQL connection ``yxt_ledger`` (for instance ``AIRFLOW_CONN_YXT_LEDGER='sqlite:////…/ledger.db'``
or a PostgreSQL URI) and ``yxt_default``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from yxt_provider.operators.sms import SendSmsOperator

LEDGER_CONN_ID = "yxt_ledger"
PATIENTS_PER_DAY = 20

with DAG(
    dag_id="yxt_daily_reminders",
    schedule="0 18 * * *",
    start_date=pendulum.datetime(2026, 11, 30, tz="Asia/Shanghai"),
    catchup=True,  # missed evenings are sent when the scheduler catches up, each once
    max_active_runs=1,
    tags=["yxt", "example"],
):

    @task
    def book_appointments(ds: str | None = None) -> int:
        """The example's stand-in for your booking system: tomorrow's appointments (none on Sundays)."""
        import sqlalchemy as sa

        from yxt_provider.hooks.ledger import open_ledger

        tomorrow = pendulum.parse(str(ds)).add(days=1)
        book = sa.Table(
            "yxt_example_appointment_book",
            sa.MetaData(),
            sa.Column("phone", sa.String(20), primary_key=True),
            sa.Column("day", sa.String(10), primary_key=True),
            sa.Column("name", sa.String(50), nullable=False),
            sa.Column("at", sa.String(5), nullable=False),
        )
        engine = open_ledger(LEDGER_CONN_ID).engine
        book.create(engine, checkfirst=True)
        if tomorrow.day_of_week == pendulum.SUNDAY:
            return 0
        day = tomorrow.to_date_string()
        rows = [
            {
                "phone": f"139{tomorrow.day_of_year:03d}{i:05d}",
                "day": day,
                "name": f"患者{i}",
                "at": f"{9 + i % 8}:00",
            }
            for i in range(PATIENTS_PER_DAY)
        ]
        with engine.begin() as conn:
            conn.execute(book.delete().where(book.c.day == day))  # re-runs rewrite the same day
            conn.execute(book.insert(), rows)
        return len(rows)

    # [START howto_dag_daily_reminders]
    remind = SendSmsOperator(
        task_id="remind",
        recipients_sql=(
            "SELECT phone, name, at FROM yxt_example_appointment_book WHERE day = '{{ macros.ds_add(ds, 1) }}'"
        ),
        recipients_conn_id=LEDGER_CONN_ID,
        ledger_conn_id=LEDGER_CONN_ID,
        content="【XX医院】{{ name }}您好，您预约的门诊将于明天{{ at }}开始，请准时到达。",
        template_id="1000000000001",
        campaign_id="reminders-{{ ds }}",  # one campaign per day: re-runs and clears send nothing twice
        allow_empty=True,  # Saturday's run finds no one (closed on Sundays): succeed with nothing sent
    )
    # [END howto_dag_daily_reminders]

    book_appointments() >> remind
