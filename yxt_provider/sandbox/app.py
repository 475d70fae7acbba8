"""The sandbox's FastAPI app: the four protocol endpoints and the ``/_sandbox/`` control plane.

Routes only move bytes; the rules live in :class:`~yxt_provider.sandbox.state.SandboxState`.
Responses are pre-serialised bytes (no pydantic models) to keep a 1000-number send cheap.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response

from yxt_provider.client.protocol import PATH_CONFIRM, PATH_QUERY, PATH_REPORT, PATH_SEND
from yxt_provider.sandbox.openapi import OPENAPI_PATH, openapi_schema
from yxt_provider.sandbox.protocol import cut_answer, drop_connection
from yxt_provider.sandbox.spoiled import SPOILED_KINDS, spoiled_answer
from yxt_provider.sandbox.state import SandboxState

__all__ = ["CONTROL_PREFIX", "control_router", "create_app"]

log = logging.getLogger(__name__)

#: Where the control plane is mounted, when it is on.
CONTROL_PREFIX = "/_sandbox"
_GATEWAY_JSON = "application/json;charset=UTF-8"
_ROUTES = {"send": PATH_SEND, "report": PATH_REPORT, "query": PATH_QUERY, "confirm": PATH_CONFIRM}


def _json(data: Any, status_code: int = 200) -> Response:
    # ASCII escapes: config and replies set over the control plane may hold lone surrogates,
    # which UTF-8 cannot encode (that was an HTTP 500).
    return Response(json.dumps(data).encode(), status_code=status_code, media_type="application/json")


def control_router(state: SandboxState) -> APIRouter:
    """The ``/_sandbox/`` control plane: inspect, reconfigure, reset, inject replies.

    Included only when the sandbox starts with ``control`` on. Turning ``control`` off at
    runtime (``configure(control=False)``) makes every route answer 404 again, as if absent.

    :param state: the sandbox's state.
    """

    def control_on() -> None:
        if not state.config.control:
            raise HTTPException(status_code=404, detail="Not Found")

    router = APIRouter(prefix=CONTROL_PREFIX, dependencies=[Depends(control_on)])

    @router.get("/accepted")
    async def accepted() -> Response:
        return _json([request.to_json() for request in state.accepted()])

    @router.get("/truth")
    async def truth() -> Response:
        return _json([planned.to_json() for planned in state.truth()])

    @router.get("/counters")
    async def counters() -> Response:
        return _json(state.counters())

    @router.post("/reset")
    async def reset() -> Response:
        state.reset()
        return _json({"reset": True})

    @router.get("/config")
    async def get_config() -> Response:
        return _json(state.config.to_public_dict())

    @router.post("/config")
    async def set_config(request: Request) -> Response:
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of config fields")
            new = state.configure(**changes)
        except (ValueError, TypeError) as exc:
            return _json({"detail": str(exc)}, 400)
        return _json(new.to_public_dict())

    @router.post("/replies")
    async def replies(request: Request) -> Response:
        try:
            payload = json.loads(await request.body() or b"null")
            items = payload if isinstance(payload, list) else [payload]
            ids = [
                state.inject_reply(
                    item["callMdn"],
                    item["content"],
                    user_number=item.get("userNumber") or "",
                    reply_time=item.get("replyTime"),
                )
                for item in items
            ]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return _json({"detail": f"expected {{callMdn, content, userNumber?, replyTime?}}: {exc!r}"}, 400)
        return _json({"ids": ids})

    return router


def create_app(state: SandboxState) -> FastAPI:
    """Build the ASGI app over ``state``.

    Dropped-connection faults need the server to run :func:`~yxt_provider.sandbox.protocol.sandbox_http_protocol`
    (``run_sandbox`` and the CLI do); elsewhere they degrade to HTTP 500.
    """
    app = FastAPI(title="YXT sandbox gateway", docs_url=None, redoc_url=None, openapi_url=None)

    async def drop(request: Request, endpoint: str) -> Response:
        state.count_fault(endpoint, "drop")
        if not await drop_connection(request.scope):
            log.warning("cannot drop the connection under this server; answering HTTP 500 instead")
            return Response(b"connection drop unsupported", status_code=500)
        return Response(status_code=204)  # never reaches the peer: the transport is gone

    def gateway_route(endpoint: str) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            with state.in_flight(endpoint):
                return await answer(request)

        async def answer(request: Request) -> Response:
            action = state.take_fault(endpoint)
            if action.latency:
                await asyncio.sleep(action.latency)
            if action.kind == "http_500":
                state.count_fault(endpoint, "http_500")
                return Response(b"Internal Server Error", status_code=500, media_type="text/plain")
            if action.kind == "drop":
                return await drop(request, endpoint)
            if action.kind in SPOILED_KINDS:
                state.count_fault(endpoint, action.kind)
                spoiled = spoiled_answer(action.kind)
                return Response(spoiled.body, status_code=spoiled.status, media_type=spoiled.media_type)
            body = await request.body()
            client_ip = request.client.host if request.client else None
            result = state.handle(endpoint, request.headers, client_ip, body)
            if action.kind == "accept_then_drop":
                return await drop(request, endpoint)
            if action.kind == "accept_then_500":
                state.count_fault(endpoint, "accept_then_500")
                return Response(b"Internal Server Error", status_code=500, media_type="text/plain")
            if action.kind == "accept_then_cut":
                state.count_fault(endpoint, "accept_then_cut")
                if await cut_answer(request.scope, result.envelope(), _GATEWAY_JSON):
                    return Response(status_code=204)  # never reaches the peer: the transport is closed
                return Response(b"connection cut unsupported", status_code=500)
            if action.kind == "accept_then_stall":
                state.count_fault(endpoint, "accept_then_stall")
                # The client has given up by the time this answer goes out.
                await asyncio.sleep(action.seconds)
            return Response(result.envelope(), media_type=_GATEWAY_JSON)

        route.__name__ = f"gateway_{endpoint}"
        return route

    for endpoint, path in _ROUTES.items():
        app.add_api_route(path, gateway_route(endpoint), methods=["POST"])

    control_included = state.config.control

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi() -> Response:
        # Follows runtime changes: the control plane is described only while it answers.
        served = control_included and state.config.control
        return _json(openapi_schema(control_prefix=CONTROL_PREFIX if served else None))

    if control_included:
        app.include_router(control_router(state))
    return app
