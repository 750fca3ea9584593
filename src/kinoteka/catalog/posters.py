"""Film posters: check an upload by its content, re-encode it to WebP at a few widths, store it.

A poster is kept as `posters/<film_id>/<digest>/<width>.webp`; the film row holds the prefix
(`poster_key`), so a new upload gets new, immutable URLs. `poster_url()` is the public link a
client (or the search document) uses; it redirects to a short-lived signed storage URL.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from dataclasses import dataclass

import anyio
import structlog
from PIL import Image, ImageOps, UnidentifiedImageError

from kinoteka.catalog import POSTER_ROUTE_PREFIX
from kinoteka.catalog.settings import PosterSettings
from kinoteka.infra.images import ImageTooLarge, ImageWorkers, check_decoded_size, shrunk
from kinoteka.infra.storage import ObjectStorage, StorageError

log = structlog.get_logger(__name__)

ACCEPTED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}


class PosterRejected(Exception):
    """The upload is not an acceptable poster; the message says why, for the form."""


@dataclass(frozen=True)
class Rendition:
    width: int
    """The rendition's slot (its key); the image is narrower when the upload was."""
    size: tuple[int, int]
    data: bytes


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check_poster_size(size: int, settings: PosterSettings) -> None:
    """Refuse an upload by its size alone, before reading it."""
    if size > settings.max_bytes:
        raise PosterRejected(
            f"The poster is {_megabytes(size)}; the limit is {_megabytes(settings.max_bytes)}."
        )


def render_poster(data: bytes, settings: PosterSettings) -> list[Rendition]:
    """WebP renditions of an uploaded image, or `PosterRejected`. Run it in `ImageWorkers`."""
    if not data:
        raise PosterRejected("The poster file is empty.")
    check_poster_size(len(data), settings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
                probe.verify()  # structure and checksums, without decoding the pixels
            if kind not in ACCEPTED_FORMATS:
                raise PosterRejected(
                    f"A {kind or 'file of this kind'} is not accepted as a poster; "
                    "upload a JPEG, PNG or WebP image."
                )
            if width * height > settings.max_pixels:
                raise PosterRejected(
                    f"The poster is {width}x{height} pixels; the limit is "
                    f"{settings.max_pixels:,} pixels."
                )
            with Image.open(io.BytesIO(data)) as image:
                return _renditions(image, settings)
    except PosterRejected:
        raise
    except ImageTooLarge as error:
        raise PosterRejected(str(error)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PosterRejected(
            f"The image has too many pixels; the limit is {settings.max_pixels:,} pixels."
        ) from None
    except UnidentifiedImageError:
        raise PosterRejected("The file is not an image (JPEG, PNG or WebP).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise PosterRejected(f"The image is damaged and cannot be read ({error}).") from None


def _renditions(image: Image.Image, settings: PosterSettings) -> list[Rendition]:
    """Decode within the memory limit, shrink cheaply, then resample each width."""
    largest = max(settings.widths)
    image.draft("RGB", (largest, largest))  # JPEG: decode at a reduced scale straight away
    check_decoded_size(image, settings.max_decoded_bytes)
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    mode = "RGBA" if image.mode in {"RGBA", "LA", "P", "PA"} else "RGB"
    if image.mode not in REDUCIBLE_MODES:  # palette, bilevel, 16-bit grey: no box reduction
        converted = image.convert(mode)
        image.close()
        image = converted
    small = shrunk(image, largest).convert(mode)
    image.close()  # the full-size pixels go before the renditions are made
    return [_encode(small, target, settings.quality) for target in settings.widths]


REDUCIBLE_MODES = {"L", "LA", "RGB", "RGBA", "CMYK", "I", "F", "PA"}


def _encode(image: Image.Image, width: int, quality: int) -> Rendition:
    converted = image
    if converted.width > width:
        height = max(round(converted.height * width / converted.width), 1)
        converted = converted.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    converted.save(buffer, "WEBP", quality=quality, method=4)
    return Rendition(width, converted.size, buffer.getvalue())


def rendition_key(poster_key: str, width: int) -> str:
    return f"{poster_key}/{width}.webp"


def poster_url(poster_key: str | None, width: int = 320) -> str | None:
    """The public path of a poster rendition (redirects to storage), None without a poster.

    For the search document: `poster_url(film.poster_key)`.
    """
    if not poster_key:
        return None
    return f"{POSTER_ROUTE_PREFIX}/{rendition_key(poster_key, width)}"


def poster_workers(settings: PosterSettings) -> ImageWorkers:
    """The process pool posters are rendered in (one per app; `close()` it on shutdown)."""
    return ImageWorkers(settings.workers, settings.tasks_per_worker)


async def store_poster(
    storage: ObjectStorage,
    film_id: uuid.UUID,
    data: bytes,
    settings: PosterSettings,
    workers: ImageWorkers,
) -> str:
    """Check, render (in a worker process) and store a poster; return its `poster_key`.

    Nothing is kept on failure.
    """
    renditions = await workers.run(render_poster, data, settings)
    digest = hashlib.sha256(data).hexdigest()[:16]
    poster_key = f"posters/{film_id}/{digest}"
    stored: list[str] = []
    try:
        for rendition in renditions:
            key = rendition_key(poster_key, rendition.width)
            await storage.put(key, rendition.data, content_type="image/webp")
            stored.append(key)
    except BaseException:
        with anyio.CancelScope(shield=True):
            for key in stored:
                await storage.delete(key)
        raise
    log.info("poster.stored", film_id=str(film_id), key=poster_key, bytes=len(data))
    return poster_key


async def delete_poster(storage: ObjectStorage, poster_key: str, settings: PosterSettings) -> None:
    """Remove every rendition of a poster; a storage failure is logged, not raised, since the
    film row no longer points at it."""
    for width in settings.widths:
        try:
            await storage.delete(rendition_key(poster_key, width))
        except StorageError as error:
            log.warning("poster.delete_failed", key=poster_key, width=width, error=str(error))
