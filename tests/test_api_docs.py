"""/docs works without internet: Swagger UI's page and assets all come from the app itself
(issue #13 item 2: it loaded them from a CDN and was a blank page offline)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from kinoteka.app import create_app
from kinoteka.clients import build_services
from kinoteka.infra.footprint import StoreUrls
from kinoteka.settings import load_settings


def _client(tmp_path: Path) -> httpx.AsyncClient:
    urls = StoreUrls(
        "postgresql://unused/unused",
        "redis://127.0.0.1:6379/15",
        f"tantivy://{tmp_path / 'search'}",
        f"file://{tmp_path / 'storage'}",
    )  # fmt: skip  (never connected: only the docs are requested)
    application = create_app(build_services(load_settings(), urls))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t")


async def test_docs_page_loads_only_same_origin_assets_and_they_answer(tmp_path: Path) -> None:
    async with _client(tmp_path) as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert any(asset.endswith(".js") for asset in assets), page.text
        assert any(asset.endswith(".css") for asset in assets), page.text
        for asset in assets:
            assert asset.startswith("/"), asset
            assert not asset.startswith("//"), asset
            response = await client.get(asset)
            assert response.status_code == 200, asset
            kind = response.headers["content-type"]
            if asset.endswith(".js"):
                assert "javascript" in kind
            elif asset.endswith(".css"):
                assert kind.startswith("text/css")
        assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
        assert "http://" not in page.text.replace("http://t", "")
        assert "https://" not in page.text
        assert (await client.get("/openapi.json")).status_code == 200


async def test_no_page_loads_from_a_cdn_and_the_oauth_redirect_is_served(tmp_path: Path) -> None:
    async with _client(tmp_path) as client:
        assert (await client.get("/redoc")).status_code == 404  # FastAPI's ReDoc is CDN-only
        redirect = await client.get("/docs/oauth2-redirect")
        assert redirect.status_code == 200
        assert "https://" not in redirect.text
