"""No import runs back up the layers of ``src/ivig`` (issue 15). The table, lowest first::

    part                      may import (besides itself)
    errors                    nothing of ivig
    core                      errors
    ivig (the package)        core, errors: the core's public API
    interop                   the above: it renders what it is given, never the records
    records                   the above (its services call interop's renderers)
    api, web, commands        the above, never one another: three edges over the services
    cli                       the above (the ``ivig`` command registers ``commands``)
    __main__                  cli (``python -m ivig``)
    server                    anything: the Django project (settings, urls, middleware);
                              imported only by cli and commands, which start it

Every import counts, at the top of a module or inside a function (a lazy import is a
dependency all the same), except one under ``if TYPE_CHECKING:``, which names types for mypy
and runs nothing. ``from ivig import X`` is an import of ``ivig.X`` when X is a module.
A new top-level part of ``src/ivig`` fails the test until it has its place in the table; the
API's route modules do not import one another either.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ivig"
ROOT = "ivig"  # the package itself (src/ivig/__init__.py)
RANK = {
    "errors": 0,
    "core": 1,
    ROOT: 2,
    "interop": 3,
    "records": 4,
    "api": 5,
    "web": 5,
    "commands": 5,
    "cli": 6,
    "__main__": 7,
}
SERVER = "server"
STARTS_SERVER = {"cli", "commands"}
NOT_CODE = {"data"}  # the drug library's TOML files


def allowed(importer: str, imported: str) -> bool:
    """Whether part ``importer`` may import part ``imported`` (the table above)."""
    if importer in (imported, SERVER):
        return True
    if imported == SERVER:
        return importer in STARTS_SERVER
    return RANK[imported] < RANK[importer]


def _part(module: str) -> str | None:
    """The part of ``src/ivig`` a dotted module name is in (``None``: not ivig's)."""
    names = module.split(".")
    if names[0] != "ivig":
        return None
    if len(names) == 1:
        return ROOT
    return names[1]


def _is_module(package: Path, dotted: str) -> bool:
    path = package.parent.joinpath(*dotted.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The line numbers of the imports under ``if TYPE_CHECKING:``."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        lines.add(sub.lineno)
    return lines


def _imports(package: Path, file: Path) -> Iterator[tuple[int, str]]:
    """Every ivig module ``file`` imports, with its line (type-checking-only imports left out)."""
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    skip = _type_checking_only(tree)
    rel = file.relative_to(package.parent).with_suffix("")
    here = list(rel.parts[:-1])  # the package a relative import starts from
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or node.lineno in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
            continue
        base = node.module or ""
        if node.level:  # relative: from the importing module's package
            anchor = here[: len(here) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            dotted = f"{base}.{alias.name}"
            yield node.lineno, dotted if _is_module(package, dotted) else base


def upward_imports(package: Path) -> list[str]:
    """Each import in ``package`` (a copy of ``src/ivig``) that the table refuses, as
    ``path:line: importer -> imported (module)``."""
    found = []
    for file in sorted(package.rglob("*.py")):
        rel = file.relative_to(package)
        importer = ROOT if rel.parts == ("__init__.py",) else rel.parts[0].removesuffix(".py")
        for line, module in _imports(package, file):
            imported = _part(module)
            if imported is not None and not allowed(importer, imported):
                found.append(f"{rel}:{line}: {importer} -> {imported} ({module})")
    return list(dict.fromkeys(found))  # once per line and module


def test_no_import_runs_back_up() -> None:
    assert upward_imports(SRC) == []


def test_the_api_routes_do_not_import_one_another() -> None:
    """What two routes share (the serializers) is in ``api/serializers.py``."""
    routes = SRC / "api" / "routes"
    for file in sorted(routes.glob("*.py")):
        imported = [m for _, m in _imports(SRC, file) if m.startswith("ivig.api.routes.")]
        assert imported == [], file.name


def test_every_part_of_the_package_has_its_place() -> None:
    parts = {p.name.removesuffix(".py") for p in SRC.iterdir() if p.suffix == ".py" or p.is_dir()}
    parts -= {"__init__", "__pycache__", *NOT_CODE}
    assert parts == set(RANK) - {ROOT} | {SERVER}


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("records", "api"),  # token hashing was in api.auth
        ("records", "web"),
        ("interop", "records"),  # interop renders what it is given
        ("core", "records"),
        ("errors", "core"),
        ("api", "web"),  # api.api imported web.middleware_db
        ("web", "api"),  # web.middleware imported api
        ("commands", "web"),  # ivig print called a web view
        ("commands", "api"),
        ("records", "server"),
        ("web", "server"),
        ("api", "cli"),
    ],
)
def test_the_table_refuses_an_upward_or_sideways_edge(importer: str, imported: str) -> None:
    assert not allowed(importer, imported)


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("records", "interop"),
        ("web", "records"),
        ("api", "core"),
        ("cli", "commands"),
        ("commands", "server"),
        ("server", "web"),
        ("server", "api"),
        (ROOT, "core"),
        ("interop", ROOT),
    ],
)
def test_the_table_allows_a_downward_edge(importer: str, imported: str) -> None:
    assert allowed(importer, imported)


def test_a_new_upward_import_fails_the_walk(tmp_path: Path) -> None:
    """A synthetic copy of the package: a lazy import up, an import of a sibling edge, a
    ``from ivig import`` of a module and a relative one are found; a type-checking-only import
    and downward imports are not."""
    package = tmp_path / "ivig"
    files = {
        "__init__.py": "from ivig.core import plan\n",
        "core/__init__.py": "",
        "core/plan.py": "from ivig import errors\n",
        "errors.py": "",
        "interop/__init__.py": "",
        "interop/fhir.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from ivig.records.models import Order\n"
            "from ivig import web\n"
        ),
        "records/__init__.py": "",
        "records/models.py": "from ivig.interop import fhir\n",
        "records/tokens.py": "def new() -> None:\n    from ivig.api.auth import new_token\n",
        "records/audit.py": "from ..web import views\n",
        "api/__init__.py": "",
        "api/auth.py": "import ivig.records.models\nimport ivig.commands\n",
        "web/__init__.py": "",
        "web/views.py": "",
        "commands/__init__.py": "",
    }
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert upward_imports(package) == [
        "api/auth.py:2: api -> commands (ivig.commands)",
        "interop/fhir.py:4: interop -> web (ivig.web)",
        "records/audit.py:1: records -> web (ivig.web.views)",
        "records/tokens.py:2: records -> api (ivig.api.auth)",
    ]
