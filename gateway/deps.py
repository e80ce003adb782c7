"""Request dependencies: the caller's identity headers (forwarded as gRPC metadata) and the stubs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request

from arc.benchling.v1 import benchling_service_pb2_grpc
from arc.logs.v1 import logs_service_pb2_grpc
from arc.pipelines.v1 import pipelines_service_pb2_grpc
from arc.runs.v1 import runs_service_pb2_grpc
from arc_core.identity import IDENTITY_HEADERS, USER_EMAIL_HEADER, VIA_GATEWAY_HEADER

# An IAP JWT is about 1 KB, an email at most 254 characters.
MAX_IDENTITY_HEADER_CHARS = 8192
# The web UI's dev-mode "sign in as" cookie (gateway/ui): read only when `app.state.dev_identity_cookie` is
# true (ARC_AUTH_MODE=dev), and then only when the request has no identity header of its own.
DEV_IDENTITY_COOKIE = "arc_dev_email"
# Methods that change nothing: a browser may send them from any site (a link, an <img>).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Stubs:
    runs: runs_service_pb2_grpc.RunsServiceStub
    logs: logs_service_pb2_grpc.LogsServiceStub
    pipelines: pipelines_service_pb2_grpc.PipelinesServiceStub
    benchling: benchling_service_pb2_grpc.BenchlingServiceStub


async def forwarded_identity(request: Request) -> tuple[tuple[str, str], ...]:
    """The identity headers as gRPC metadata; each service verifies them itself.

    Dependencies are ``async`` on purpose: FastAPI runs plain functions in a worker thread, which cost
    more than the whole gRPC call here.
    """
    forwarded = tuple((name, request.headers[name]) for name in IDENTITY_HEADERS if name in request.headers)
    cookie = request.cookies.get(DEV_IDENTITY_COOKIE)
    if cookie and getattr(request.app.state, "dev_identity_cookie", False) and USER_EMAIL_HEADER not in dict(forwarded):
        forwarded = (*forwarded, (USER_EMAIL_HEADER, f"accounts.google.com:{cookie}"))
    for name, value in forwarded:
        # gRPC metadata values are printable ASCII (anything else fails the call itself: a 500) and the
        # metadata of a call is capped at 16 KiB (past it, a RESOURCE_EXHAUSTED that would read as a 429).
        if len(value) > MAX_IDENTITY_HEADER_CHARS:
            raise HTTPException(401, f"the {name} header is longer than {MAX_IDENTITY_HEADER_CHARS} characters")
        if not all(" " <= char <= "~" for char in value):
            raise HTTPException(401, f"the {name} header is not printable ASCII")
    return (*forwarded, (VIA_GATEWAY_HEADER, "1"))


def _cross_origin(request: Request) -> bool:
    """Whether a browser says the request comes from another origin: ``Sec-Fetch-Site`` (every current browser
    sends it), else an ``Origin`` naming another host. Clients that are no browser send neither."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    # The host only: behind a TLS-terminating proxy the app may see http while the browser says https.
    return origin == "null" or urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


async def refuse_cross_site(request: Request) -> None:
    """An app-wide dependency: a change (POST, PATCH, DELETE...) that a browser sends from another origin is a
    403. A form post needs no preflight and carries the browser's cookies (the dev "sign in as" cookie to any
    page on the same site, IAP's session), so without this any page could purge a run (``POST .../purge``
    has no body) or sign the browser in as someone else (``POST /signin``)."""
    if request.method not in SAFE_METHODS and _cross_origin(request):
        raise HTTPException(403, "cross-origin requests may not change anything")


async def stubs(request: Request) -> Stubs:
    return request.app.state.stubs


CallerMetadata = Annotated[tuple[tuple[str, str], ...], Depends(forwarded_identity)]
Backends = Annotated[Stubs, Depends(stubs)]
