"""Account pages: sign in, sign up, password reset, the account page, sign out, language."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kinoteka import auth, content, notify
from kinoteka.web.account_text import device_name, explain, outcome_name
from kinoteka.web.i18n import LANG_COOKIE, LOCALES, N_, language_menu
from kinoteka.web.kit import WebKit, page_route, safe_next
from kinoteka.web.opinions import read_account_opinions
from kinoteka.web.paging import MAX_PAGE, Pager
from kinoteka.web.session import client_info

log = structlog.get_logger(__name__)

HISTORY_PAGE = 10
DEAD_RESET_LINK = N_("This reset link is used or expired. Enter your email to get a new one.")
DEAD_CONFIRM_LINK = N_("This confirmation link is used or unknown. If you followed it before, "
                       "your email is confirmed already.")  # fmt: skip
SOCIAL_COOKIE = "kinoteka_social"
SOCIAL_TTL = 600


def _field(form: Any, name: str, limit: int = 500) -> str:
    return str(form.get(name) or "")[:limit]


def accounts_router(kit: WebKit) -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=page_route(kit))

    def said(request: Request, error: auth.AuthError) -> str:
        """Auth's `error` in the page's language."""
        min_length = kit.services.settings.auth.password_min_length
        return explain(kit.strings(request), error, min_password_length=min_length)

    async def sign_in_page(
        request: Request, *, error: str | None = None, email: str = "", status_code: int = 200
    ) -> Response:
        next_url = safe_next(request.query_params.get("next"))
        code = request.query_params.get("notice")
        if code is None and next_url.endswith("/watch"):
            code = "sign_in_to_watch"
        return await kit.render(
            request,
            "signin.html",
            {
                "error": error,
                "email": email,
                "next": next_url,
                "notice": kit.notice(request, code),
                "providers": sorted(kit.services.settings.auth.oauth_providers),
            },
            status_code=status_code,
        )

    @router.get("/signin", name="web_signin")
    async def signin_form(request: Request) -> Response:
        return await sign_in_page(request)

    @router.post("/signin")
    async def signin(request: Request) -> Response:
        form = await kit.form(request)
        email, password = _field(form, "email", 320), _field(form, "password", 1000)
        next_url = safe_next(_field(form, "next") or request.query_params.get("next"))
        try:
            async with kit.services.db.session() as db:
                pair = await auth.log_in(
                    db, auth.get_auth_kit(kit.services), email, password, client_info(request)
                )
        except auth.TooManyAttempts as error:
            return await sign_in_page(
                request, error=said(request, error), email=email, status_code=429
            )
        except auth.AuthError:
            message = kit.strings(request).gettext("Wrong email or password.")
            return await sign_in_page(request, error=message, email=email, status_code=400)
        await kit.sessions.sign_in(request, pair, email.strip().lower())
        log.info("web.signin", user_id=str(pair.claims.subject))
        return kit.redirect(request, next_url)

    async def sign_up_page(
        request: Request, *, error: str | None = None, email: str = "", status_code: int = 200
    ) -> Response:
        return await kit.render(
            request,
            "signup.html",
            {"error": error, "email": email, "next": safe_next(request.query_params.get("next"))},
            status_code=status_code,
        )

    @router.get("/signup", name="web_signup")
    async def signup_form(request: Request) -> Response:
        return await sign_up_page(request)

    @router.post("/signup")
    async def signup(request: Request) -> Response:
        form = await kit.form(request)
        strings = kit.strings(request)
        email, password = _field(form, "email", 320), _field(form, "password", 1000)
        if password != _field(form, "password_repeat", 1000):
            message = strings.gettext("The two passwords differ.")
            return await sign_up_page(request, error=message, email=email, status_code=400)
        client = client_info(request)
        auth_kit = auth.get_auth_kit(kit.services)
        try:
            async with kit.services.db.session() as db:
                user, pair = await auth.sign_up(db, auth_kit, email, password, client)
                # Mail is written in the language of the pages the account was made on; the
                # welcome mail reads it after this commit (auth's outbox is in it too).
                await notify.set_mail_locale(db, user.id, strings.locale)
        except auth.AuthError as error:
            status_code = 429 if isinstance(error, auth.TooManyAttempts) else 400
            return await sign_up_page(
                request, error=said(request, error), email=email, status_code=status_code
            )
        await kit.sessions.sign_in(request, pair, email.strip().lower())
        log.info("web.signup", user_id=str(pair.claims.subject))
        return kit.redirect(request, safe_next(_field(form, "next")))

    async def reset_page(request: Request, **context: Any) -> Response:
        status_code = int(context.pop("status_code", 200))
        return await kit.render(request, "reset.html", context, status_code=status_code)

    @router.get("/password-reset", name="web_reset")
    async def reset_form(
        request: Request, token: Annotated[str | None, Query(max_length=200)] = None
    ) -> Response:
        if token is None:
            return await reset_page(request, sent=False)
        # The link from the reset mail: the code is filled in, only the password is asked.
        async with kit.services.db.session() as db:
            usable = bool(token) and await auth.reset_token_usable(db, token)
        if not usable:
            message = kit.strings(request).gettext(DEAD_RESET_LINK)
            response = await reset_page(request, sent=False, error=message, status_code=400)
        else:
            response = await reset_page(request, sent=True, code=token, from_link=True)
        # The address holds a credential: no other site learns it from a Referer. Not
        # `no-referrer`: with it Chromium sends `Origin: null` with the page's own form, which
        # the CSRF check refuses as another site's.
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @router.get("/email/confirm", name="web_confirm_email")
    async def confirm_email(
        request: Request, token: Annotated[str, Query(max_length=512)] = ""
    ) -> Response:
        """The welcome mail's link: the account's email is verified, the home page says so."""
        try:
            async with kit.services.db.session() as db:
                await auth.confirm_email(db, token)
        except auth.InvalidResetToken:
            text = kit.strings(request).gettext(DEAD_CONFIRM_LINK)
            problem = {"message": text, "status": 400}
            response = await kit.render(request, "problem.html", problem, status_code=400)
            response.headers["Referrer-Policy"] = "same-origin"
            return response
        return kit.redirect(request, "/?notice=email_confirmed")

    @router.post("/password-reset")
    async def reset_request(request: Request) -> Response:
        form = await kit.form(request)
        email = _field(form, "email", 320)
        try:
            async with kit.services.db.session() as db:
                await auth.request_password_reset(db, auth.get_auth_kit(kit.services), email)
        except auth.AuthError as error:
            status_code = 429 if isinstance(error, auth.TooManyAttempts) else 400
            return await reset_page(
                request, sent=False, error=said(request, error), status_code=status_code
            )
        return await reset_page(request, sent=True, email=email)

    @router.post("/password-reset/confirm")
    async def reset_confirm(request: Request) -> Response:
        form = await kit.form(request)
        code, password = _field(form, "code", 200).strip(), _field(form, "password", 1000)
        from_link = _field(form, "from_link") == "1"
        try:
            async with kit.services.db.session() as db:
                await auth.reset_password(db, auth.get_auth_kit(kit.services), code, password)
        except auth.InvalidResetToken as error:
            # A dead code: the page offers to send a new one.
            return await reset_page(request, sent=False, error=said(request, error),
                                    status_code=400)  # fmt: skip
        except auth.AuthError as error:
            # A password the policy refuses: the code stays, the visitor tries another.
            return await reset_page(request, sent=True, code=code, from_link=from_link,
                                    error=said(request, error), status_code=400)  # fmt: skip
        return kit.redirect(request, "/signin?notice=password_reset")

    @router.get("/signin/{provider}", name="web_social")
    async def social_start(request: Request, provider: str, next: str | None = None) -> Response:
        oauth = kit.oauth()
        if oauth is None or provider not in kit.services.settings.auth.oauth_providers:
            raise content.NotFound("provider")
        # Authlib keeps the state, nonce and PKCE verifier in `request.session`; what it adds
        # is moved to the cache under a short-lived cookie, for the callback to find.
        session = request.scope.setdefault("session", {})
        before = set(session.keys())
        redirect_uri = str(request.url_for("web_social_callback", provider=provider))
        response = await auth.start_social_login(oauth, provider, request, redirect_uri)
        handoff = {name: session[name] for name in list(session.keys()) if name not in before}
        for name in handoff:
            del session[name]
        key = secrets.token_urlsafe(24)
        locale = kit.strings(request).locale  # an account made on the way back mails in it
        state = {"session": handoff, "next": safe_next(next), "locale": locale}
        await kit.services.cache.set(f"web:oauth:{key}", json.dumps(state), ttl=SOCIAL_TTL)
        response.set_cookie(
            SOCIAL_COOKIE, key, max_age=SOCIAL_TTL, path="/signin", secure=kit.sessions.secure,
            httponly=True, samesite="lax",
        )  # fmt: skip
        return response

    @router.get("/signin/{provider}/callback", name="web_social_callback")
    async def social_callback(request: Request, provider: str) -> Response:
        oauth = kit.oauth()
        if oauth is None or provider not in kit.services.settings.auth.oauth_providers:
            raise content.NotFound("provider")
        key = request.cookies.get(SOCIAL_COOKIE, "")[:100]
        raw = await kit.services.cache.get(f"web:oauth:{key}") if key else None
        if raw is None:
            message = kit.strings(request).gettext("That sign-in took too long. Try again.")
            return await sign_in_page(request, error=message, status_code=400)
        await kit.services.cache.delete(f"web:oauth:{key}")
        state = json.loads(raw)
        request.scope.setdefault("session", {}).update(state["session"])
        locale = state.get("locale") or kit.strings(request).locale

        async def record_mail_language(db: AsyncSession, user_id: uuid.UUID) -> None:
            # As a password sign-up does: the language of the pages the account was made on,
            # in its transaction, so the welcome mail (relayed after the commit) is in it.
            await notify.set_mail_locale(db, user_id, locale)

        try:
            async with kit.services.db.session() as db:
                pair = await auth.finish_social_login(
                    db, auth.get_auth_kit(kit.services), oauth, provider, request,
                    client_info(request), on_created=record_mail_language,
                )  # fmt: skip
        except auth.AuthError as error:
            return await sign_in_page(request, error=said(request, error), status_code=400)
        await kit.sessions.sign_in(request, pair, "")
        log.info("web.social_signin", user_id=str(pair.claims.subject), provider=provider)
        response = kit.redirect(request, safe_next(state.get("next")))
        response.delete_cookie(SOCIAL_COOKIE, path="/signin")
        return response

    @router.post("/signout", name="web_signout")
    async def signout(request: Request) -> Response:
        await kit.form(request)
        await kit.sessions.sign_out(request)
        return kit.redirect(request, "/?notice=signed_out")

    async def account_page(
        request: Request,
        history_page: int,
        *,
        bookmarks_page: int = 1,
        reviews_page: int = 1,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        claims = (await kit.signed_in(request)).claims
        default_locale = kit.services.settings.notify.default_locale
        async with kit.services.db.session() as db:
            user = await auth.get_account(db, claims.subject)
            devices = await auth.active_sessions(db, claims.subject)
            history, total = await auth.login_history(
                db, claims.subject, page=history_page, size=HISTORY_PAGE
            )
            mail_locale = await notify.mail_locale(db, claims.subject, default_locale)
        strings = kit.strings(request)
        mine = await read_account_opinions(
            kit, request, claims.subject, bookmarks_page=bookmarks_page, reviews_page=reviews_page
        )
        return await kit.render(
            request,
            "account.html",
            {
                "user": user,
                "roles": sorted(claims.roles),
                "devices": devices,
                "this_device": claims.session_id,
                "history": history,
                "pager": Pager.of(request, history_page, HISTORY_PAGE, total, key="history_page"),
                "mine": mine,
                "mail_locale": mail_locale,
                "mail_locales": language_menu(),
                "outcome_name": lambda outcome: outcome_name(strings, outcome),
                "device_name": lambda device: device_name(strings, device),
                "error": error,
            },
            status_code=status_code,
        )

    @router.get("/account", name="web_account")
    async def account(
        request: Request,
        history_page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        bookmarks_page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        reviews_page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    ) -> Response:
        return await account_page(
            request, history_page, bookmarks_page=bookmarks_page, reviews_page=reviews_page
        )

    @router.post("/account/password")
    async def change_password(request: Request) -> Response:
        viewer = await kit.signed_in(request)
        form = await kit.form(request)
        new = _field(form, "new_password", 1000)
        if new != _field(form, "new_password_repeat", 1000):
            message = kit.strings(request).gettext("The two passwords differ.")
            return await account_page(request, 1, error=message, status_code=400)
        try:
            async with kit.services.db.session() as db:
                await auth.change_password(
                    db,
                    auth.get_auth_kit(kit.services),
                    viewer.claims,
                    _field(form, "current_password", 1000),
                    new,
                )
        except auth.AuthError as error:
            return await account_page(request, 1, error=said(request, error), status_code=400)
        return kit.redirect(request, "/account?notice=password_changed")

    @router.post("/account/mail-language")
    async def mail_language(request: Request) -> Response:
        viewer = await kit.signed_in(request)
        form = await kit.form(request)
        locale = _field(form, "locale", 20)
        if locale not in LOCALES:
            message = kit.strings(request).gettext("Choose one of the languages offered.")
            return await account_page(request, 1, error=message, status_code=400)
        async with kit.services.db.session() as db:
            await notify.set_mail_locale(db, viewer.claims.subject, locale)
        return kit.redirect(request, "/account?notice=mail_language_saved")

    @router.post("/account/delete")
    async def delete_account(request: Request) -> Response:
        viewer = await kit.signed_in(request)
        form = await kit.form(request)
        try:
            async with kit.services.db.session() as db:
                await auth.delete_own_account(
                    db,
                    auth.get_auth_kit(kit.services),
                    viewer.claims,
                    _field(form, "password", 1000),
                )
        except auth.AuthError as error:
            return await account_page(request, 1, error=said(request, error), status_code=400)
        await kit.sessions.forget(request)
        log.info("web.account_deleted", user_id=str(viewer.claims.subject))
        return kit.redirect(request, "/?notice=account_deleted")

    @router.post("/account/sessions/{session_id}/revoke")
    async def revoke(request: Request, session_id: uuid.UUID) -> Response:
        viewer = await kit.signed_in(request)
        await kit.form(request)
        try:
            async with kit.services.db.session() as db:
                await auth.revoke_session(
                    db, auth.get_auth_kit(kit.services), viewer.claims.subject, session_id
                )
        except auth.AuthError as error:
            return await account_page(request, 1, error=said(request, error), status_code=404)
        if session_id == viewer.claims.session_id:
            await kit.sessions.sign_out(request)
            return kit.redirect(request, "/?notice=signed_out")
        return kit.redirect(request, "/account?notice=session_revoked")

    @router.get("/lang/{locale}", name="web_lang")
    async def language(request: Request, locale: str, next: str | None = None) -> Response:
        # A display preference, like a query-string language: no state worth a CSRF token.
        response = kit.redirect(request, safe_next(next))
        if locale in LOCALES:
            response.set_cookie(
                LANG_COOKIE, locale, max_age=365 * 24 * 3600, path="/", samesite="lax",
                secure=kit.sessions.secure, httponly=True,
            )  # fmt: skip
        return response

    return router
