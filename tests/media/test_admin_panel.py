"""The admin film page's video control: shown to editors, its ticket good for one film."""

from __future__ import annotations

import base64
import html
import re
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from kinoteka.infra.db import libpq_url
from kinoteka.media.admin_panel import TUS_SCRIPT, read_ticket, upload_ticket
from kinoteka.media.upload import BASE
from tests.catalog.app_fixtures import PASSWORD, admin_panel
from tests.media.app_fixtures import MediaServer
from tests.media.fixtures import SECRET

TUS = {"Tus-Resumable": "1.0.0"}


async def test_the_film_page_offers_editors_an_upload_control(
    fresh_database: str, flushed_redis: str, tmp_path: Path
) -> None:
    film_id = uuid.uuid4()
    with psycopg.connect(libpq_url(fresh_database)) as connection:
        connection.execute(
            "INSERT INTO content.film_work (id, title, type) VALUES (%s, 'Clip', 'movie')",
            (film_id,),
        )
    users = {"editor@media.test": ["admin"]}
    async with admin_panel(fresh_database, flushed_redis, tmp_path, users) as panel:
        client = panel.client
        await client.post("/admin/login",
                          data={"username": "editor@media.test", "password": PASSWORD})  # fmt: skip
        page = await client.get(f"/admin/film-work/edit/{film_id}")
        assert page.status_code == 200
        assert 'id="kinoteka-media"' in page.text
        assert "/static/media/tus.min.js" in page.text
        found = re.search(r'data-ticket="([^"]+)"', page.text)
        assert found is not None
        secret = panel.services.settings.secret_key.get_secret_value()
        ticket = read_ticket(secret, html.unescape(found.group(1)))
        assert ticket is not None
        assert ticket.film_id == film_id


async def test_a_ticket_uploads_for_its_film_only(media_server: MediaServer) -> None:
    subject = str(uuid.uuid4())
    film_id = uuid.uuid4()
    ticket = upload_ticket(SECRET, subject, film_id)

    def metadata(film: uuid.UUID) -> str:
        pairs = {"filename": "clip.mp4", "film_id": str(film)}
        return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())

    async with httpx.AsyncClient(base_url=media_server.base_url) as client:
        headers = {**TUS, "Upload-Ticket": ticket, "Upload-Length": "10"}
        ok = await client.post(BASE, headers={**headers, "Upload-Metadata": metadata(film_id)})
        assert ok.status_code == 201
        other = await client.post(
            BASE, headers={**headers, "Upload-Metadata": metadata(uuid.uuid4())}
        )
        assert other.status_code == 403
        forged = {**headers, "Upload-Ticket": ticket[:-4] + "0000",
                  "Upload-Metadata": metadata(film_id)}  # fmt: skip
        assert (await client.post(BASE, headers=forged)).status_code == 401
        states = await client.get(f"/api/v1/films/{film_id}/videos",
                                  headers={"Upload-Ticket": ticket})  # fmt: skip
        assert states.status_code == 200
        assert states.json() == []
        elsewhere = await client.get(f"/api/v1/films/{uuid.uuid4()}/videos",
                                     headers={"Upload-Ticket": ticket})  # fmt: skip
        assert elsewhere.status_code == 403
        script = await client.get("/static/media/film-video.js")
        assert script.status_code == 200
        assert "tus.Upload" in script.text
        if not TUS_SCRIPT.is_file():
            pytest.skip("node_modules missing: run `make sync` (npm ci) to serve tus-js-client")
        library = await client.get("/static/media/tus.min.js")
        assert library.status_code == 200
        assert library.headers["content-type"].startswith("text/javascript")
