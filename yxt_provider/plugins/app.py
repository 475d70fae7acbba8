"""The "SMS campaigns" view: a FastAPI app Airflow's API server mounts at :data:`MOUNT_PREFIX`.

Pages (HTML, server-rendered, for Airflow's iframe) and the same numbers as JSON:

============================================  =====================================================
``GET /yxt/campaigns``                        the list (``dag_id``, ``created_from``, ``created_to``, ``page``)
``GET /yxt/campaigns/{campaign_id}``          one campaign: funnel, failures by code, receipts, replies
``GET /yxt/task``                             the campaign of a task instance (the send task's extra link)
``GET /yxt/api/campaigns``                    the list as JSON (``limit``, ``offset`` instead of ``page``)
``GET /yxt/api/campaigns/{campaign_id}``      one campaign as JSON
``GET /yxt/api/openapi.json``                 the JSON API's schema
============================================  =====================================================

Every route depends on :mod:`~yxt_provider.plugins.auth` (Airflow mounts plugin apps without
authentication). Read-only: no route writes to the ledger, and no route shows a full number.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from yxt_provider.ledger import overview
from yxt_provider.plugins import charts, labels
from yxt_provider.plugins.auth import LoginRequired, Viewer, json_viewer, page_viewer
from yxt_provider.plugins.schemas import CampaignDetailOut, CampaignListOut
from yxt_provider.plugins.source import LedgerSource, view_ledger

__all__ = ["MOUNT_PREFIX", "PAGE_SIZE", "create_app"]

#: Where Airflow's API server mounts the app.
MOUNT_PREFIX = "/yxt"
#: Campaigns per page of the HTML list.
PAGE_SIZE = 50

_TEMPLATES = Environment(
    loader=PackageLoader("yxt_provider.plugins", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

PageViewer = Annotated[Viewer, Depends(page_viewer)]
JsonViewer = Annotated[Viewer, Depends(json_viewer)]
DagFilter = Annotated[str | None, Query(description="only this DAG's campaigns", max_length=250)]
FromFilter = Annotated[date | None, Query(description="only campaigns created on or after this day (UTC)")]
ToFilter = Annotated[date | None, Query(description="only campaigns created on or before this day (UTC)")]


def create_app() -> FastAPI:
    """The view's app; Airflow mounts it at :data:`MOUNT_PREFIX` (see :mod:`yxt_provider.plugins.campaigns`)."""
    # No /docs, /redoc or /openapi.json of FastAPI's own: they would answer without authentication.
    app = FastAPI(
        title="YXT SMS campaigns",
        description="The YXT delivery ledger's campaigns, read-only, behind Airflow's authentication.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_exception_handler(LoginRequired, _redirect_to_login)

    @app.get("/campaigns", response_class=HTMLResponse, include_in_schema=False)
    async def campaign_list_page(
        request: Request,
        viewer: PageViewer,
        dag_id: DagFilter = None,
        created_from: FromFilter = None,
        created_to: ToFilter = None,
        page: Annotated[int, Query(ge=1)] = 1,
    ) -> HTMLResponse:
        source = view_ledger()
        problem = await run_in_threadpool(source.schema_problem)
        listing = dags = None
        if problem is None:
            listing = await run_in_threadpool(
                _page_of, source, viewer, dag_id, created_from, created_to, PAGE_SIZE, (page - 1) * PAGE_SIZE
            )
            dags = await run_in_threadpool(overview.dags_with_campaigns, source.engine)
        filters = {"dag_id": dag_id or "", "created_from": created_from or "", "created_to": created_to or ""}
        return _render(
            request, "campaigns.html", problem=problem, listing=listing, page=page,
            pages=max(1, -(-(listing.total if listing else 0) // PAGE_SIZE)), filters=filters,
            dags=[d for d in dags or [] if d in viewer.readable_dags],
            page_url=lambda n: _url(request, "/campaigns", **filters, page=n),
            json_url=_url(request, "/api/campaigns", **filters),
        )  # fmt: skip

    @app.get("/campaigns/{campaign_id:path}", response_class=HTMLResponse, include_in_schema=False)
    async def campaign_page(request: Request, viewer: PageViewer, campaign_id: str) -> HTMLResponse:
        source = view_ledger()
        problem = await run_in_threadpool(source.schema_problem)
        detail = None if problem else await run_in_threadpool(_detail_of, source, viewer, campaign_id)
        if problem is None and detail is None:
            return _render(request, "notice.html", problem=_not_found(campaign_id, source), status_code=404)
        chart = charts.receipts_svg(detail.receipts, _labels(request)) if detail and detail.receipts else None
        return _render(
            request, "campaign.html", problem=problem, detail=detail, chart=chart,
            bar_width=charts.bucket_width_label(detail.bucket_seconds, _labels(request)) if detail else "",
            json_url=_url(request, _campaign_path(campaign_id, "/api/campaigns")),
        )  # fmt: skip

    @app.get("/task", response_class=HTMLResponse, include_in_schema=False)
    async def task_campaign_page(
        request: Request, viewer: PageViewer, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> Any:
        source = view_ledger()
        problem = await run_in_threadpool(source.schema_problem)
        campaign_id = None
        if problem is None and dag_id in viewer.readable_dags:
            campaign_id = await run_in_threadpool(
                lambda: overview.campaign_of_task(
                    source.engine, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index
                )
            )
        if campaign_id is not None:
            return RedirectResponse(_url(request, _campaign_path(campaign_id)), status_code=303)
        return _render(
            request,
            "notice.html",
            problem=problem or _labels(request)["no_campaign_for_task"],
            status_code=404,
        )

    @app.get("/api/campaigns", response_model=CampaignListOut, summary="List campaigns, newest first")
    async def campaign_list_json(
        viewer: JsonViewer,
        dag_id: DagFilter = None,
        created_from: FromFilter = None,
        created_to: ToFilter = None,
        limit: Annotated[int, Query(ge=1, le=overview.MAX_PAGE_SIZE)] = PAGE_SIZE,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> CampaignListOut:
        source = _readable(view_ledger())
        listing = await run_in_threadpool(
            _page_of, source, viewer, dag_id, created_from, created_to, limit, offset
        )
        return CampaignListOut.of(listing)

    @app.get("/api/campaigns/{campaign_id:path}", response_model=CampaignDetailOut, summary="One campaign")
    async def campaign_json(viewer: JsonViewer, campaign_id: str) -> CampaignDetailOut:
        source = _readable(view_ledger())
        detail = await run_in_threadpool(_detail_of, source, viewer, campaign_id)
        if detail is None:
            raise HTTPException(404, _not_found(campaign_id, source))
        return CampaignDetailOut.of(detail)

    @app.get("/api/openapi.json", include_in_schema=False)
    async def openapi_json(viewer: JsonViewer) -> JSONResponse:
        return JSONResponse(_schema_of(app))

    return app


def _schema_of(app: FastAPI) -> dict[str, Any]:
    from fastapi.openapi.utils import get_openapi

    api_routes = [r for r in app.routes if getattr(r, "path", "").startswith("/api/")]
    return get_openapi(title=app.title, version="1", description=app.description, routes=api_routes)


def _not_found(campaign_id: str, source: LedgerSource) -> str:
    return f"No campaign {campaign_id!r} that you may read in the ledger ({source.described})."


def _readable(source: LedgerSource) -> LedgerSource:
    """The source, or a 503 saying why its ledger cannot be read."""
    if problem := source.schema_problem():
        raise HTTPException(503, problem)
    return source


def _page_of(
    source: LedgerSource,
    viewer: Viewer,
    dag_id: str | None,
    created_from: date | None,
    created_to: date | None,
    limit: int,
    offset: int,
) -> overview.CampaignPage:
    return overview.list_campaigns(
        source.engine,
        dag_id=dag_id or None,
        created_from=_midnight(created_from),
        created_before=_midnight(created_to + timedelta(days=1)) if created_to else None,
        readable_dags=viewer.readable_dags,
        limit=limit,
        offset=offset,
    )


def _detail_of(source: LedgerSource, viewer: Viewer, campaign_id: str) -> overview.CampaignDetail | None:
    return overview.campaign_detail(
        source.engine, campaign_id, meanings=source.meanings, readable_dags=viewer.readable_dags
    )


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), tzinfo=timezone.utc)


def _language(request: Request) -> str:
    return labels.language_of(
        request.query_params.get("lang"),
        request.cookies.get(labels.LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
    )


def _labels(request: Request) -> Any:
    return labels.labels_for(_language(request))


def _campaign_path(campaign_id: str, prefix: str = "/campaigns") -> str:
    # Slashes and colons stay readable (the default campaign id is dag/run/task/map_index, a
    # run id holds a timestamp); the route takes the rest of the path as the id.
    return f"{prefix}/{quote(campaign_id, safe='/:')}"


def _url(request: Request, path: str, **params: Any) -> str:
    """A URL of the view (under the mount), with the non-empty ``params`` as its query."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{request.scope.get('root_path', '')}{path}" + (f"?{query}" if query else "")


def _airflow_url(request: Request, path: str) -> str:
    """A URL of Airflow's own UI: the mount's root path without the view's prefix."""
    root = str(request.scope.get("root_path", ""))
    return root.removesuffix(MOUNT_PREFIX) + path


def _task_instance_url(request: Request, summary: overview.CampaignSummary) -> str:
    parts = ["dags", summary.dag_id, "runs", summary.run_id, "tasks", summary.task_id]
    if summary.map_index >= 0:
        parts += ["mapped", str(summary.map_index)]
    return _airflow_url(request, "/" + "/".join(quote(p, safe="") for p in parts))


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    language = _language(request)
    html = _TEMPLATES.get_template(template).render(
        t=labels.labels_for(language),
        lang=language,
        campaign_url=lambda cid: _url(request, _campaign_path(cid)),
        list_url=_url(request, "/campaigns"),
        task_instance_url=lambda summary: _task_instance_url(request, summary),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


async def _redirect_to_login(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.login_url, status_code=307)
