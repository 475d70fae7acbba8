"""Who is asking, and which DAGs' campaigns they may see: Airflow's own authentication, on every route.

Airflow mounts a plugin's FastAPI app without any authentication, and the mounted app has
no auth manager in its state, so every route of the view depends on :func:`json_viewer` or
:func:`page_viewer`. Both resolve the user as Airflow's API does (a bearer token, else the
UI's ``_token`` cookie) through the global auth manager, and allow only the DAGs the user may
read (``GET`` on the DAG): a campaign of any other DAG is neither listed nor shown.

Without a valid token, the JSON API answers 401 as Airflow's does; a page redirects to
Airflow's login and comes back after it. Neither ever sends data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user
from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials

__all__ = ["LoginRequired", "Viewer", "json_viewer", "page_viewer"]


@dataclass(frozen=True)
class Viewer:
    """An authenticated user and the DAGs whose campaigns they may see.

    :param user: the user, as the auth manager knows them.
    :param readable_dags: the DAG ids they may read.
    """

    user: BaseUser
    readable_dags: frozenset[str]


class LoginRequired(Exception):
    """A page was asked for without a valid login: the app answers with a redirect to ``login_url``."""

    def __init__(self, login_url: str) -> None:
        super().__init__(login_url)
        self.login_url = login_url


async def _authenticated(request: Request, credentials: HTTPAuthorizationCredentials | None) -> BaseUser:
    # get_user's own first parameter is the OAuth2 form's token, kept by Airflow for /docs only.
    return await get_user(request, None, credentials)


async def _viewer_of(user: BaseUser) -> Viewer:
    # A query of Airflow's metadata database: off the event loop.
    dags = await run_in_threadpool(get_auth_manager().get_authorized_dag_ids, user=user, method="GET")
    return Viewer(user=user, readable_dags=frozenset(dags))


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def json_viewer(request: Request, credentials: Credentials) -> Viewer:
    """The JSON API's caller; 401 (no or expired token) or 403 (invalid token) as Airflow's own API answers."""
    return await _viewer_of(await _authenticated(request, credentials))


async def page_viewer(request: Request, credentials: Credentials) -> Viewer:
    """A page's viewer; without a valid login, :class:`LoginRequired` (a redirect to Airflow's login)."""
    try:
        user = await _authenticated(request, credentials)
    except HTTPException as exc:
        if exc.status_code not in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            raise
        next_url = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(get_auth_manager().get_url_login(next_url=next_url)) from None
    return await _viewer_of(user)
