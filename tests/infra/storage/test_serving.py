"""The signed-download route: what fuzzing found (non-ASCII signatures, directory keys)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from kinoteka.infra.storage.local import LocalStorage
from kinoteka.infra.storage.serving import storage_router

SECRET = "serving-test-secret"


@pytest.fixture
async def storage(tmp_path: Path) -> LocalStorage:
    local = LocalStorage(tmp_path, secret=SECRET)
    await local.put("films/1/poster.jpg", b"\xff\xd8 poster bytes")
    return local


@pytest.fixture
async def client(storage: LocalStorage) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(storage_router(storage))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kinoteka") as client:
        yield client


@pytest.mark.parametrize("signature", ["é", "\u210c" * 64, "00ü", "\u0000"])
async def test_non_ascii_signature_is_a_403(
    storage: LocalStorage, client: httpx.AsyncClient, signature: str
) -> None:
    """Found by fuzzing: `hmac.compare_digest` raised TypeError on non-ASCII str (a 500)."""
    url = await storage.presigned_url("films/1/poster.jpg")
    expires = dict(parse_qsl(urlsplit(url).query))["expires"]
    answer = await client.get(
        "/storage/films/1/poster.jpg", params={"expires": expires, "signature": signature}
    )
    assert answer.status_code == 403
    assert answer.json() == {"detail": "invalid or expired signature"}


@pytest.mark.parametrize("key", ["films", "films/1"])
async def test_signed_url_of_a_directory_is_a_404(
    storage: LocalStorage, client: httpx.AsyncClient, key: str
) -> None:
    """Found by fuzzing: a directory's stat size went out as Content-Length with no body."""
    answer = await client.get(await storage.presigned_url(key))
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no such object"}
    ranged = await client.get(await storage.presigned_url(key), headers={"Range": "bytes=0-1"})
    assert ranged.status_code == 404


async def test_signed_url_below_a_file_is_a_404(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    answer = await client.get(await storage.presigned_url("films/1/poster.jpg/more"))
    assert answer.status_code == 404


async def test_valid_signature_still_serves(
    storage: LocalStorage, client: httpx.AsyncClient
) -> None:
    answer = await client.get(await storage.presigned_url("films/1/poster.jpg"))
    assert answer.status_code == 200
    assert answer.content == b"\xff\xd8 poster bytes"
    assert answer.headers["content-length"] == str(len(b"\xff\xd8 poster bytes"))
