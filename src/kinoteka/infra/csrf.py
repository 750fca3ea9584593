"""Cross-site request forgery guard for server-rendered pages (the admin now, `web` later).

Two checks on every unsafe request (anything but GET, HEAD, OPTIONS, TRACE), after OWASP's
cheat sheet and Django's `CsrfViewMiddleware`:

- the browser's `Origin` (or, without one, its `Referer`) must be this site's own origin;
- a token must come back in the form field `csrftoken` or the `X-CSRF-Token` header, equal to
  the one in the signed `kinoteka_csrf` cookie (a signed double submit: another site can make
  the browser send the cookie but can neither read it nor mint one the signature accepts).

Each guard names its own cookie: the admin's lives at `Path=/admin` as `kinoteka_admin_csrf`,
the pages' at `Path=/` as `kinoteka_csrf`. Under one name, a browser that opened the admin and
then any other page of the site (its favicon will do) would send both cookies to `/admin`, and
the server would check the form against the wrong one.

Pages put the token in their forms with `csrf_token(request)` (a Jinja global of the admin);
scripts send it as the header (the admin's base template reads it from a `<meta>` tag).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FIELD = "csrftoken"
HEADER = "x-csrf-token"
COOKIE = "kinoteka_csrf"
SCOPE_KEY = "kinoteka.csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def csrf_token(request: Request) -> str:
    """The token a page rendered for `request` must send back (empty outside the guard)."""
    token: str = request.scope.get(SCOPE_KEY, "")
    return token


class CSRFMiddleware:
    """ASGI middleware refusing cross-site unsafe requests with a 403 naming the check."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        secure: bool,
        cookie_path: str = "/",
        cookie_name: str = COOKIE,
        trusted_origins: Iterable[str] = (),
        max_body_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.app = app
        self.key = hashlib.sha256(b"kinoteka.csrf\x00" + secret.encode()).digest()
        self.secure = secure
        self.cookie_path = cookie_path
        self.cookie_name = cookie_name
        self.trusted_origins = {origin.rstrip("/").lower() for origin in trusted_origins}
        self.max_body_bytes = max_body_bytes

    def _sign(self, token: str) -> str:
        mac = hmac.new(self.key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _token_of(self, cookie: str | None) -> str | None:
        if not cookie or "." not in cookie:
            return None
        token, _, signature = cookie.rpartition(".")
        return token if hmac.compare_digest(signature, self._sign(token)) else None

    def _set_cookie(self, token: str) -> str:
        parts = [f"{self.cookie_name}={token}.{self._sign(token)}", f"Path={self.cookie_path}",
                 "HttpOnly", "SameSite=Lax"]  # fmt: skip
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = self._token_of(request.cookies.get(self.cookie_name))
        fresh = token is None
        if token is None:
            token = secrets.token_urlsafe(32)
        scope[SCOPE_KEY] = token
        if scope["method"] not in SAFE_METHODS:
            refusal = self._origin_refusal(request)
            if refusal is None and fresh:
                refusal = "the form's security cookie is missing; reload the page and retry"
            if refusal is None:
                submitted = request.headers.get(HEADER)
                if submitted is None:
                    submitted, receive = await self._form_token(scope, receive)
                if submitted is None:
                    refusal = "the CSRF token is missing"
                elif not hmac.compare_digest(submitted.encode(), token.encode()):
                    refusal = "the CSRF token does not match; reload the page and retry"
            if refusal is not None:
                response = PlainTextResponse(f"Forbidden: {refusal}.", status_code=403)
                await response(scope, receive, send)
                return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("Set-Cookie", self._set_cookie(token))
                headers.add_vary_header("Cookie")
            await send(message)

        await self.app(scope, receive, send_with_cookie if fresh else send)

    def _origin_refusal(self, request: Request) -> str | None:
        own = f"{request.url.scheme}://{request.url.netloc}".lower()
        allowed = {own, *self.trusted_origins}
        origin = request.headers.get("origin")
        if origin is not None:
            if origin.lower() not in allowed:
                return f"the request comes from another site ({origin})"
            return None
        referer = request.headers.get("referer")
        if referer:
            parts = urlsplit(referer)
            if f"{parts.scheme}://{parts.netloc}".lower() not in allowed:
                return f"the request comes from another site ({parts.scheme}://{parts.netloc})"
        return None

    async def _form_token(self, scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
        """The form field's token, and a `receive` that replays the body for the app."""
        content_type = Request(scope).headers.get("content-type", "")
        if not content_type.startswith(FORM_TYPES):
            return None, receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, receive
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None, receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)

        def replay() -> Receive:
            sent = False

            async def receive_body() -> Message:
                nonlocal sent
                if sent:
                    return await receive()  # the disconnect, when it comes
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            return receive_body

        parsed = Request(scope, replay())
        try:
            async with parsed.form() as form:
                value = form.get(FIELD)
        except (MultiPartException, HTTPException):  # a malformed body carries no token
            value = None
        return (value if isinstance(value, str) else None), replay()
