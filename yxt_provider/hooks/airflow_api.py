"""``AirflowApiHook``: answers human-in-the-loop requests through Airflow's own REST API.

The one supported way for anything but the UI to answer a HITL request is the public API's
``PATCH /api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/{map_index}/hitlDetails``:
the API server records the answer and, on Airflow 3.3, resumes the waiting task itself
(on 3.1 and 3.2 the task's ``HITLTrigger`` sees the answer at its next poll). The execution
API's HITL routes accept only the task's own token, and writing Airflow's tables would skip
its checks, so the responder calls the public API as an Airflow user of its own.

The connection (default ``yxt_airflow_api``, type ``http``) names the API server and that
user: ``host`` the base URL (``http://airflow-api:8080``), ``login``/``password`` a user with
permission to answer HITL requests of the DAGs concerned (SimpleAuthManager: role ``user``);
the token comes from ``POST /auth/token``. An auth manager without that endpoint: put a
token in the extra as ``{"token": "..."}``. Airflow's UI then shows this user as the one who
answered, beside the form value ``sms_answer`` with the approver's masked number and time.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from functools import cache, cached_property
from typing import Any
from urllib.parse import quote

import requests
from airflow.sdk import BaseHook

from yxt_provider.client.numbers import mask_numbers_in_text
from yxt_provider.get_provider_info import DEFAULT_AIRFLOW_API_CONN_ID
from yxt_provider.ledger.approval_store import Question
from yxt_provider.replies.responder import SMS_ANSWER_PARAM, HitlRefused, HitlStatus

__all__ = ["DEFAULT_AIRFLOW_API_CONN_ID", "AirflowApiError", "AirflowApiHook"]

# A task instance in one of these states can no longer take an answer. Any other (running:
# the notifier texts before the task parks; awaiting_input; deferred on 3.1/3.2) still can:
# Airflow keeps an answer given before the task parks and resumes it when it does.
_FINISHED_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed", "up_for_retry"})
_TIMEOUT = (5.0, 30.0)
# The standard provider release whose HITL operators were tested to accept a form value they
# did not ask for (the masked number of the SMS answer); before it, only the request's own fields.
_EXTRA_FORM_VALUES_SINCE = (1, 21)


class AirflowApiError(RuntimeError):
    """Airflow's API refused or failed a call; the message says which call and how to fix it."""


class AirflowApiHook(BaseHook):
    """Reads and answers HITL requests through Airflow's REST API, as the user of ``airflow_api_conn_id``.

    :param airflow_api_conn_id: an ``http`` connection: the API server's URL, a user and password
        (or ``{"token": ...}`` in the extra).
    """

    conn_name_attr = "airflow_api_conn_id"
    default_conn_name = DEFAULT_AIRFLOW_API_CONN_ID
    hook_name = "Airflow REST API (YXT SMS approvals)"

    def __init__(self, airflow_api_conn_id: str = DEFAULT_AIRFLOW_API_CONN_ID) -> None:
        super().__init__()
        self.airflow_api_conn_id = airflow_api_conn_id
        self._token: str | None = None

    @cached_property
    def _connection(self) -> Any:
        return self.get_connection(self.airflow_api_conn_id)

    @cached_property
    def base_url(self) -> str:
        """The API server's base URL, from the connection's host (scheme and port included)."""
        conn = self._connection
        host = (conn.host or "").rstrip("/")
        if not host:
            raise AirflowApiError(
                f"connection {self.airflow_api_conn_id!r} has no host: set it to the API server's URL, "
                "e.g. http://localhost:8080"
            )
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}" + (f":{conn.port}" if conn.port else "")
        return host

    @cached_property
    def session(self) -> requests.Session:
        """One HTTP session (keep-alive) for every call."""
        return requests.Session()

    def _login(self) -> str:
        conn = self._connection
        extra = conn.extra_dejson or {}
        if extra.get("token"):
            return str(extra["token"])
        if not conn.login:
            raise AirflowApiError(
                f"connection {self.airflow_api_conn_id!r} has neither a login nor a token in its extra: "
                "give the user the responder answers as"
            )
        response = self.session.post(
            f"{self.base_url}/auth/token",
            json={"username": conn.login, "password": conn.password or ""},
            timeout=_TIMEOUT,
        )
        if response.status_code not in (200, 201):
            raise AirflowApiError(
                f"Airflow refused the login of {conn.login!r} (HTTP {response.status_code}) on "
                f"{self.base_url}/auth/token: check the login and password of connection "
                f"{self.airflow_api_conn_id!r}"
            )
        return str(response.json()["access_token"])

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login()
            response = self.session.request(
                method, f"{self.base_url}/api/v2{path}", headers={"Authorization": f"Bearer {self._token}"},
                timeout=_TIMEOUT, **kwargs,
            )  # fmt: skip
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired: log in once more
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _path(question: Question) -> str:
        parts = (question.dag_id, question.run_id, question.task_id)
        dag, run, task = (quote(p, safe="") for p in parts)
        return f"/dags/{dag}/dagRuns/{run}/taskInstances/{task}/{question.map_index}/hitlDetails"

    def status(self, question: Question) -> HitlStatus:
        """Where the question's request stands: waiting, its form fields, answered by this user."""
        response = self._call("GET", self._path(question))
        if response.status_code == 404:
            return HitlStatus(waiting=False)  # cleared, or no longer a HITL task
        self._raise_for(response, "read the HITL request of", question)
        detail = response.json()
        ti = detail.get("task_instance") or {}
        params_input = detail.get("params_input") or {}
        by = (detail.get("responded_by_user") or {}).get("id")
        # Airflow 3 gives every try a new id, and the request follows the task to its next try:
        # a question asked by an earlier try is not answerable by this one's request.
        same_try = str(ti.get("id", question.ti_id)) == question.ti_id
        return HitlStatus(
            waiting=same_try
            and not detail.get("response_received")
            and ti.get("state") not in _FINISHED_STATES,
            params=detail.get("params") or {},
            answered_by_us=bool(detail.get("response_received"))
            and (SMS_ANSWER_PARAM in params_input or (by is not None and by == self._user_id())),
            chosen=tuple(detail["chosen_options"]) if detail.get("chosen_options") else None,
        )

    def answer(self, question: Question, options: Sequence[str], params_input: Mapping[str, Any]) -> bool:
        """Answer the request with ``options``; ``False`` when it was answered already (HTTP 409).

        :raises HitlRefused: when Airflow refuses the answer itself (400, 403, 404, 422).
        :raises AirflowApiError: when Airflow cannot take it now (5xx): the batch is tried again later.
        """
        values = dict(params_input)
        if SMS_ANSWER_PARAM in values and not _extra_form_values_accepted():
            del values[SMS_ANSWER_PARAM]
        body = {"chosen_options": list(options), "params_input": values}
        response = self._call("PATCH", self._path(question), json=body)
        if response.status_code == 409:
            return False
        if response.status_code in (400, 403, 404, 422):
            raise HitlRefused(self._describe(response, "answer the HITL request of", question))
        self._raise_for(response, "answer the HITL request of", question)
        return True

    def _user_id(self) -> str | None:
        """The token's subject (the user's id), read without checking the signature (the server did)."""
        if not self._token or self._token.count(".") != 2:
            return None
        payload = self._token.split(".")[1]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        return str(claims.get("sub")) if isinstance(claims, dict) and claims.get("sub") is not None else None

    def _raise_for(self, response: requests.Response, what: str, question: Question) -> None:
        if not response.ok:
            raise AirflowApiError(self._describe(response, what, question))

    def _describe(self, response: requests.Response, what: str, question: Question) -> str:
        where = f"{question.dag_id}.{question.task_id} (run {question.run_id})"
        hint = {
            403: f"the user of connection {self.airflow_api_conn_id!r} may not answer HITL requests of this DAG",
            400: "Airflow refused the answer",
        }.get(response.status_code, "")
        # Airflow's error bodies can echo what was sent (form values): no number in full.
        detail = mask_numbers_in_text(response.text[:300])
        return f"could not {what} {where}: HTTP {response.status_code}{'; ' + hint if hint else ''}: {detail}"


@cache  # the installed provider does not change while the process runs
def _extra_form_values_accepted() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = tuple(int(part) for part in version("apache-airflow-providers-standard").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return release >= _EXTRA_FORM_VALUES_SINCE
