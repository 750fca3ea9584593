"""The interactive API docs (Swagger UI) at /docs, served by the app itself.

FastAPI's own /docs loads Swagger UI from a CDN, so without internet it is a blank page. Here
the assets come from the `swagger-ui-bundle-v2` wheel (swagger-ui's dist files, pinned in
uv.lock) and are served under /docs/static; FastAPI's CDN pages are turned off by passing
`docs_url=None, redoc_url=None` to `FastAPI()` (ReDoc has no packaged distribution here).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS = "/docs"
STATIC = f"{DOCS}/static"
OAUTH2_REDIRECT = f"{DOCS}/oauth2-redirect"


def install_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI for `app.openapi_url` at /docs, with every asset from this server."""
    app.mount(STATIC, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a prefix, every URL the page loads carries it again.
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC}/favicon-32x32.png",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
