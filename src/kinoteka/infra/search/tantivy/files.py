"""Tantivy files: versioned index directories behind `CURRENT` pointer files, the `VERSION`
write counter, and the layout each version directory records."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from kinoteka.infra.search.port import SearchError

LAYOUT_FILE = "kinoteka-layout"


class IndexFiles:
    """The directories and small files of the indexes under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._version_file = str(root / "VERSION")

    def pointer(self, index: str) -> Path:
        return self.root / index / "CURRENT"

    def exists(self, index: str) -> bool:
        return self.pointer(index).exists()

    def current(self, index: str) -> str:
        """The live version directory of `index`."""
        try:
            return self.pointer(index).read_text().strip()
        except FileNotFoundError:
            raise SearchError(f"index {index!r} does not exist under {self.root}") from None

    def switch(self, index: str, directory: str) -> None:
        """Make `directory` the live version of `index` (atomically)."""
        atomic_write(self.pointer(index), directory)

    def path(self, index: str, directory: str) -> Path:
        return self.root / index / directory

    def new_version(self, index: str, layout: str) -> str:
        """A new, empty version directory of `index` recording `layout`; its name."""
        directory = f"v{time.time_ns()}"
        path = self.path(index, directory)
        path.mkdir(parents=True)
        (path / LAYOUT_FILE).write_text(layout)
        return directory

    def layout(self, index: str, directory: str) -> str | None:
        """The layout a version directory was built with; None if built before they were
        recorded."""
        try:
            return (self.path(index, directory) / LAYOUT_FILE).read_text().strip()
        except FileNotFoundError:
            return None

    def read_version(self) -> int:
        """The write counter (0 before the first write). Read before every search and page, so
        without pathlib's layers."""
        try:
            with open(self._version_file, "rb") as handle:
                return int(handle.read() or 0)
        except FileNotFoundError:
            return 0

    def bump_version(self) -> int:
        version = max(self.read_version() + 1, time.time_ns())
        atomic_write(self.root / "VERSION", str(version))
        return version


def atomic_write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with temporary.open("w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
