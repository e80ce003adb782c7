"""The UI's pages. Each one gets its first paint the way the REST routes get their bodies: it calls the very
route functions of ``gateway/routers`` (the same gRPC calls with the caller's metadata), never a private
endpoint. The browser then follows the public REST and SSE routes itself (``static/*.js``)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from arc.runs.v1 import runs_service_pb2
from arc_core.contracts.run_status import STATUSES, TERMINAL
from arc_core.identity import DEV_DEFAULT_EMAIL, USER_EMAIL_HEADER, strip_iap_prefix
from gateway.deps import DEV_IDENTITY_COOKIE, Backends, CallerMetadata
from gateway.paging import DEFAULT_PAGE_SIZE
from gateway.routers import logs as logs_routes
from gateway.routers import pipelines as pipelines_routes
from gateway.routers import runs as runs_routes
from gateway.ui.format import duration, run_duration, timestamp

MAX_EMAIL_CHARS = 254

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["timestamp"] = timestamp
templates.env.filters["duration"] = duration
templates.env.globals["run_duration"] = run_duration
templates.env.globals["terminal"] = TERMINAL

router = APIRouter(include_in_schema=False)

# Every asset is the gateway's own: no inline script, no CDN, no framing. A page shows its viewer's runs (and
# who they are): no cache, shared or the browser's, keeps it for the next person or a back button after sign-out.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _dev_mode(request: Request) -> bool:
    return bool(getattr(request.app.state, "dev_identity_cookie", False))


async def _viewer(request: Request, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    """Who is signed in: ``GetCurrentUser`` when the Runs service answers it, else what the headers say."""
    try:
        user = await backends.runs.GetCurrentUser(runs_service_pb2.GetCurrentUserRequest(), metadata=metadata)
        return {"email": user.email, "is_admin": user.is_admin}
    except grpc.aio.AioRpcError as exc:
        # Until issue 11's who-am-I lands the RPC is not implemented (UNIMPLEMENTED, or INTERNAL from the bare
        # generated servicer); only an identity problem stops the page here, the rest shows in its own call.
        if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            raise
    raw = dict(metadata).get(USER_EMAIL_HEADER, "")
    email = strip_iap_prefix(raw) if raw else (DEV_DEFAULT_EMAIL if _dev_mode(request) else "")
    return {"email": email, "is_admin": False}


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    context = {"dev_mode": _dev_mode(request), "viewer": None, **context}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(_PAGE_HEADERS)
    return response


def _rpc_error_page(request: Request, exc: grpc.aio.AioRpcError, viewer: dict[str, Any] | None) -> Response:
    code = exc.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return _page(request, "not_found.html", {"viewer": viewer}, status_code=404)
    status = {grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.PERMISSION_DENIED: 403}.get(code, 502)
    context = {"viewer": viewer, "code": code.name, "message": exc.details() or code.name}
    return _page(request, "error.html", context, status_code=status)


def _list_runs_args(status: str, pipeline: str, q: str, user: str, page: int) -> dict[str, Any]:
    args: dict[str, Any] = {
        "status": status or None,
        "pipeline": pipeline or None,
        "user": user or None,
        "page": page,
        "page_size": DEFAULT_PAGE_SIZE,
        "page_token": None,
    }
    # The name search arrives with issue 11's `q`; until the route takes it, the search box is ignored.
    if q and "q" in inspect.signature(runs_routes.list_runs).parameters:
        args["q"] = q
    return args


@router.get("/", response_class=HTMLResponse)
async def runs_page(
    request: Request,
    backends: Backends,
    metadata: CallerMetadata,
    status: str = "",
    pipeline: str = "",
    q: str = "",
    user: str = "",
    page: int = 1,
) -> Response:
    """The caller's runs (an admin's: everyone's), newest first, filtered by the query string."""
    page = min(max(page, 1), 10_000)
    viewer = None
    try:
        viewer = await _viewer(request, backends, metadata)
        listing = await runs_routes.list_runs(backends, metadata, **_list_runs_args(status, pipeline, q, user, page))
        pipelines = await pipelines_routes.list_pipelines(backends, metadata, page_size=0, page_token="")
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
            return _rpc_error_page(request, exc, viewer)
        listing, pipelines = {"runs": [], "total": 0}, {"pipelines": []}
        problem = exc.details()
    else:
        problem = None
    filters = {"status": status, "pipeline": pipeline, "q": q, "user": user}
    pages = max(1, -(-int(listing["total"]) // DEFAULT_PAGE_SIZE))

    def page_link(number: int) -> str:
        return "/?" + urlencode({**{k: v for k, v in filters.items() if v}, "page": number})

    context = {
        "viewer": viewer,
        "runs": listing["runs"],
        "total": listing["total"],
        "filters": filters,
        "statuses": STATUSES,
        "pipelines": [p["name"] for p in pipelines["pipelines"]],
        "page": page,
        "pages": pages,
        "previous_link": page_link(page - 1) if page > 1 else None,
        "next_link": page_link(page + 1) if page < pages else None,
        "problem": problem,
        "show_user": bool(viewer and viewer["is_admin"])
        or any(r["user_email"] != (viewer or {}).get("email") for r in listing["runs"]),
    }
    return _page(request, "runs.html", context)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(run_id: str, request: Request, backends: Backends, metadata: CallerMetadata) -> Response:
    """One run: a stranger's run, or a missing one, is the same 404 page."""
    viewer = None
    try:
        viewer = await _viewer(request, backends, metadata)
        run = await runs_routes.get_run(run_id, backends, metadata)
        files = await runs_routes.list_run_files(run_id, backends, metadata)
        tasks = await logs_routes.list_tasks(
            run_id, backends, metadata, status=None, process=None, page=1, page_size=DEFAULT_PAGE_SIZE, page_token=None
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:  # a malformed run id names no run either
            return _page(request, "not_found.html", {"viewer": viewer}, status_code=404)
        return _rpc_error_page(request, exc, viewer)
    context = {"viewer": viewer, "run": run, "files": files, "tasks": tasks, "page_size": DEFAULT_PAGE_SIZE}
    return _page(request, "run.html", context)


# --- dev-mode "sign in as" ---


def _email_problem(email: str) -> str | None:
    if not email:
        return "Enter an email address."
    if len(email) > MAX_EMAIL_CHARS or "@" not in email or not all("!" <= c <= "~" for c in email):
        return "Enter an email address such as alice@example.com."
    return None


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request) -> Response:
    if not _dev_mode(request):
        return _page(request, "not_found.html", {}, status_code=404)
    current = request.cookies.get(DEV_IDENTITY_COOKIE, "")
    return _page(request, "signin.html", {"email": current, "problem": None})


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    """Sets the dev identity cookie (a plain form post: no JavaScript needed)."""
    if not _dev_mode(request):
        return _page(request, "not_found.html", {}, status_code=404)
    body = await request.body()
    form = parse_qs(body.decode("utf-8", "replace")[:4096])
    email = (form.get("email") or [""])[0].strip().lower()
    problem = _email_problem(email)
    if problem:
        return _page(request, "signin.html", {"email": email, "problem": problem}, status_code=400)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(DEV_IDENTITY_COOKIE, email, httponly=True, samesite="lax", path="/")
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    response = RedirectResponse("/signin" if _dev_mode(request) else "/", status_code=303)
    response.delete_cookie(DEV_IDENTITY_COOKIE, path="/", httponly=True, samesite="lax")
    return response
