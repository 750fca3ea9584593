"""The CSRF guard on its own, as the `web` pages will mount it: any ASGI app behind it."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kinoteka.infra.csrf import COOKIE, CSRFMiddleware, csrf_token

ORIGIN = "http://site.test"


async def echo(request: Request) -> JSONResponse:
    async with request.form() as form:
        fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
        files = {key: len(await value.read()) for key, value in form.items()
                 if not isinstance(value, str)}  # fmt: skip
    return JSONResponse({"token": csrf_token(request), "fields": fields, "files": files})


def client(secure: bool = False) -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/form", echo, methods=["GET", "POST"])],
        middleware=[Middleware(CSRFMiddleware, secret="s" * 32, secure=secure)],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN)


async def test_the_body_reaches_the_app_whole_after_the_token_is_read() -> None:
    async with client() as http:
        token = (await http.get("/form")).json()["token"]
        form = await http.post(
            "/form", data={"csrftoken": token, "name": "Drama"},
            files={"poster": ("p.bin", b"x" * 300_000, "application/octet-stream")},
        )  # fmt: skip
        assert form.status_code == 200
        assert form.json()["fields"] == {"csrftoken": token, "name": "Drama"}
        assert form.json()["files"] == {"poster": 300_000}
        plain = await http.post("/form", data={"csrftoken": token, "name": "Comedy"})
        assert plain.json()["fields"]["name"] == "Comedy"


async def test_a_forged_or_missing_cookie_is_refused() -> None:
    async with client() as http:
        token = (await http.get("/form")).json()["token"]
        http.cookies.set(COOKIE, f"{token}.forged-signature")
        forged = await http.post("/form", data={"csrftoken": token})
        assert forged.status_code == 403
        http.cookies.clear()
        assert (await http.post("/form", data={"csrftoken": token})).status_code == 403
    async with client() as other:  # another visitor's token does not fit this one's cookie
        await other.get("/form")
        stranger = await other.post("/form", data={"csrftoken": token})
        assert stranger.status_code == 403


async def test_the_cookie_is_http_only_lax_and_secure_when_asked() -> None:
    async with client(secure=True) as http:
        page = await http.get("/form")
        cookie = page.headers["set-cookie"].lower()
        assert {"httponly", "samesite=lax", "secure"} <= {p.strip() for p in cookie.split(";")}
        assert page.headers["vary"] == "Cookie"
