"""The ASGI app of ``workbench serve``: executions, their events, approvals, costs, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from workbench.errors import (
    AgentNotFound,
    ApprovalNotFound,
    AuthenticationFailed,
    ConfigError,
    ExecutionNotFound,
    GatewayRejected,
    InputInvalid,
    InputTooLarge,
    RateLimited,
    ServiceError,
    TraceStoreError,
    WorkbenchError,
)
from workbench.gateway import AdmissionRequest, Gateway, Principal, RedisRateLimiter
from workbench.runtime import Runtime, new_execution_id
from workbench.server._cluster import Cluster, Router
from workbench.server._config import ServeConfig
from workbench.server._events import EventStream
from workbench.server._metrics import MetricsExporter, ServerMetrics
from workbench.server._models import (
    ApprovalView,
    CostReport,
    DecisionAccepted,
    DecisionRequest,
    ErrorBody,
    ExecutionAccepted,
    ExecutionRequest,
    ExecutionView,
)
from workbench.server._shadow import LiveShadow
from workbench.server._state import OPEN_STATUSES, ServerState
from workbench.settings import Settings, get_settings
from workbench.tracing import SpoolExporter, Tracer, TraceStore, cost_query

__all__ = ["create_app", "error_response"]

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_ASGI = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer wbk_...`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: wbk_...`")


# Both dependencies are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in
# a worker thread, a thread hop that cost about 0.6 ms a request (benchmarks/serve_load.py).
async def _secret(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    key: Annotated[str | None, Depends(_api_key)],
) -> str | None:
    if bearer is not None and bearer.scheme.lower() == "bearer":
        return bearer.credentials
    return key


async def _principal(
    request: Request, secret: Annotated[str | None, Depends(_secret)]
) -> Principal:
    state: ServerState = request.app.state.server
    return state.gateway.keys.authenticate(secret)


Key = Annotated[str | None, Depends(_secret)]
Caller = Annotated[Principal, Depends(_principal)]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (401, *statuses)}


def _status_of(exc: WorkbenchError) -> int:
    if isinstance(exc, GatewayRejected):
        return exc.http_status
    if isinstance(exc, ExecutionNotFound | ApprovalNotFound | AgentNotFound):
        return 404
    if isinstance(exc, ConfigError):
        return 422
    if isinstance(exc, TraceStoreError | ServiceError):
        return 503
    return 500


def _model_response(
    model: BaseModel, status_code: int, headers: dict[str, str] | None = None
) -> Response:
    # Serialised once by pydantic's Rust core: returning the model would make FastAPI
    # validate it again against the response model and encode it through jsonable_encoder.
    return Response(
        model.model_dump_json(),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def _prefer_wait(prefer: str | None) -> float | None:
    """The seconds of an RFC 7240 ``Prefer: wait=N`` header; None without a valid one."""
    if not prefer:
        return None
    for preference in prefer.split(","):
        name, _, value = preference.partition("=")
        if name.strip().lower() == "wait":
            seconds = value.split(";", 1)[0].strip().strip('"')
            # RFC 7240 says delta-seconds; anything else is ignored, as unknown preferences are.
            return float(seconds) if seconds.isdigit() else None
    return None


def error_response(exc: WorkbenchError) -> JSONResponse:
    """The typed JSON answer of ``exc``, with ``Retry-After`` / ``WWW-Authenticate`` headers."""
    status = _status_of(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if isinstance(exc, AuthenticationFailed):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(exc.to_dict(), status_code=status, headers=headers)


class _Edge:
    """Pure ASGI middleware: the body-size limit and per-route HTTP metrics (cheap on purpose)."""

    def __init__(self, app: _ASGI, *, max_body_bytes: int, metrics: ServerMetrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                too_large = InputTooLarge(
                    f"request body of {int(value)} bytes is over the server's limit of "
                    f"{self.max_body_bytes} (max_body_bytes)"
                )
                await error_response(too_large)(scope, receive, send)
                self._count(scope, 413, started)
                return

        async def counting_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                self._count(scope, status[0], started)
            await send(message)

        await self.app(scope, receive, counting_send)

    def _count(self, scope: _Scope, status: int, started: float) -> None:
        if "workbench.forwarded_to" in scope:
            route = "(forwarded)"  # counted under its route by the worker that answered it
        else:
            route = getattr(scope.get("route"), "path", None) or "(unmatched)"
        self.metrics.http_requests.labels(route=route, status=str(status)).inc()
        self.metrics.http_latency.labels(route=route).observe(time.perf_counter() - started)


def create_app(
    config: ServeConfig,
    *,
    settings: Settings | None = None,
    gateway: Gateway | None = None,
    shadow_seed: int | None = None,
    cluster: Cluster | None = None,
) -> FastAPI:
    """Build the HTTP API over one runtime and one gateway.

    Args:
        config: What to serve (``ServeConfig.from_dir`` / ``from_yaml``).
        settings: The workbench home; from the environment if omitted.
        gateway: Admits requests; a ``Gateway`` on this home's keys and ledger if omitted.
        shadow_seed: Seed of the shadow sampling draw (tests).
        cluster: This worker's place among ``workbench serve --workers N``'s processes:
            execution ids are minted for it, and requests about another worker's
            executions are forwarded there (see :class:`Cluster`). One process if omitted.

    Returns:
        The FastAPI app; ``app.state.server`` is its :class:`ServerState`.

    Raises:
        ConfigError: A served agent's spec does not load.
    """
    settings = settings or get_settings()
    agents = config.load()
    metrics = ServerMetrics(multiprocess_dir=_multiprocess_dir(cluster))
    tracer = Tracer([SpoolExporter(settings.spool_dir), MetricsExporter(metrics)])
    if gateway is None:
        # One rate across every worker and server sharing the Redis (else this process's).
        limiter = RedisRateLimiter(config.rate_limit_url) if config.rate_limit_url else None
        gateway = Gateway(tracer=tracer, rate_limiter=limiter)
    else:
        gateway.tracer = tracer
    runtime = Runtime(settings, tracer=tracer, ledger=gateway.ledger)
    shadow = LiveShadow(
        runtime,
        tracer,
        metrics,
        queue_size=config.shadow_queue_size,
        workers=config.shadow_workers,
        seed=shadow_seed,
    )
    state = ServerState(
        config=config,
        agents=agents,
        gateway=gateway,
        runtime=runtime,
        tracer=tracer,
        metrics=metrics,
        shadow=shadow,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        shadow.start(warm=any(a.shadow is not None for a in agents.values()))
        # The runtime imports litellm on its first execution, seconds on these machines:
        # done before the first request instead (with several workers, a cold one would
        # hold up whichever requests the kernel hands it first).
        await asyncio.to_thread(importlib.import_module, "litellm")
        try:
            yield
        finally:
            await state.aclose()
            await asyncio.to_thread(shadow.close)
            await runtime.aclose()
            await asyncio.to_thread(tracer.flush)

    app = FastAPI(
        title="agent-workbench",
        version="1",
        description="Run agents behind the gateway; stream their steps; decide approvals; "
        "read costs. Every error is `{code, type, message}` with the codes of docs/errors.md.",
        lifespan=lifespan,
    )
    app.state.server = state
    _document_gateway_rules(app, gateway)
    if cluster is not None and cluster.count > 1:
        # Inside the edge: the body limit and the HTTP metrics apply to relayed requests too.
        app.add_middleware(Router, cluster=cluster, runtime=runtime, on_error=error_response)
    app.add_middleware(_Edge, max_body_bytes=config.max_body_bytes, metrics=metrics)
    mint = cluster.new_execution_id if cluster is not None else new_execution_id

    @app.exception_handler(WorkbenchError)
    async def on_workbench_error(_: Request, exc: WorkbenchError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or '<root>'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return error_response(InputInvalid(f"invalid request: {problems}"))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not JSON at all
            return error_response(InputInvalid(f"invalid request body: {exc.detail}"))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {"code": code, "type": "HTTPException", "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.post(
        "/v1/executions",
        status_code=202,
        response_model=ExecutionAccepted,
        responses={
            200: {
                "model": ExecutionView,
                "description": "Only with `wait` (or `Prefer: wait=N`): the execution stopped "
                "running within the wait; the body is its final view, as `GET` would answer",
            },
            **_errors(402, 403, 404, 413, 422, 429),
        },
        summary="Run an agent on a task (admitted by the gateway; runs in the background)",
    )
    async def create_execution(
        body: ExecutionRequest,
        secret: Key,
        wait: Annotated[
            float | None,
            Query(
                ge=0,
                le=3600,
                description="Seconds to wait for the execution to stop running: 200 with its "
                "view if it does (one round trip for short executions), else 202 as without. "
                "Capped by the server's `max_wait_s`.",
            ),
        ] = None,
        prefer: Annotated[
            str | None,
            Header(description="RFC 7240 `wait=N`: the same as the `wait` query parameter"),
        ] = None,
    ) -> Response:
        admission = state.gateway.admit(
            AdmissionRequest(api_key=secret, agent=body.agent, task=body.task, input=body.input)
        )
        agent = state.agents.get(body.agent)
        if agent is None:
            raise AgentNotFound(f"this server serves no agent {body.agent!r}")
        execution_id = mint()
        served = state.start(agent, admission, execution_id=execution_id, thread_id=body.thread_id)
        asked = wait if wait is not None else _prefer_wait(prefer)
        if asked is not None and served.task is not None:
            # asyncio.wait never cancels: past the wait the execution goes on in the background.
            await asyncio.wait({served.task}, timeout=min(asked, config.max_wait_s))
            if served.status not in OPEN_STATUSES:
                headers = {"Preference-Applied": f"wait={asked:g}"} if wait is None else None
                return _model_response(served.view(), 200, headers)
        accepted = ExecutionAccepted(
            execution_id=execution_id,
            status="running",
            agent=body.agent,
            events_url=f"/v1/executions/{execution_id}/events",
        )
        return _model_response(accepted, 202)

    @app.get(
        "/v1/executions/{execution_id}",
        response_model=ExecutionView,
        responses=_errors(404),
        summary="An execution's status and result",
    )
    async def get_execution(execution_id: str, caller: Caller) -> Response:
        return _model_response(state.get(execution_id, caller.name).view(), 200)

    @app.get(
        "/v1/executions/{execution_id}/events",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "Server-sent events: `step` (a StepEvent) per step, then one "
                "`status` (the ExecutionView) when it stops running",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **_errors(404),
        },
        summary="Stream an execution's steps as server-sent events",
    )
    async def stream_events(execution_id: str, caller: Caller) -> StreamingResponse:
        return EventStream(state.get(execution_id, caller.name))

    @app.post(
        "/v1/executions/{execution_id}/stop",
        status_code=202,
        response_model=ExecutionView,
        responses=_errors(404),
        summary="Ask an execution to stop at its next step",
    )
    async def stop_execution(execution_id: str, caller: Caller) -> ExecutionView:
        served = state.get(execution_id, caller.name)
        state.runtime.request_stop(execution_id)
        return served.view()

    @app.get(
        "/v1/approvals",
        response_model=list[ApprovalView],
        responses=_errors(),
        summary="The caller's tool calls waiting at approval gates",
    )
    async def list_approvals(caller: Caller) -> list[ApprovalView]:
        return [ApprovalView.of(a) for a in state.pending_approvals(caller.name)]

    @app.post(
        "/v1/approvals/{approval_id}",
        status_code=202,
        response_model=DecisionAccepted,
        responses=_errors(404, 422),
        summary="Approve or deny a paused tool call; its execution resumes",
    )
    async def decide(approval_id: str, body: DecisionRequest, caller: Caller) -> DecisionAccepted:
        approval, served = state.decide(
            approval_id, caller.name, approve=body.approve, reason=body.reason
        )
        return DecisionAccepted(
            approval_id=approval.id,
            execution_id=approval.execution_id,
            decision="approved" if body.approve else "denied",
            events_url=f"/v1/executions/{served.execution_id}/events",
        )

    @app.get(
        "/v1/costs",
        response_model=CostReport,
        responses=_errors(422, 503),
        summary="The caller's USD and tokens grouped by version, day and/or tool",
    )
    async def costs(
        caller: Caller,
        by: Annotated[
            str, Query(description="Comma-separated: version, day, principal, tool")
        ] = "version",
    ) -> CostReport:
        dims = [d.strip() for d in by.split(",") if d.strip()]
        try:
            query = cost_query(dims)
        except ValueError as exc:
            raise InputInvalid(str(exc), principal=caller.name) from None
        store = TraceStore(settings.trace_store_path, spool_dir=settings.spool_dir)
        rows = await asyncio.to_thread(_principal_costs, store, query, caller.name)
        return CostReport(by=dims, rows=rows)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        jobs = await _job_queue_depth(config.queue_url) if config.queue_url else None
        return Response(metrics.exposition(jobs_depth=jobs), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "agents": sorted(state.agents)}

    return app


def _multiprocess_dir(cluster: Cluster | None) -> Path | None:
    # prometheus_client keeps values in files when this was set as it was imported: the
    # supervisor of `--workers` sets it for its workers (to <run_dir>/metrics).
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if cluster is None or cluster.count == 1 or not folder:
        return None
    return Path(folder)


def _document_gateway_rules(app: FastAPI, gateway: Gateway) -> None:
    """Put the gateway's static input rules into the OpenAPI document of the request body:
    no banned control characters in ``task``, its size, and the input JSON Schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        props = doc["components"]["schemas"]["ExecutionRequest"]["properties"]
        config = gateway.config
        allowed = {ord(c) for c in config.allowed_control_chars}
        banned = [c for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if c not in allowed]
        ranges = "".join(f"\\u{c:04x}" for c in banned)
        props["task"]["pattern"] = f"^[^{ranges}]*$"
        # UTF-8 takes at most 4 bytes a character; the exact limit is on bytes (413).
        props["task"]["maxLength"] = max(1, config.max_input_bytes // 4)
        if config.input_schema is not None:
            props["input"] = {**config.input_schema, "title": "Input"}
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _principal_costs(store: TraceStore, query: str, principal: str) -> list[dict[str, Any]]:
    # The cost query, over only this principal's spans: a CTE named `spans` shadows the
    # table for the rest of the statement.
    scoped = (
        "WITH spans AS (SELECT * FROM main.spans WHERE execution_id IN "
        "(SELECT execution_id FROM main.executions WHERE principal = ?)), "
        + query.removeprefix("WITH ")
    )
    frame = store.sql(scoped, [principal])
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return rows


async def _job_queue_depth(url: str) -> float:
    from workbench.queue import JobQueue

    queue = JobQueue(url)
    try:
        return float(await queue.apending())
    except Exception:
        return math.nan
    finally:
        await queue.aclose()
