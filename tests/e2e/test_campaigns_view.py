"""The "SMS campaigns" view on the real API server, seeded by a real campaign against the sandbox.

One Airflow (scheduler, DAG processor, triggerer, API server) per module, with real
authentication (SimpleAuthManager with a password, not "all admins"): the example batch
notification runs against the sandbox, replies are injected and fetched, then

- every route of the view answers 401 (JSON) or a redirect to the login (pages) without a
  token, and never data;
- the JSON API's numbers are the ledger's, read directly;
- the send task's "SMS campaign" extra link leads to its campaign;
- headless Chromium logs in through Airflow's login page, opens the view in Airflow's UI,
  and the numbers it shows are the ledger's, in English and in Simplified Chinese.

Screenshots of each page go to ``$YXT_TEST_OUTPUT/campaigns_view`` (default
``test-output/`` in the repository), for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests

from tests.e2e.real_airflow import RealAirflow, running_airflow, sandbox_connection_json
from tests.fixtures.airflow import ledger_connection
from tests.fixtures.tasks import FULL_MOBILE
from yxt_provider.ledger import Ledger
from yxt_provider.ledger.overview import campaign_detail, list_campaigns
from yxt_provider.sandbox import SandboxConfig, SandboxServer, run_sandbox

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "dags" / "yxt_batch_notification.py"
DAG_ID = "yxt_batch_notification"
RECIPIENTS = 60
PASSWORD = "yxt-view-e2e-password"
OVERALL_TIMEOUT = 240.0
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Replies from two recipients of the example (its numbers are 139 + eight digits): a thank-you,
# and an unsubscribe that puts the number on the opt-out list.
REPLIES = [("13900000003", "好的，谢谢"), ("13900000007", "TD")]

FETCH_REPLIES_DAG = """
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.replies import FetchRepliesOperator

with DAG("fetch_replies", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    FetchRepliesOperator(task_id="fetch")
"""


def output_dir() -> Path:
    """Where the screenshots go: ``$YXT_TEST_OUTPUT/campaigns_view``."""
    path = Path(os.environ.get("YXT_TEST_OUTPUT") or ROOT / "test-output") / "campaigns_view"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    # Some receipts fail (code 2), some never come: every part of the funnel has messages.
    config = SandboxConfig(receipt_fail_share=0.15, receipt_missing_share=0.1, seed=15)
    with run_sandbox(config) as server:
        yield server


@pytest.fixture(scope="module")
def real_airflow(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> Iterator[RealAirflow]:
    root = tmp_path_factory.mktemp("campaigns_view")
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    # The example, polling every second, and done at half delivered (a quarter never arrives here).
    source = (
        EXAMPLE.read_text()
        .replace("POKE_INTERVAL = timedelta(seconds=5)", "POKE_INTERVAL = timedelta(seconds=1)")
        .replace("min_delivered_share=0.9", "min_delivered_share=0.5")
    )
    assert "min_delivered_share=0.5" in source
    env = {
        # Real logins: without a token, nothing but the login page.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__YXT__RESULT_MEANINGS": json.dumps({"2": "number unreachable"}),
        # The view reads the ledger through a connection, as a production deployment does (the
        # example's tasks use the embedded file; the connection names that file).
        "AIRFLOW__YXT__LEDGER_CONN_ID": "yxt_view_ledger",
        "AIRFLOW_CONN_YXT_VIEW_LEDGER": ledger_connection(
            f"sqlite:///{root / 'airflow_home' / 'yxt_ledger.db'}"
        ),
    }
    with running_airflow(
        root, {"yxt_batch_notification.py": source, "fetch_replies.py": FETCH_REPLIES_DAG},
        sandbox_connection_json(sandbox), OVERALL_TIMEOUT, env,
    ) as components:  # fmt: skip
        components.wait_for("healthy components", components.healthy)
        components.log_in("admin", PASSWORD)
        components.wait_run(DAG_ID, components.trigger(DAG_ID, {"recipients": RECIPIENTS, "report_csv": ""}))
        for number, text in REPLIES:
            requests.post(
                f"{sandbox.base_url}/_sandbox/replies",
                json={"callMdn": "106900001", "content": text, "userNumber": number},
                timeout=5,
            ).raise_for_status()
        components.wait_run("fetch_replies", components.trigger("fetch_replies"))
        yield components


@pytest.fixture(scope="module")
def ledger(real_airflow: RealAirflow) -> Iterator[Ledger]:
    """The embedded SQLite ledger the DAG wrote, read directly."""
    opened = Ledger.from_url(f"sqlite:///{real_airflow.home / 'yxt_ledger.db'}")
    yield opened
    opened.dispose()


def view(airflow: RealAirflow, path: str, **kwargs: Any) -> requests.Response:
    """A request to the view with the module's admin token."""
    return airflow.session.get(f"{airflow.base_url}/yxt{path}", timeout=10, allow_redirects=False, **kwargs)


# -- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/campaigns", "/api/campaigns/x", "/api/openapi.json"])
def test_the_json_api_answers_401_without_a_token(
    real_airflow: RealAirflow, ledger: Ledger, path: str
) -> None:
    response = requests.get(f"{real_airflow.base_url}/yxt{path}", timeout=10)
    assert response.status_code == 401
    assert DAG_ID not in response.text
    bad = requests.get(
        f"{real_airflow.base_url}/yxt{path}", headers={"Authorization": "Bearer not-a-token"}, timeout=10
    )
    assert bad.status_code in (401, 403)
    assert DAG_ID not in bad.text


@pytest.mark.parametrize("path", ["/campaigns", "/campaigns/x", "/task?dag_id=d&run_id=r&task_id=t"])
def test_pages_redirect_to_the_login_without_a_token(real_airflow: RealAirflow, path: str) -> None:
    response = requests.get(f"{real_airflow.base_url}/yxt{path}", timeout=10, allow_redirects=False)
    assert response.status_code == 307
    location = response.headers["location"]
    assert urlsplit(location).path.startswith("/auth/login")
    assert "next=" in location
    assert DAG_ID not in response.text


def test_airflow_lists_the_plugin_with_its_views(real_airflow: RealAirflow) -> None:
    plugins = {p["name"]: p for p in real_airflow.get("/plugins")["plugins"]}
    ours = plugins["yxt_sms_campaigns"]
    assert {(v["destination"], v["url_route"]) for v in ours["external_views"]} == {
        ("nav", "sms-campaigns"), ("dag", "sms-campaigns-dag"),
    }  # fmt: skip
    assert [app["url_prefix"] for app in ours["fastapi_apps"]] == ["/yxt"]


def test_fastapis_own_docs_are_not_served(real_airflow: RealAirflow) -> None:
    # FastAPI's defaults would answer these without authentication.
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert view(real_airflow, path).status_code == 404


# -- the JSON API --------------------------------------------------------------------------------


def test_json_list_is_the_ledgers(real_airflow: RealAirflow, ledger: Ledger) -> None:
    response = view(real_airflow, "/api/campaigns")
    assert response.status_code == 200, response.text
    body = response.json()
    expected = list_campaigns(ledger.engine)
    assert body["total_entries"] == expected.total == 1
    (got,) = body["campaigns"]
    (want,) = expected.campaigns
    report = ledger.delivery_report(want.campaign_id)
    assert got["campaign_id"] == want.campaign_id
    assert (got["dag_id"], got["task_id"], got["map_index"]) == (DAG_ID, "send", -1)
    assert got["recipients"] == report.total == RECIPIENTS
    assert (got["delivered"], got["pending"]) == (report.delivered, report.pending)
    assert (got["failed"], got["refused"]) == (report.failed, report.refused)
    assert got["delivered_pct"] == pytest.approx(100.0 * report.delivered / RECIPIENTS, abs=0.01)
    assert (got["replies"], got["opt_outs"]) == (len(REPLIES), 1)
    assert view(real_airflow, "/api/campaigns", params={"dag_id": "other"}).json()["total_entries"] == 0
    future = view(real_airflow, "/api/campaigns", params={"created_from": "2999-01-01"}).json()
    assert future["total_entries"] == 0


def test_json_detail_is_the_ledgers_and_masks_numbers(real_airflow: RealAirflow, ledger: Ledger) -> None:
    (campaign,) = list_campaigns(ledger.engine).campaigns
    response = view(real_airflow, f"/api/campaigns/{campaign.campaign_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    detail = campaign_detail(ledger.engine, campaign.campaign_id, meanings={2: "number unreachable"})
    assert detail is not None
    assert body["funnel"]["planned"] == detail.report.total
    assert body["funnel"]["delivered"] == detail.report.delivered
    assert body["funnel"]["failed"] == detail.report.failed
    assert [(f["kind"], f["code"], f["count"]) for f in body["failures"]] == [
        (f.kind, f.code, f.count) for f in detail.failures
    ]
    assert detail.report.failed > 0
    assert detail.report.pending > 0
    assert {"failed (code 2: number unreachable)"} == {
        f["meaning"] for f in body["failures"] if f["kind"] == "receipt"
    }
    assert sum(b["delivered"] for b in body["receipts"]) == detail.report.delivered
    assert {r["content"] for r in body["replies"]} == {text for _, text in REPLIES}
    assert {r["number"] for r in body["replies"]} == {"139****0003", "139****0007"}
    assert not FULL_MOBILE.search(response.text)
    assert view(real_airflow, "/api/campaigns/no-such-campaign").status_code == 404


def test_json_errors_say_what_is_wrong(real_airflow: RealAirflow) -> None:
    response = view(real_airflow, "/api/campaigns", params={"created_from": "yesterday", "limit": 0})
    assert response.status_code == 422
    fields = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert fields == {("query", "created_from"), ("query", "limit")}


def test_openapi_schema_documents_the_json_api(real_airflow: RealAirflow) -> None:
    schema = view(real_airflow, "/api/openapi.json").json()
    assert set(schema["paths"]) == {"/api/campaigns", "/api/campaigns/{campaign_id}"}


def test_the_send_tasks_extra_link_opens_its_campaign(real_airflow: RealAirflow, ledger: Ledger) -> None:
    (run,) = real_airflow.get(f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
    links = real_airflow.get(f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/send/links")
    url = links["extra_links"]["SMS campaign"]
    assert url.startswith(f"{real_airflow.base_url}/plugin/sms-campaigns/yxt/task?")
    # Inside Airflow's UI, /plugin/sms-campaigns/<path> shows <path> of the view in its frame.
    framed = url.split("/plugin/sms-campaigns", 1)[1]
    response = real_airflow.session.get(real_airflow.base_url + framed, timeout=10, allow_redirects=False)
    (campaign,) = list_campaigns(ledger.engine).campaigns
    assert response.status_code == 303
    assert unquote(response.headers["location"]).endswith(f"/yxt/campaigns/{campaign.campaign_id}")
    other = view(
        real_airflow, "/task", params={"dag_id": DAG_ID, "run_id": run["dag_run_id"], "task_id": "patients"}
    )
    assert other.status_code == 404
    assert "sent no SMS campaign" in other.text


def test_no_full_number_in_any_log(real_airflow: RealAirflow) -> None:
    leaks = [
        f"{path.name}: {FULL_MOBILE.search(line).group()[:3]}…"  # type: ignore[union-attr]
        for path in real_airflow.log_paths()
        for line in path.read_text(errors="replace").splitlines()
        if FULL_MOBILE.search(line)
    ]
    assert not leaks


# -- the pages, in a browser ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (which downloads no browser of its own)."""
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"Chromium not found at {CHROMIUM}: bash scripts/setup.sh installs Debian's chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed: bash scripts/setup.sh installs the test extra"
    if problem:
        if os.environ.get("YXT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{problem} (YXT_REQUIRE_SERVICES=1)")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # No sandbox as root; no background traffic (this machine's network is closed).
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        yield launched
        launched.close()


def _numbers_in_table(frame: Any) -> dict[str, str]:
    row = frame.locator("#campaigns tbody tr").first
    return {
        field: row.locator(f'[data-field="{field}"]').inner_text().strip()
        for field in ("recipients", "delivered_pct", "failed_pct", "pending_pct", "replies", "opt_outs")
    }


def test_a_person_logs_in_and_sees_the_ledgers_numbers(
    real_airflow: RealAirflow, ledger: Ledger, browser: Any
) -> None:
    shots = output_dir()
    context = browser.new_context(viewport={"width": 1400, "height": 1400}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{real_airflow.base_url}/plugin/sms-campaigns")
        # Not logged in: Airflow's UI sends the browser to its login page.
        page.wait_for_url(re.compile(r".*/auth/login.*"), timeout=30_000)
        page.locator('input[name="username"]').wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "login.png"))
        page.locator('input[name="username"]').fill("admin")
        page.locator('input[name="password"]').fill(PASSWORD)
        page.locator('button[type="submit"]').click()
        page.wait_for_url(re.compile(r".*/plugin/sms-campaigns.*"), timeout=30_000)
        frame = page.frame_locator('iframe[title="SMS campaigns"]')
        frame.locator("#campaigns").wait_for(timeout=30_000)

        (campaign,) = list_campaigns(ledger.engine).campaigns
        shown = _numbers_in_table(frame)
        assert shown == {
            "recipients": str(campaign.recipients),
            "delivered_pct": f"{campaign.delivered_pct:.1f}%",
            "failed_pct": f"{campaign.failed_pct:.1f}%",
            "pending_pct": f"{campaign.pending_pct:.1f}%",
            "replies": str(len(REPLIES)),
            "opt_outs": "1",
        }
        page.screenshot(path=str(shots / "campaign-list.png"))

        frame.locator(f'tr[data-campaign-id="{campaign.campaign_id}"] a').first.click()
        frame.locator("#funnel").wait_for(timeout=30_000)
        report = ledger.delivery_report(campaign.campaign_id)
        for field, value in (("planned", report.total), ("sent", report.sent), ("delivered", report.delivered),
                             ("failed", report.failed), ("pending", report.pending)):  # fmt: skip
            assert frame.locator(f'#funnel [data-field="{field}"]').inner_text().strip() == str(value)
        replies = frame.locator("#replies tbody").inner_text()
        assert "139****0003" in replies and "好的，谢谢" in replies
        assert not FULL_MOBILE.search(frame.locator("body").inner_text())
        # The Airflow route follows the frame, so the campaign's page has an address of its own.
        assert unquote(page.url).endswith(f"/plugin/sms-campaigns/yxt/campaigns/{campaign.campaign_id}")
        page.screenshot(path=str(shots / "campaign-detail.png"))

        # The task instance link leaves the frame for Airflow's own task instance page.
        link = frame.locator("#task-instance-link")
        assert link.get_attribute("target") == "_top"
        assert (
            link.get_attribute("href") == f"/dags/{DAG_ID}/runs/{quote(campaign.run_id, safe='')}/tasks/send"
        )

        # Airflow's language choice (i18next, in localStorage) carries into the view.
        page.evaluate("localStorage.setItem('i18nextLng', 'zh-CN')")
        page.goto(f"{real_airflow.base_url}/plugin/sms-campaigns", wait_until="networkidle")
        frame = page.frame_locator('iframe[title="SMS campaigns"]')
        frame.locator("#campaigns").wait_for(timeout=30_000)
        frame.locator("h1", has_text="短信活动").wait_for(timeout=30_000)
        assert "已送达" in frame.locator("#campaigns thead").inner_text()
        assert _numbers_in_table(frame) == shown
        page.screenshot(path=str(shots / "campaign-list-zh.png"))

        # The DAG's own tab lists the DAG's campaigns.
        page.evaluate("localStorage.setItem('i18nextLng', 'en')")
        page.goto(f"{real_airflow.base_url}/dags/{DAG_ID}/plugin/sms-campaigns-dag", wait_until="networkidle")
        frame = page.frame_locator('iframe[title="SMS campaigns"]')
        frame.locator(f'tr[data-campaign-id="{campaign.campaign_id}"]').wait_for(timeout=30_000)
        assert frame.locator('select[name="dag_id"]').input_value() == DAG_ID
        page.screenshot(path=str(shots / "dag-tab.png"))
    finally:
        context.close()
