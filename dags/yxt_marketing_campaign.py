"""Example: a marketing campaign held to the rules — opt-outs honoured, daytime only, a frequency cap.

Before the campaign, ``sync_opt_outs`` reads waiting replies into the ledger: a ``TD`` or
``退订`` puts its number on the opt-out list. ``record_refusals`` adds numbers that refused
another way (a call to the service desk; the ``refused_by_phone`` param, comma-separated).
``promote`` then sends with ``marketing=True``: before anything goes out it checks that the
text carries a 【signature】 and 回复TD退订, skips every opted-out number, and sends only
between 08:00 and 21:00 Beijing time — started outside that window, the task defers until
it opens, holding no worker. ``frequency_cap`` skips members who already got two messages
from this ledger in the last seven days. The report counts each kind of skip.

Uses ``yxt_default``, the SQL connection ``yxt_ledger`` and the sandbox's marketing template
``1000000000005`` (``【{sign}】{offer}回复TD退订``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from yxt_provider.operators.opt_outs import ManageOptOutsOperator
from yxt_provider.operators.replies import FetchRepliesOperator
from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator

LEDGER_CONN_ID = "yxt_ledger"
PROMOTION_TEMPLATE = "1000000000005"
MEMBERS = 100

with DAG(
    dag_id="yxt_marketing_campaign",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    tags=["yxt", "example"],
    params={
        "refused_by_phone": Param(
            "", type="string", description="Numbers that refused by phone, comma-separated"
        ),
        "send_window": Param(
            "08:00-21:00", type="string", description="When the campaign may send (Beijing time)"
        ),
    },
):

    @task
    def members() -> str:
        """The example's stand-in for your CRM: writes members and their names to a CSV; returns its path.

        The numbers travel in a file, not in XCom: XCom values are shown in the UI to everyone
        who may read the DAG, and a task's return value is logged.
        """
        from pathlib import Path

        from yxt_provider.hooks.ledger import default_ledger_url

        path = Path(default_ledger_url().removeprefix("sqlite:///")).with_name("yxt_example_members.csv")
        rows = ["phone,name"] + [f"137{i:08d},会员{i}" for i in range(MEMBERS)]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        return str(path)

    # [START howto_opt_outs]
    sync_opt_outs = FetchRepliesOperator(task_id="sync_opt_outs", ledger_conn_id=LEDGER_CONN_ID)
    record_refusals = ManageOptOutsOperator(
        task_id="record_refusals",
        add="{{ params.refused_by_phone }}",
        note="refused by phone to the service desk",
        ledger_conn_id=LEDGER_CONN_ID,
    )
    # [END howto_opt_outs]

    # [START howto_marketing_campaign]
    promote = SendSmsOperator(
        task_id="promote",
        recipients_file=members(),  # numbers in a file, not in XCom
        content="【XX商城】{{ name }}您好，12月12日会员日全场满200减30。回复TD退订",
        template_id=PROMOTION_TEMPLATE,
        ledger_conn_id=LEDGER_CONN_ID,
        marketing=True,  # signature and 回复TD退订 checked first; opt-outs always honoured
        send_window="{{ params.send_window }}",  # marketing's default is 08:00-21:00 Beijing time
        frequency_cap="2/7days",  # across every campaign of the ledger
    )
    # [END howto_marketing_campaign]

    report = SmsDeliveryReportOperator(
        task_id="report", campaign_id=promote.output, ledger_conn_id=LEDGER_CONN_ID, trigger_rule="all_done"
    )

    [sync_opt_outs, record_refusals] >> promote >> report
