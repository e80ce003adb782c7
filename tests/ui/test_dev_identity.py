"""The "sign in as" cookie is the identity in dev mode only; an identity header always wins over it."""

from __future__ import annotations

import httpx

from arc_core.settings import Settings
from gateway.deps import DEV_IDENTITY_COOKIE, forwarded_identity
from gateway.main import create_app

IAP = {"auth_mode": "iap", "iap_audience": "/projects/1/global/backendServices/2"}


def request(app, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    from starlette.requests import Request

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "app": app, "headers": raw, "method": "GET", "path": "/", "query_string": b""})


async def test_dev_mode_reads_the_cookie() -> None:
    app = create_app(Settings())
    got = dict(await forwarded_identity(request(app, {"cookie": f"{DEV_IDENTITY_COOKIE}=alice@example.com"})))
    assert got["x-goog-authenticated-user-email"] == "accounts.google.com:alice@example.com"


async def test_the_header_wins_over_the_cookie() -> None:
    app = create_app(Settings())
    headers = {
        "cookie": f"{DEV_IDENTITY_COOKIE}=alice@example.com",
        "x-goog-authenticated-user-email": "accounts.google.com:bob@example.com",
    }
    got = await forwarded_identity(request(app, headers))
    assert [v for k, v in got if k == "x-goog-authenticated-user-email"] == ["accounts.google.com:bob@example.com"]


async def test_iap_mode_ignores_the_cookie_and_has_no_signin_page() -> None:
    app = create_app(Settings(**IAP))
    got = dict(await forwarded_identity(request(app, {"cookie": f"{DEV_IDENTITY_COOKIE}=alice@example.com"})))
    assert "x-goog-authenticated-user-email" not in got
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        assert (await client.get("/signin")).status_code == 404
        assert (await client.post("/signin", data={"email": "alice@example.com"})).status_code == 404
        assert "set-cookie" not in (await client.post("/signin", data={"email": "a@b.c"})).headers


async def test_signin_refuses_what_is_not_an_email() -> None:
    app = create_app(Settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        bad = await client.post("/signin", data={"email": "not an email"})
        assert bad.status_code == 400 and "set-cookie" not in bad.headers
        good = await client.post("/signin", data={"email": "Alice@Example.com"})
        assert good.status_code == 303 and good.headers["location"] == "/"
        cookie = good.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "alice@example.com" in cookie


async def test_a_cross_site_change_is_refused_before_it_reaches_a_route() -> None:
    """A form post needs no preflight and carries cookies: from another origin it must not sign anyone in, nor
    purge a run (its POST has no body)."""
    app = create_app(Settings())
    cookie = {"cookie": f"{DEV_IDENTITY_COOKIE}=alice@example.com"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        for headers in (
            {"sec-fetch-site": "cross-site"},
            {"sec-fetch-site": "same-site"},  # another port of localhost: the cookie goes along
            {"origin": "http://evil.example"},
            {"origin": "null"},
        ):
            signin = await client.post("/signin", data={"email": "mallory@example.com"}, headers=headers)
            assert signin.status_code == 403 and "set-cookie" not in signin.headers, headers
            assert signin.json()["error"]["code"] == "PERMISSION_DENIED"
            purge = await client.post("/api/runs/run-abcdef12/purge", headers={**headers, **cookie})
            assert purge.status_code == 403, headers
        # The UI's own form and scripts, and clients that are no browser, get through.
        for headers in ({"sec-fetch-site": "same-origin"}, {"origin": "http://gateway"}, {}):
            signin = await client.post("/signin", data={"email": "alice@example.com"}, headers=headers)
            assert signin.status_code == 303, headers
        # Reading is never refused: a link from anywhere may open a page.
        assert (await client.get("/signin", headers={"sec-fetch-site": "cross-site"})).status_code == 200
