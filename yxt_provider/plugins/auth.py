"""Who is asking, and which DAGs' campaigns they may see: Airflow's own authentication, on every route.

Airflow mounts a plugin's FastAPI app without any authentication, and the mounted app has
no auth manager in its state, so every route of the view depends on :func:`viewer`. It
resolves the user with Airflow's own ``get_user`` dependency (a bearer token, else the UI's
``_token`` cookie, refreshed by Airflow's middleware), which asks the global auth manager;
FastAPI resolves that dependency by its own signature, whatever the Airflow version.

Without a valid token Airflow's dependency answers 401 (403 for a token that is not a JWT
at all); the JSON API passes that on, and a page turns it into a redirect to Airflow's
login, which comes back after (:func:`login_redirect`). Neither ever sends data.

Which campaigns: those of the DAGs the user may read (``GET`` on the DAG), asked of the auth
manager for the few DAGs the ledger has campaigns of (:func:`readable_dags`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import RedirectResponse

__all__ = ["Viewer", "login_redirect", "readable_dags", "viewer"]

# What Airflow's get_user answers for a token that is not a JWT at all (an expired one is a 401).
_INVALID_TOKEN = "Invalid JWT token"


@dataclass(frozen=True)
class Viewer:
    """An authenticated user of the view.

    :param user: the user, as the auth manager knows them.
    """

    user: BaseUser


async def viewer(user: Annotated[BaseUser, Depends(get_user)]) -> Viewer:
    """The authenticated caller (Airflow's ``get_user`` has answered 401 or 403 otherwise)."""
    return Viewer(user=user)


def readable_dags(viewer: Viewer, dag_ids: Iterable[str]) -> frozenset[str]:
    """The DAGs among ``dag_ids`` whose campaigns ``viewer`` may see: those they may read.

    Asked of the auth manager for these DAGs only (the ledger's, a few), not for every DAG of
    the installation; a DAG deleted from Airflow stays visible to whoever may read any DAG.
    Blocking (a role lookup may query a database): call it off the event loop.
    """
    ids = set(dag_ids)
    if not ids:
        return frozenset()
    return frozenset(
        get_auth_manager().filter_authorized_dag_ids(dag_ids=ids, user=viewer.user, method="GET")
    )


def login_redirect(request: Request, exc: HTTPException, api_prefix: str) -> RedirectResponse | None:
    """For a page asked for without a valid login, the redirect to Airflow's login (and back); else ``None``.

    :param request: the request.
    :param exc: what a dependency raised.
    :param api_prefix: where the JSON API's paths start (those answer 401 as they are).
    """
    unauthenticated = exc.status_code == status.HTTP_401_UNAUTHORIZED or (
        exc.status_code == status.HTTP_403_FORBIDDEN and exc.detail == _INVALID_TOKEN
    )
    if not unauthenticated or request.url.path.startswith(api_prefix):
        return None
    next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(get_auth_manager().get_url_login(next_url=next_url), status_code=307)
