"""Example: a data release approved by text message, on Airflow's human-in-the-loop.

``yxt_sms_approval``: the release is prepared, then ``approve_release`` waits for a person —
in Airflow's UI, or by SMS: the approvers get ``【Airflow】审批 发布 2026-12-04 的数据？：回复 A1 发布，
A2 推迟`` and answer ``A1`` (or ``1``, or ``发布``). The chosen option's branch runs; after
four hours without an answer Airflow takes the default, ``推迟``.

``yxt_sms_approval_responder``: runs whenever replies arrive (the ``yxt_replies`` asset,
watched by ``YxtRepliesTrigger`` in the triggerer) and answers the waiting requests through
Airflow's REST API, as the user of the ``yxt_airflow_api`` connection. Only the approvers'
numbers can answer; the first answer wins, by SMS or in the UI.

The approvers' numbers come from the Variable ``release_approvers`` (comma-separated). Uses
``yxt_default``, ``yxt_airflow_api`` (an ``http`` connection: the API server's URL, a user
with role ``user`` or more, its password) and the embedded SQLite ledger. If you already run
``dags/yxt_replies.py``, schedule the responder on ``Asset("yxt_replies")`` from there instead
of a second watcher.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from yxt_provider.operators.approvals import SmsApprovalResponderOperator, SmsHITLBranchOperator
from yxt_provider.triggers.replies import YxtRepliesTrigger

# The sandbox's alert template, 【Airflow】{alert}: register one like it with your gateway.
ALERT_TEMPLATE = "1000000000004"

with DAG(
    dag_id="yxt_sms_approval",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    tags=["yxt", "example"],
):

    @task
    def prepare_release() -> int:
        """Stand-in for the real work: the rows the release would publish."""
        return 1200

    # [START howto_operator_sms_hitl_branch]
    approve = SmsHITLBranchOperator(
        task_id="approve_release",
        # run_after, not ds: a run triggered by hand has no logical date in Airflow 3.
        subject="发布 {{ dag_run.run_after.strftime('%Y-%m-%d') }} 的数据？",
        body="{{ ti.xcom_pull(task_ids='prepare_release') }} rows are ready to publish.",
        options=["发布", "推迟"],
        options_mapping={"发布": "publish", "推迟": "postpone"},
        defaults="推迟",
        response_timeout=timedelta(hours=4),
        # From an Airflow Variable, which only admins set: not a run parameter, or whoever
        # triggers a run could make their own number the approver.
        approvers="{{ var.value.release_approvers }}",
        template_id=ALERT_TEMPLATE,
    )
    # [END howto_operator_sms_hitl_branch]

    @task
    def publish() -> str:
        return "published"

    @task
    def postpone() -> str:
        return "postponed"

    prepare_release() >> approve >> [publish(), postpone()]

# [START howto_operator_sms_approval_responder]
REPLIES = Asset(
    "yxt_replies",
    watchers=[
        AssetWatcher(
            name="yxt_sms_approval_replies",
            trigger=YxtRepliesTrigger(yxt_conn_id="yxt_default", poll_interval=5),
        )
    ],
)

with DAG(
    dag_id="yxt_sms_approval_responder",
    schedule=[REPLIES],
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["yxt", "example"],
):
    SmsApprovalResponderOperator(task_id="answer_approvals", airflow_api_conn_id="yxt_airflow_api")
# [END howto_operator_sms_approval_responder]
