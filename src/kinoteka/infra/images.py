"""Bounded image work: measured before decoding, done in a small pool of worker processes.

A compressed image can decode to far more than its file: a 280 KB 16-bit PNG of 6000x6000
holds 144 MB of pixels, and the copies Pillow makes while converting multiply that. So an
image's decoded size is worked out from its header before any pixel is read
(`check_decoded_size`), large images are shrunk by cheap integer reduction first (`shrunk`),
and the work runs in worker processes (`ImageWorkers`) that are replaced after a few tasks,
so the memory goes back to the OS instead of staying with the API process.

Posters (catalog) use it; media thumbnails are meant to use the same guard.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

from PIL import Image

P = ParamSpec("P")
T = TypeVar("T")

# Pillow keeps these modes at 1 or 2 bytes a pixel; every other mode at 4 (RGB included).
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}


class ImageTooLarge(ValueError):
    """Decoding the image would take more memory than allowed; the message names the limit."""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"


def decoded_bytes(image: Image.Image) -> int:
    """Memory the pixels of an opened (not yet loaded) image take once decoded."""
    width, height = image.size
    return width * height * BYTES_PER_PIXEL.get(image.mode, 4)


def check_decoded_size(image: Image.Image, limit: int) -> None:
    """Refuse an image whose decoded pixels would exceed `limit` bytes (reads the header only).

    Call after `Image.draft` (JPEG decodes straight to a smaller scale), before `load()`.
    """
    size = decoded_bytes(image)
    if size > limit:
        width, height = image.size
        raise ImageTooLarge(
            f"The image is {width}x{height} pixels ({image.mode}); decoded it would take "
            f"{_megabytes(size)}, over the limit of {_megabytes(limit)} of decoded image data."
        )


def shrunk(image: Image.Image, width: int) -> Image.Image:
    """`image` reduced by the largest integer factor that keeps it at least `width` wide.

    Box reduction is cheap and lets the final resampling work on a small copy; the caller
    should drop the large original afterwards.
    """
    factor = image.width // width
    if factor < 2:
        return image
    return image.reduce(factor)


class ImageWorkers:
    """A bounded pool of processes for image decoding and resizing.

    At most `workers` images are worked on at once; each process is replaced after
    `tasks_per_worker` tasks, returning its memory. Processes are started lazily, with the
    `spawn` method (a fork of a threaded server is unsafe), and stopped by `close()`.
    """

    def __init__(self, workers: int = 2, tasks_per_worker: int = 1) -> None:
        if workers < 1 or tasks_per_worker < 1:
            raise ValueError("workers and tasks_per_worker must be at least 1")
        self.workers = workers
        self.tasks_per_worker = tasks_per_worker
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=self.tasks_per_worker,
            )
            # Not closed explicitly (an app that forgets): stop the processes with the object.
            weakref.finalize(self, self._executor.shutdown, wait=False, cancel_futures=True)
        return self._executor

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args, **kwargs)` in a worker process (both must pickle)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), partial(function, *args, **kwargs))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
