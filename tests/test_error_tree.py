"""The tree drawn in ``ivig.errors``'s docstring is the code's: every class with its real parent,
``code`` and ``http_status``, and every ``IvigError`` child of the package is defined there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ivig
from ivig import errors
from ivig.errors import IvigError

SRC = Path(ivig.__file__).parent

# "    │   ├── OutOfRange          out_of_range          422  a number outside ..."
ROW = re.compile(
    r"^    (?P<indent>(?:[│ ]   )*)(?P<branch>[├└]── )?(?P<name>[A-Z]\w+) +(?P<code>[a-z_]+) +"
    r"(?P<status>\d{3})  \S"
)


def drawn_tree(doc: str) -> dict[str, tuple[str | None, str, int]]:
    """Each class drawn in ``doc``: its parent (``None`` for the root), code and status."""
    rows: dict[str, tuple[str | None, str, int]] = {}
    path: list[str] = []
    for line in doc.splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        depth = len(match["indent"]) // 4 + (1 if match["branch"] else 0)
        assert depth <= len(path), f"{line!r} is drawn below nothing"
        del path[depth:]
        name = match["name"]
        assert name not in rows, f"{name} is drawn twice"
        rows[name] = (path[-1] if path else None, match["code"], int(match["status"]))
        path.append(name)
    return rows


def real_tree() -> dict[str, tuple[str | None, str, int]]:
    rows: dict[str, tuple[str | None, str, int]] = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, IvigError):
            parent = None if cls is IvigError else cls.__bases__[0].__name__
            rows[name] = (parent, cls.code, cls.http_status)
    return rows


def test_the_docstring_draws_the_tree_of_the_code() -> None:
    assert errors.__doc__ is not None
    assert drawn_tree(errors.__doc__) == real_tree()


def test_every_class_of_the_module_is_exported() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, IvigError)
    }
    assert defined == set(real_tree())


def test_the_parser_reads_the_depth() -> None:
    """A class drawn under the wrong parent (as ``InvalidTime`` once was) is a different tree."""
    doc = """
    Top              top       422  the base
    ├── Left         left      422  one child
    │   ├── Deep     deep      400  its first child
    │   └── Deeper   deeper    400  its second child
    └── Right        right     409  another child
        └── Far      far       503  under the last one

    Prose, not a row: Top top 422 is ignored.
    """
    assert drawn_tree(doc) == {
        "Top": (None, "top", 422),
        "Left": ("Top", "left", 422),
        "Deep": ("Left", "deep", 400),
        "Deeper": ("Left", "deeper", 400),
        "Right": ("Top", "right", 409),
        "Far": ("Right", "far", 503),
    }


def _bases(node: ast.ClassDef) -> set[str]:
    names = set()
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.add(base.id)
        elif isinstance(base, ast.Attribute):
            names.add(base.attr)
    return names


def test_no_ivig_error_is_defined_outside_errors_py() -> None:
    """A new child of the tree anywhere else in the package fails here (it belongs in
    ``ivig/errors.py``, drawn in its tree)."""
    tree_names = set(real_tree())
    elsewhere = [
        f"{path.relative_to(SRC)}: {node.name}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "errors.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and _bases(node) & tree_names
    ]
    assert elsewhere == []


def test_the_error_body() -> None:
    assert errors.error_body("not_found", "no such page") == {
        "error": {"code": "not_found", "message": "no such page", "field": None}
    }
    assert errors.NotFound("order", 7).body() == {
        "error": {"code": "not_found", "message": "no order 7", "field": None}
    }
    limit: dict[str, object] = {"code": "max-rate", "message": "above the rate"}
    body = errors.OverrideRequired([limit]).body()["error"]
    assert isinstance(body, dict)
    assert (body["code"], body["field"], body["details"]) == (
        "override_required",
        "override",
        {"limits": [limit]},
    )


def _writes_a_body(node: ast.AST) -> bool:
    """A dict display ``{"error": {...}}``: an error body written by hand."""
    return isinstance(node, ast.Dict) and any(
        isinstance(key, ast.Constant) and key.value == "error" and isinstance(value, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
    )


def test_one_function_writes_the_error_body() -> None:
    """Every edge answers ``error_body`` (or ``IvigError.body``): no other ``{"error": {...}}``
    written by hand in the package."""
    by_hand = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "errors.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _writes_a_body(node)
    ]
    assert by_hand == []
    assert _writes_a_body(ast.parse('{"error": {"code": "x"}}', mode="eval").body)
