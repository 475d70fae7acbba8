"""The "SMS campaigns" view: a FastAPI app Airflow's API server mounts at ``/yxt``.

Pages (HTML, server-rendered, for Airflow's iframe) and the same numbers as JSON:

============================================  =====================================================
``GET /yxt/campaigns``                        the list (``dag_id``, ``created_from``, ``created_to``, ``page``)
``GET /yxt/campaigns/{campaign_id}``          one campaign: funnel, failures by code, receipts, replies
``GET /yxt/task``                             the campaign of a task instance (the send task's extra link)
``GET /yxt/api/campaigns``                    the list as JSON (``limit``, ``offset`` instead of ``page``)
``GET /yxt/api/campaigns/{campaign_id}``      one campaign as JSON
``GET /yxt/api/openapi.json``                 the JSON API's schema
============================================  =====================================================

Every route depends on :func:`~yxt_provider.plugins.auth.viewer` (Airflow mounts plugin apps
without authentication). Read-only: no route writes to the ledger, and no route shows a full
number. Everything that waits for a database or a secrets backend runs off the event loop:
the API server's loop serves all of Airflow's UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from yxt_provider.client.numbers import mask_numbers_in_text
from yxt_provider.ledger import overview
from yxt_provider.plugins import charts, labels
from yxt_provider.plugins.auth import Viewer, login_redirect, readable_dags, viewer
from yxt_provider.plugins.paths import MOUNT_PREFIX
from yxt_provider.plugins.schemas import CampaignDetailOut, CampaignListOut
from yxt_provider.plugins.source import LedgerSource, view_ledger

__all__ = ["MAX_PAGE", "PAGE_SIZE", "create_app"]

#: Campaigns per page of the HTML list.
PAGE_SIZE = 50
#: The last page number the list accepts (beyond, the offset would overflow a database integer).
MAX_PAGE = 100_000
_MAX_OFFSET = 10_000_000

_TEMPLATES = Environment(
    loader=PackageLoader("yxt_provider.plugins", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Ids are shown as they are, except a mobile number inside one (a run id may hold anything).
_TEMPLATES.filters["masked"] = lambda value: mask_numbers_in_text(str(value))

ViewerDep = Annotated[Viewer, Depends(viewer)]
DagFilter = Annotated[str | None, Query(description="only this DAG's campaigns", max_length=250)]
FromFilter = Annotated[date | None, Query(description="only campaigns created on or after this day (UTC)")]
ToFilter = Annotated[date | None, Query(description="only campaigns created on or before this day (UTC)")]


@dataclass(frozen=True)
class _Scope:
    """What one request may read: the ledger, why it cannot (if so), and the viewer's DAGs in it."""

    source: LedgerSource
    problem: str | None
    dags: frozenset[str]


def _scope_of(who: Viewer) -> _Scope:
    """Blocking: the connection, the ledger's version, its DAGs, the auth manager's say on them."""
    source = view_ledger()
    problem = source.problem()
    dags = frozenset() if problem else readable_dags(who, overview.dags_with_campaigns(source.engine))
    return _Scope(source=source, problem=problem, dags=dags)


def create_app() -> FastAPI:
    """The view's app; Airflow mounts it at ``/yxt`` (see :mod:`yxt_provider.plugins.campaigns`)."""
    # No /docs, /redoc or /openapi.json of FastAPI's own: they would answer without authentication.
    app = FastAPI(
        title="YXT SMS campaigns",
        description="The YXT delivery ledger's campaigns, read-only, behind Airflow's authentication.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_exception_handler(HTTPException, _on_http_exception)

    @app.get("/campaigns", response_class=HTMLResponse, include_in_schema=False)
    async def campaign_list_page(
        request: Request,
        who: ViewerDep,
        dag_id: DagFilter = None,
        created_from: FromFilter = None,
        created_to: ToFilter = None,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    ) -> HTMLResponse:
        scope = await run_in_threadpool(_scope_of, who)
        listing = None
        if scope.problem is None:
            listing = await run_in_threadpool(
                _page_of, scope, dag_id, created_from, created_to, PAGE_SIZE, (page - 1) * PAGE_SIZE
            )
        filters = {"dag_id": dag_id or "", "created_from": created_from or "", "created_to": created_to or ""}
        lang = request.query_params.get("lang", "")
        return _render(
            request, "campaigns.html", problem=scope.problem, listing=listing, page=page,
            pages=max(1, -(-(listing.total if listing else 0) // PAGE_SIZE)), filters=filters,
            dags=sorted(scope.dags), page_url=lambda n: _url(request, "/campaigns", **filters, page=n, lang=lang),
            json_url=_url(request, "/api/campaigns", **filters),
        )  # fmt: skip

    @app.get("/campaigns/{campaign_id:path}", response_class=HTMLResponse, include_in_schema=False)
    async def campaign_page(request: Request, who: ViewerDep, campaign_id: str) -> HTMLResponse:
        scope = await run_in_threadpool(_scope_of, who)
        if scope.problem:
            return _render(request, "notice.html", problem=scope.problem, status_code=503)
        detail = await run_in_threadpool(_detail_of, scope, campaign_id)
        if detail is None:
            return _render(request, "notice.html", problem=_not_found(campaign_id), status_code=404)
        t = _labels(request)
        return _render(
            request, "campaign.html", detail=detail,
            chart=charts.receipts_svg(detail.receipts, t) if detail.receipts else None,
            bar_width=charts.bucket_width_label(detail.bucket_seconds, t),
            json_url=_url(request, _campaign_path(campaign_id, "/api/campaigns")),
        )  # fmt: skip

    @app.get("/task", response_class=HTMLResponse, include_in_schema=False)
    async def task_campaign_page(
        request: Request, who: ViewerDep, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> Response:
        scope = await run_in_threadpool(_scope_of, who)
        campaign_id = None
        if scope.problem is None and dag_id in scope.dags:
            campaign_id = await run_in_threadpool(
                lambda: overview.campaign_of_task(
                    scope.source.engine, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index
                )
            )
        if campaign_id is not None:
            return Response(status_code=303, headers={"location": _url(request, _campaign_path(campaign_id))})
        problem = scope.problem or _labels(request)["no_campaign_for_task"]
        return _render(request, "notice.html", problem=problem, status_code=404)

    @app.get("/api/campaigns", response_model=CampaignListOut, summary="List campaigns, newest first")
    async def campaign_list_json(
        who: ViewerDep,
        dag_id: DagFilter = None,
        created_from: FromFilter = None,
        created_to: ToFilter = None,
        limit: Annotated[int, Query(ge=1, le=overview.MAX_PAGE_SIZE)] = PAGE_SIZE,
        offset: Annotated[int, Query(ge=0, le=_MAX_OFFSET)] = 0,
    ) -> CampaignListOut:
        scope = _readable(await run_in_threadpool(_scope_of, who))
        listing = await run_in_threadpool(_page_of, scope, dag_id, created_from, created_to, limit, offset)
        return CampaignListOut.of(listing)

    @app.get("/api/campaigns/{campaign_id:path}", response_model=CampaignDetailOut, summary="One campaign")
    async def campaign_json(who: ViewerDep, campaign_id: str) -> CampaignDetailOut:
        scope = _readable(await run_in_threadpool(_scope_of, who))
        detail = await run_in_threadpool(_detail_of, scope, campaign_id)
        if detail is None:
            raise HTTPException(404, _not_found(campaign_id))
        return CampaignDetailOut.of(detail)

    @app.get("/api/openapi.json", include_in_schema=False)
    async def openapi_json(who: ViewerDep) -> JSONResponse:
        return JSONResponse(_schema_of(app))

    return app


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    """A page asked for without a valid login goes to Airflow's login; every other error as FastAPI answers it."""
    if not isinstance(exc, HTTPException):  # registered for this class only
        raise exc
    redirect = login_redirect(request, exc, api_prefix=f"{request.scope.get('root_path', '')}/api/")
    return redirect if redirect is not None else await http_exception_handler(request, exc)


def _schema_of(app: FastAPI) -> dict[str, Any]:
    from fastapi.openapi.utils import get_openapi

    api_routes = [r for r in app.routes if getattr(r, "path", "").startswith("/api/")]
    return get_openapi(title=app.title, version="1", description=app.description, routes=api_routes)


def _not_found(campaign_id: str) -> str:
    return f"No campaign {mask_numbers_in_text(campaign_id)!r} that you may read in the ledger."


def _readable(scope: _Scope) -> _Scope:
    """The scope, or a 503 saying why its ledger cannot be read."""
    if scope.problem:
        raise HTTPException(503, scope.problem)
    return scope


def _page_of(
    scope: _Scope,
    dag_id: str | None,
    created_from: date | None,
    created_to: date | None,
    limit: int,
    offset: int,
) -> overview.CampaignPage:
    return overview.list_campaigns(
        scope.source.engine,
        dag_id=dag_id or None,
        created_from=_midnight(created_from),
        created_before=_midnight(created_to + timedelta(days=1))
        if created_to and created_to < date.max
        else None,
        readable_dags=scope.dags,
        limit=limit,
        offset=offset,
    )


def _detail_of(scope: _Scope, campaign_id: str) -> overview.CampaignDetail | None:
    return overview.campaign_detail(
        scope.source.engine, campaign_id, meanings=scope.source.meanings, readable_dags=scope.dags
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
