"""CSRF for the pages' forms: a per-session token and a same-origin check of Origin/Referer.

Every form includes `_csrf.html` (one hidden field); every state-changing handler depends on
`check_csrf`. Kept to these two places so the admin's shared mechanism can replace it.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

FIELD = "csrf_token"
HEADER = "x-csrf-token"


class CsrfRefused(Exception):
    """A state-changing request without a valid token, or from another origin."""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: Request) -> bool:
    """Origin (or else Referer), when the browser sends one, names this site."""
    here = _origin(str(request.base_url))
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return _origin(origin) == here
    referer = request.headers.get("referer")
    if referer:
        return _origin(referer) == here
    return True  # neither sent (privacy settings): the token alone decides


def check_token(request: Request, expected: str | None, form: FormData | None) -> None:
    sent = request.headers.get(HEADER) or (str(form.get(FIELD) or "") if form else "")
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise CsrfRefused("the form's security token is missing or stale")
    if not same_origin(request):
        raise CsrfRefused("the form was sent from another site")
