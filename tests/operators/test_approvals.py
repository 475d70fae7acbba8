"""The SMS approval operators' construction, and how the REST hook reads Airflow's answers (its HTTP faked).

The real API server answers these calls in ``tests/e2e/test_sms_approval.py``; here each of
its answers is given, to pin down what the hook makes of the cases an e2e run rarely meets:
a task still running before it parks, a request that moved on to the next try, errors.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
import requests
from airflow.sdk import Param

from yxt_provider.hooks.airflow_api import AirflowApiError, AirflowApiHook
from yxt_provider.ledger.approval_store import Question
from yxt_provider.operators.approvals import SmsApprovalOperator, SmsHITLBranchOperator, SmsHITLOperator
from yxt_provider.replies.responder import SMS_ANSWER_PARAM, HitlRefused

QUESTION = Question(
    question_key="ti-1/1", ti_id="ti-1", dag_id="d", run_id="manual__2026-12-04T10:00:00+00:00", task_id="approve",
    map_index=-1, code="A", options=("Approve", "Reject"), multiple=False, state="open",
    asked_at=datetime(2026, 12, 4, tzinfo=timezone.utc),
)  # fmt: skip


def response(status: int, body: Any) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = json.dumps(body).encode()
    return made


class Hook(AirflowApiHook):
    """The hook with Airflow's answers given in turn; the calls it made kept."""

    def __init__(self, *answers: requests.Response) -> None:
        super().__init__("yxt_airflow_api")
        self.answers = list(answers)
        self.calls: list[tuple[str, str, Any]] = []

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.calls.append((method, path, kwargs.get("json")))
        return self.answers.pop(0)


def detail(state: str, *, ti_id: str = "ti-1", received: bool = False, **more: Any) -> dict[str, Any]:
    return {"task_instance": {"id": ti_id, "state": state}, "response_received": received, **more}


@pytest.mark.parametrize(
    ("body", "waiting"),
    [
        (detail("awaiting_input"), True),
        (detail("deferred"), True),  # Airflow 3.1/3.2: the task waits in HITLTrigger
        (detail("running"), True),  # the notifier texts before the task parks; Airflow keeps an early answer
        (detail("success"), False),
        (detail("up_for_retry"), False),
        (detail("awaiting_input", ti_id="ti-2"), False),  # the request has moved on to the next try
        (detail("awaiting_input", received=True, chosen_options=["Reject"]), False),
    ],
)
def test_what_counts_as_still_waiting(body: dict[str, Any], waiting: bool) -> None:
    hook = Hook(response(200, body))
    assert hook.status(QUESTION).waiting is waiting
    (method, path, _) = hook.calls[0]
    assert (method, path) == (
        "GET", "/dags/d/dagRuns/manual__2026-12-04T10%3A00%3A00%2B00%3A00/taskInstances/approve/-1/hitlDetails",
    )  # fmt: skip


def test_an_answer_of_ours_is_recognised_by_its_form_value() -> None:
    body = detail(
        "success", received=True, chosen_options=["Approve"], params_input={SMS_ANSWER_PARAM: "138****0001"}
    )
    status = Hook(response(200, body)).status(QUESTION)
    assert (status.answered_by_us, status.chosen) == (True, ("Approve",))
    assert Hook(response(404, {})).status(QUESTION).waiting is False


def test_answers_conflicts_refusals_and_outages() -> None:
    hook = Hook(
        response(200, {}),
        response(409, {}),
        response(403, {"detail": "user 13800000001 may not"}),
        response(503, {}),
    )
    assert hook.answer(QUESTION, ["Approve"], {SMS_ANSWER_PARAM: "138****0001 · A"}) is True
    assert hook.calls[0][2] == {
        "chosen_options": ["Approve"],
        "params_input": {SMS_ANSWER_PARAM: "138****0001 · A"},
    }
    assert hook.answer(QUESTION, ["Approve"], {}) is False
    with pytest.raises(
        HitlRefused, match=r"HTTP 403; the user of connection 'yxt_airflow_api' may not"
    ) as refused:
        hook.answer(QUESTION, ["Approve"], {})
    assert "13800000001" not in str(refused.value) and "138****0001" in str(refused.value)
    with pytest.raises(AirflowApiError, match="HTTP 503"):
        hook.answer(QUESTION, ["Approve"], {})


def test_the_operators_add_the_sms_notifier_to_airflows_own() -> None:
    approval = SmsApprovalOperator(task_id="a", subject="s", approvers="13800000001", template_id="t")
    assert approval.options == ["Approve", "Reject"]
    assert [type(n).__name__ for n in approval.notifiers] == ["YxtSmsApprovalNotifier"]
    branch = SmsHITLBranchOperator(
        task_id="b", subject="s", options=["x", "y"], options_mapping={"x": "t1"}, approvers=["13800000001"],
        template_id="t", notifiers=[approval.notifiers[0]],
    )  # fmt: skip
    assert len(branch.notifiers) == 2  # the DAG author's notifier is kept


def test_a_form_field_without_a_default_is_refused_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match=r"cannot fill the form fields \['reason'\]; give each a default"):
        SmsHITLOperator(
            task_id="c", subject="s", options=["ok"], params={"reason": Param(type="string")},
            approvers="13800000001", template_id="t",
        )  # fmt: skip
    SmsHITLOperator(
        task_id="d", subject="s", options=["ok"], params={"reason": Param("none", type="string")},
        approvers="13800000001", template_id="t",
    )  # fmt: skip
