"""The campaigns view in process: its parts, its plugin registration, and its pages over a real SQLite ledger.

Authentication is the one thing replaced here (by a viewer of chosen DAGs); the real API
server's authentication is tested in ``tests/e2e/test_campaigns_view.py``, and
:func:`test_every_route_requires_a_viewer` keeps any route from escaping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.fixtures.tasks import FULL_MOBILE
from tests.ledger.conftest import make_batches, make_campaign, phone, serial
from yxt_provider.client.models import Receipt, Reply
from yxt_provider.get_provider_info import get_provider_info
from yxt_provider.ledger import Ledger
from yxt_provider.ledger.overview import ReceiptBucket
from yxt_provider.operators.links import SmsCampaignLink
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.plugins import auth, charts, labels
from yxt_provider.plugins.app import create_app
from yxt_provider.plugins.auth import viewer
from yxt_provider.plugins.campaigns import YxtCampaignsPlugin

# -- labels --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "en"),
        ("zh-CN", None, None, "zh-Hans"),
        (None, "zh-TW", "en", "zh-Hans"),
        (None, "fr", "zh-CN,zh;q=0.9,en;q=0.8", "en"),
        (None, None, "fr, zh-CN;q=0.9, en;q=0.8", "zh-Hans"),
        (None, None, "fr-FR, en;q=0.5, zh;q=0.4", "en"),
        (None, None, "en;q=0.3, zh-Hans;q=0.9", "zh-Hans"),
        (None, None, "zh;q=0, en", "en"),
        ("de", None, "ja", "en"),
        (None, None, "zh;q=abc, en", "en"),
    ],
)
def test_the_language_follows_query_cookie_then_accept_language(
    query: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert labels.language_of(query, cookie, accept) == expected


def test_both_languages_have_every_label_and_none_hides_a_dict_method() -> None:
    english, chinese = (set(labels.LANGUAGES[lang]) for lang in ("en", "zh-Hans"))
    assert english == chinese
    # Templates read labels as t.name, which Jinja resolves to a dict method first (t.clear).
    assert not {key for key in english if hasattr(dict, key)}


# -- the chart -----------------------------------------------------------------------------------


def test_the_chart_draws_every_count_and_escapes_its_text() -> None:
    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    buckets = [ReceiptBucket(t0 + timedelta(minutes=5 * i), delivered=d, failed=f) for i, (d, f) in
               enumerate([(10, 2), (0, 0), (3, 0), (0, 7)])]  # fmt: skip
    svg = charts.receipts_svg(buckets, {**labels.LANGUAGES["en"], "receipts": "<x>"})
    assert sum(int(n) for n in re.findall(r'data-delivered="(\d+)"', svg)) == 13
    assert sum(int(n) for n in re.findall(r'data-failed="(\d+)"', svg)) == 9
    assert 'aria-label="&lt;x&gt;"' in svg and "<x>" not in svg
    heights = [float(h) for h in re.findall(r'class="(?:delivered|failed)"[^>]*height="([\d.]+)"', svg)]
    assert max(heights) == pytest.approx(220 - 12 - 34 - 0, rel=0.2)  # the tallest bar fills the plot


@pytest.mark.parametrize(
    ("seconds", "text"), [(60, "1 min"), (900, "15 min"), (3600, "1 h"), (604800, "7 d")]
)
def test_bar_widths_read_as_people_say_them(seconds: int, text: str) -> None:
    assert charts.bucket_width_label(seconds, labels.LANGUAGES["en"]) == text


# -- registration --------------------------------------------------------------------------------


def test_airflow_loads_the_plugin_from_its_entry_point() -> None:
    from airflow._shared.plugins_manager import _load_entrypoint_plugins

    plugins, errors = _load_entrypoint_plugins()
    assert not errors
    (ours,) = [p for p in plugins if p.name == "yxt_sms_campaigns"]
    assert isinstance(ours, YxtCampaignsPlugin)
    # Lazy provider discovery ignores a provider's "plugins" key: the entry point is the one way.
    assert "plugins" not in get_provider_info()


def test_the_plugins_views_and_app_have_the_shape_airflow_reads() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse, FastAPIAppResponse

    plugin = YxtCampaignsPlugin()
    views = [ExternalViewResponse(**view) for view in plugin.external_views]
    assert {(v.destination, v.url_route) for v in views} == {
        ("nav", "sms-campaigns"),
        ("dag", "sms-campaigns-dag"),
    }
    (app,) = plugin.fastapi_apps
    FastAPIAppResponse(**{**app, "app": "x"})
    assert app["url_prefix"] == "/yxt"
    assert plugin.fastapi_apps[0]["app"] is app["app"]  # built once


def test_every_route_requires_a_viewer() -> None:
    def dependencies(dependant: object) -> set[object]:
        found = set()
        for sub in getattr(dependant, "dependencies", []):
            found.add(sub.call)
            found |= dependencies(sub)
        return found

    app = create_app()
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    # Nothing but these six routes (FastAPI's own /docs and /openapi.json are off, no mounts).
    assert len(routes) == 6 == len(app.routes)
    for route in routes:
        assert viewer in dependencies(route.dependant), route.path


def test_the_send_operator_links_to_its_campaign() -> None:
    assert any(isinstance(link, SmsCampaignLink) for link in SendSmsOperator.operator_extra_links)
    ti = SimpleNamespace(dag_id="d", run_id="manual__2026-12-01T08:00:00+00:00", task_id="send", map_index=3)
    url = SmsCampaignLink().get_link(None, ti_key=ti)
    assert url.endswith(
        "/plugin/sms-campaigns/yxt/task?dag_id=d&run_id=manual__2026-12-01T08%3A00%3A00%2B00%3A00&task_id=send&map_index=3"
    )


# -- the pages over a real ledger ---------------------------------------------------------------


@pytest.fixture
def seeded(sqlite_ledger: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """A SQLite ledger named by ``[yxt] ledger_conn_id``: campaign c1 of DAG "reminders" (receipts, replies), c2 of "alerts"."""
    monkeypatch.setenv("AIRFLOW__YXT__LEDGER_CONN_ID", "yxt_ledger")
    monkeypatch.setenv("AIRFLOW__YXT__RESULT_MEANINGS", '{"7": "空号"}')
    ledger = Ledger.from_url(sqlite_ledger)
    assert ledger.create_plan(make_campaign("c1", dag_id="reminders"), make_batches("c1", [4, 2]))
    ledger.mark_sent("c1", 0, gateway_task_id="A", duplicate=False)
    ledger.store_receipts([Receipt(serial(1, 0), phone(0), 0), Receipt(serial(1, 0), phone(1), 7)])
    now = datetime.now(timezone.utc)
    ledger.store_replies(
        [Reply("10690001", "改天吧，打 13912345678", now, phone(0)), Reply("10690001", "退订", now, phone(2))]
    )
    assert ledger.create_plan(
        make_campaign("c2", dag_id="alerts", source_fingerprint="fp-2"),
        make_batches("c2", [1], campaign_no=2, start=9),
    )
    yield ledger
    ledger.dispose()


class FakeAuthManager:
    """An auth manager whose one valid token is "good", for a user who may read ``dags``."""

    def __init__(self, dags: frozenset[str]) -> None:
        self.dags = dags

    async def get_user_from_token(self, token: str) -> object:
        from jwt import InvalidTokenError

        if token != "good":
            raise InvalidTokenError("not our token")
        return SimpleNamespace(get_id=lambda: "u1", get_name=lambda: "viewer")

    def filter_authorized_dag_ids(self, *, dag_ids: set[str], user: object, method: str) -> set[str]:
        assert method == "GET"
        return dag_ids & self.dags

    def get_url_login(self, **kwargs: str) -> str:
        return "/auth/login?" + urlencode({"next": kwargs["next_url"]})


@pytest.fixture
def auth_manager(monkeypatch: pytest.MonkeyPatch) -> FakeAuthManager:
    """Airflow's get_user and the view both ask this auth manager (the global one, as in the API server)."""
    import airflow.api_fastapi.core_api.security as security

    fake = FakeAuthManager(frozenset({"reminders"}))
    monkeypatch.setattr(security, "get_auth_manager", lambda: fake)
    monkeypatch.setattr(auth, "get_auth_manager", lambda: fake)
    return fake


def client_for(*dags: str, token: str | None = "good") -> TestClient:
    """A client of the view logged in with ``token`` (``None``: not logged in)."""
    client = TestClient(create_app())
    if token is not None:
        client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_the_list_page_shows_readable_campaigns_in_both_languages(
    seeded: Ledger, auth_manager: FakeAuthManager
) -> None:
    client = client_for()
    english = client.get("/campaigns")
    assert english.status_code == 200
    assert 'data-campaign-id="c1"' in english.text and 'data-campaign-id="c2"' not in english.text
    assert '<td class="num" data-field="recipients">6</td>' in english.text
    assert '<td class="num" data-field="delivered_pct">16.7%</td>' in english.text
    assert '<td class="num" data-field="opt_outs">1</td>' in english.text
    assert "Delivered" in english.text and "built-in method" not in english.text
    chinese = client.get("/campaigns", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "短信活动" in chinese.text and "已送达" in chinese.text and 'lang="zh-Hans"' in chinese.text
    assert (
        client.get(
            "/campaigns", cookies={labels.LANGUAGE_COOKIE: "en"}, headers={"Accept-Language": "zh"}
        ).text.count("短信活动")
        == 0
    )


def test_the_campaign_page_masks_every_number(seeded: Ledger, auth_manager: FakeAuthManager) -> None:
    page = client_for().get("/campaigns/c1")
    assert page.status_code == 200
    assert "failed (code 7: 空号)" in page.text
    assert "138****0000" in page.text and "139****5678" in page.text
    assert not FULL_MOBILE.search(page.text)
    assert '<svg class="chart"' in page.text
    assert 'href="/dags/reminders/runs/run/tasks/task" target="_top"' in page.text


def test_campaigns_of_other_dags_are_not_found(seeded: Ledger, auth_manager: FakeAuthManager) -> None:
    client = client_for()
    not_found = client.get("/campaigns/c2")
    assert not_found.status_code == 404 and not_found.headers["content-type"].startswith("text/html")
    assert client.get("/api/campaigns/c2").status_code == 404
    assert client.get("/api/campaigns", params={"dag_id": "alerts"}).json()["total_entries"] == 0
    assert (
        client.get("/task", params={"dag_id": "alerts", "run_id": "run", "task_id": "task"}).status_code
        == 404
    )


def test_the_task_page_redirects_to_its_campaign(seeded: Ledger, auth_manager: FakeAuthManager) -> None:
    response = client_for().get(
        "/task", params={"dag_id": "reminders", "run_id": "run", "task_id": "task"}, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/campaigns/c1")


def test_a_ledger_without_tables_is_explained_not_an_error(
    sqlite_ledger: str, auth_manager: FakeAuthManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__YXT__LEDGER_CONN_ID", "yxt_ledger")
    client = client_for()
    page = client.get("/campaigns")
    assert page.status_code == 200
    assert "has no tables yet: no SMS task has used it" in page.text
    api = client.get("/api/campaigns")
    assert api.status_code == 503
    assert "has no tables yet" in api.json()["detail"]


def test_bad_result_meanings_say_how_to_write_them(
    seeded: Ledger, auth_manager: FakeAuthManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__YXT__RESULT_MEANINGS", "7: 空号")
    page = client_for().get("/campaigns")
    assert page.status_code == 200
    assert (
        "[yxt] result_meanings must be a JSON object of receipt codes, such as {&#34;7&#34;: &#34;空号&#34;}"
        in page.text
    )
    assert client_for().get("/api/campaigns").status_code == 503


def test_without_a_valid_token_pages_redirect_and_the_api_answers_401(
    seeded: Ledger, auth_manager: FakeAuthManager
) -> None:
    for token in (None, "forged"):
        anonymous = client_for(token=token)
        for path in ("/campaigns", "/campaigns/c1", "/task?dag_id=reminders&run_id=run&task_id=task"):
            response = anonymous.get(path, follow_redirects=False)
            assert response.status_code == 307, (token, path)
            assert response.headers["location"].startswith("/auth/login?next=")
            assert "c1" not in response.text and "reminders" not in response.text
        for path in ("/api/campaigns", "/api/campaigns/c1", "/api/openapi.json"):
            response = anonymous.get(path)
            assert response.status_code in (401, 403), (token, path)
            assert "c1" not in response.text


def test_the_dags_the_auth_manager_refuses_are_not_shown(
    seeded: Ledger, auth_manager: FakeAuthManager
) -> None:
    client = client_for()
    listing = client.get("/api/campaigns").json()
    assert [c["campaign_id"] for c in listing["campaigns"]] == ["c1"]
    page = client.get("/campaigns").text
    assert '<option value="alerts"' not in page and '<option value="reminders"' in page
    auth_manager.dags = frozenset({"reminders", "alerts"})
    assert {c["campaign_id"] for c in client.get("/api/campaigns").json()["campaigns"]} == {"c1", "c2"}
