"""Example: a personalised batch notification read from a SQL table, tracked to a report.

The first task creates and fills a small table of repayment notices
(``yxt_example_repayments``) in the ledger's database — your DAG points ``recipients_sql``
at your own table instead. ``SendSmsOperator`` reads the rows through the SQL connection,
one column the number and the others template variables; recipients whose text comes out
the same share a request. The report follows the send whatever happened to it.

Needs the SQL connection ``yxt_ledger`` and ``yxt_default``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator

LEDGER_CONN_ID = "yxt_ledger"

with DAG(
    dag_id="yxt_sql_notification",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    tags=["yxt", "example"],
):

    @task
    def fill_repayments() -> int:
        """The example's stand-in for your loan system: 300 repayment notices."""
        import sqlalchemy as sa

        from yxt_provider.hooks.ledger import open_ledger

        table = sa.Table(
            "yxt_example_repayments",
            sa.MetaData(),
            sa.Column("mobile", sa.String(20), primary_key=True),
            sa.Column("name", sa.String(50), nullable=False),
            sa.Column("amount", sa.Integer, nullable=False),
            sa.Column("due", sa.String(10), nullable=False),
        )
        engine = open_ledger(LEDGER_CONN_ID).engine
        table.create(engine, checkfirst=True)
        rows = [
            {"mobile": f"137{i:08d}", "name": ["张先生", "李女士", "王先生"][i % 3], "amount": 500 + 100 * (i % 4),
             "due": "12月15日"}
            for i in range(300)
        ]  # fmt: skip
        with engine.begin() as conn:
            conn.execute(table.delete())
            conn.execute(table.insert(), rows)
        return len(rows)

    # [START howto_dag_sql_notification]
    send = SendSmsOperator(
        task_id="send",
        recipients_sql="SELECT mobile, name, amount, due FROM yxt_example_repayments",
        recipients_conn_id=LEDGER_CONN_ID,  # any Airflow SQL connection: your database
        ledger_conn_id=LEDGER_CONN_ID,
        content="【XX银行】{{ name }}您好，您本期应还{{ amount }}元，请于{{ due }}前还款。回复TD退订",
        template_id="1000000000003",
    )
    report = SmsDeliveryReportOperator(
        task_id="report",
        campaign_id=send.output,
        ledger_conn_id=LEDGER_CONN_ID,
        trigger_rule="all_done",  # also after a failed send: what was sent, what was not, why
    )
    # [END howto_dag_sql_notification]

    fill_repayments() >> send >> report
