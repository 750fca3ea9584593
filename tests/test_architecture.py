"""The import graph of `src/kinoteka` keeps the map's rules; the checker itself can fail."""

from __future__ import annotations

from pathlib import Path

import kinoteka
from tests.architecture import check

PACKAGE = Path(kinoteka.__file__).resolve().parent

KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    # The catalog's bulk loads COPY through psycopg; to move behind `kinoteka.infra.db`.
    ("kinoteka.catalog.demo", "psycopg"): "store client outside infra",
    ("kinoteka.catalog.generator", "psycopg"): "store client outside infra",
    ("kinoteka.catalog.models", "psycopg"): "store client outside infra",
    ("kinoteka.catalog.sqlite_import", "psycopg"): "store client outside infra",
}


def test_kinoteka_keeps_its_import_rules() -> None:
    problems = check(PACKAGE, KNOWN_VIOLATIONS.keys())
    assert not problems, "\n".join(problems)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


LAYOUT = {
    "pkg/__init__.py": "",
    "pkg/app.py": "from pkg.catalog.mount import catalog_mount\n",
    "pkg/services.py": "",
    "pkg/infra/__init__.py": "",
    "pkg/infra/db.py": "import sqlalchemy\n",
    "pkg/catalog/__init__.py": "from pkg.catalog.films import Film\n",
    "pkg/catalog/films.py": "class Film: ...\n",
    "pkg/catalog/mount.py": "from pkg.services import Services\n",
    "pkg/auth/__init__.py": "",
    "pkg/auth/models.py": "",
}


def test_a_clean_package_passes(tmp_path: Path) -> None:
    assert check(write(tmp_path, LAYOUT)) == []


def test_a_cycle_through_a_lazy_import_is_found_with_its_lines(tmp_path: Path) -> None:
    package = write(
        tmp_path,
        LAYOUT
        | {
            "pkg/catalog/films.py": "def total():\n    from pkg.catalog import prices\n",
            "pkg/catalog/prices.py": "from pkg.catalog.films import total\n",
        },
    )
    problems = check(package)
    assert len(problems) == 1
    assert problems[0].startswith("import cycle: ")
    assert "pkg/catalog/films.py:2: pkg.catalog.films imports pkg.catalog.prices" in problems[0]
    assert "pkg/catalog/prices.py:1: pkg.catalog.prices imports pkg.catalog.films" in problems[0]


def test_an_import_under_type_checking_is_no_dependency(tmp_path: Path) -> None:
    lazy_cycle = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.app\n"
    assert check(write(tmp_path, LAYOUT | {"pkg/catalog/films.py": lazy_cycle})) == []


def test_reaching_into_another_context_is_a_boundary_violation(tmp_path: Path) -> None:
    package = write(
        tmp_path,
        LAYOUT
        | {
            "pkg/auth/api.py": "from pkg.catalog import Film\nfrom pkg.catalog.films import Film\n",
            "pkg/infra/queue.py": "from ..auth import models\n",
            "pkg/catalog/cache.py": "import redis.asyncio\n",
            "pkg/catalog/view.py": "from pkg import app\n",
            "pkg/services.py": "import pkg.catalog.films\n",
        },
    )
    assert sorted(check(package)) == sorted(
        [
            f"boundary: {package}/auth/api.py:2: pkg.auth.api imports pkg.catalog.films",
            f"boundary: {package}/infra/queue.py:1: pkg.infra.queue imports pkg.auth.models",
            f"boundary: {package}/catalog/cache.py:1: pkg.catalog.cache imports redis.asyncio",
            f"boundary: {package}/catalog/view.py:1: pkg.catalog.view imports pkg.app",
            f"boundary: {package}/services.py:1: pkg.services imports pkg.catalog.films",
        ]
    )


def test_a_known_violation_is_let_through_until_it_is_gone(tmp_path: Path) -> None:
    reach = {"pkg/auth/api.py": "from pkg.catalog.films import Film\n"}
    known = [("pkg.auth.api", "pkg.catalog.films")]
    assert check(write(tmp_path, LAYOUT | reach), known) == []
    (tmp_path / "pkg/auth/api.py").write_text("from pkg.catalog import Film\n", encoding="utf-8")
    assert check(tmp_path / "pkg", known) == [
        "stale known violation (remove it from the list): pkg.auth.api -> pkg.catalog.films"
    ]
