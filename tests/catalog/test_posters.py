"""Posters: type checked by content, size and pixel limits; refusals store nothing."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PIL import Image

from kinoteka.catalog.posters import (
    PosterRejected,
    delete_poster,
    poster_url,
    poster_workers,
    render_poster,
    rendition_key,
    store_poster,
)
from kinoteka.catalog.settings import PosterSettings
from kinoteka.infra.images import ImageWorkers
from kinoteka.infra.storage.local import LocalStorage

SETTINGS = PosterSettings()
MB = 1024 * 1024


@pytest.fixture
def workers() -> Iterator[ImageWorkers]:
    pool = poster_workers(SETTINGS)
    yield pool
    pool.close()


def sixteen_bit_png(width: int = 6000, height: int = 6000) -> bytes:
    """A 16-bit RGB PNG (a few hundred KB) written row by row: this process never holds its
    pixels, so only the code under test can raise its memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" + bytes((i * 7) % 256 for i in range(width * 6))
    packer = zlib.compressobj(9)
    compressed = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", compressed)
            + chunk(b"IEND", b""))  # fmt: skip


def image_bytes(kind: str, size: tuple[int, int] = (800, 1200), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 60) if mode == "RGB" else 128).save(buffer, kind)
    return buffer.getvalue()


def fifty_megabyte_png() -> bytes:
    """A real PNG of about 50 MB (stored without compression), over the 10 MB limit."""
    width, height = 4200, 4000
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_accepted_images_become_webp_renditions(kind: str) -> None:
    renditions = render_poster(image_bytes(kind), SETTINGS)

    assert [r.width for r in renditions] == [160, 320, 640]
    for rendition in renditions:
        with Image.open(io.BytesIO(rendition.data)) as image:
            assert image.format == "WEBP"
            assert image.size == rendition.size == (rendition.width, rendition.width * 3 // 2)


def test_small_images_are_not_upscaled() -> None:
    renditions = render_poster(image_bytes("PNG", (200, 300)), SETTINGS)
    assert [r.width for r in renditions] == [160, 320, 640]
    assert [r.size[0] for r in renditions] == [160, 200, 200]


def test_a_text_file_named_jpg_is_refused() -> None:
    with pytest.raises(PosterRejected, match="not an image"):
        render_poster(b"this is not a poster, just text\n" * 20, SETTINGS)


def test_a_truncated_jpeg_is_refused() -> None:
    data = image_bytes("JPEG")
    with pytest.raises(PosterRejected, match=r"damaged|not an image"):
        render_poster(data[: len(data) // 2], SETTINGS)


def test_other_image_formats_are_refused() -> None:
    with pytest.raises(PosterRejected, match="GIF is not accepted"):
        render_poster(image_bytes("GIF", mode="L"), SETTINGS)


def test_an_image_over_the_size_limit_is_refused() -> None:
    data = fifty_megabyte_png()
    assert len(data) > 50_000_000
    with pytest.raises(PosterRejected, match=r"limit is 10\.0 MB"):
        render_poster(data, SETTINGS)


def test_a_decompression_bomb_is_refused() -> None:
    bomb = image_bytes("PNG", (12_000, 12_000), mode="1")
    assert len(bomb) < SETTINGS.max_bytes
    with pytest.raises(PosterRejected, match="pixels"):
        render_poster(bomb, SETTINGS)


async def test_stored_poster_has_every_width_and_is_deleted_whole(
    tmp_path: Path, workers: ImageWorkers
) -> None:
    storage = LocalStorage(tmp_path, secret="s")
    film_id = uuid.uuid4()

    poster_key = await store_poster(storage, film_id, image_bytes("JPEG"), SETTINGS, workers)

    assert poster_key.startswith(f"posters/{film_id}/")
    for width in SETTINGS.widths:
        assert await storage.exists(rendition_key(poster_key, width))
    assert poster_url(poster_key, 160) == f"/api/v1/{poster_key}/160.webp"
    assert poster_url(None) is None

    await delete_poster(storage, poster_key, SETTINGS)
    assert stored_files(tmp_path) == []


@pytest.mark.parametrize("bad", ["text", "huge"])
async def test_refused_uploads_store_nothing(
    tmp_path: Path, bad: str, workers: ImageWorkers
) -> None:
    storage = LocalStorage(tmp_path, secret="s")
    data = b"plain text\n" * 100 if bad == "text" else fifty_megabyte_png()

    with pytest.raises(PosterRejected):
        await store_poster(storage, uuid.uuid4(), data, SETTINGS, workers)

    assert stored_files(tmp_path) == []


async def test_large_decodes_leave_the_servers_memory_alone(
    tmp_path: Path, workers: ImageWorkers
) -> None:
    data = sixteen_bit_png()
    assert len(data) < 1 * MB
    with Image.open(io.BytesIO(data)) as probe:  # the header only
        assert probe.size == (6000, 6000)
        assert probe.size[0] * probe.size[1] <= SETTINGS.max_pixels
    storage = LocalStorage(tmp_path, secret="s")
    process = psutil.Process()
    before = process.memory_info().rss

    keys = await asyncio.gather(
        *(store_poster(storage, uuid.uuid4(), data, SETTINGS, workers) for _ in range(6))
    )

    growth = process.memory_info().rss - before
    assert growth < 100 * MB, f"the server process grew by {growth / MB:.0f} MB"
    assert len(set(keys)) == 6
    rendition = b"".join([chunk async for chunk in storage.get(rendition_key(keys[0], 640))])
    with Image.open(io.BytesIO(rendition)) as made:
        assert made.size == (640, 640)


def test_an_image_over_the_decoded_size_limit_is_refused_naming_it() -> None:
    tight = PosterSettings(max_decoded_bytes=64 * MB)
    with pytest.raises(
        PosterRejected, match=r"decoded it would take 137 MB, over the limit of 64 MB"
    ):
        render_poster(sixteen_bit_png(), tight)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale() -> None:
    # 8000x5000 RGB is 153 MB decoded in full; JPEG's scaled decoding needs an eighth of it.
    big = image_bytes("JPEG", (8000, 5000))
    renditions = render_poster(big, PosterSettings(max_decoded_bytes=32 * MB))
    assert [r.size for r in renditions] == [(160, 100), (320, 200), (640, 400)]
