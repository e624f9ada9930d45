"""A sourced value of the drug library, and the one reader of the library's TOML files.

Every number of the library carries where it comes from and whether it is checked against that
source: ``key = { value = ..., source = "a key of sources.toml", verified = true, note = "..." }``
(schema in ``ivig/data/README.md``). :func:`read_toml` reads one file of a library folder;
:class:`Reader` reads one table of it and names the file, the table and the key in every
:class:`~ivig.errors.CatalogueError`, so a site that edits its library is told what to fix.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Generic, TypeVar

from ivig.errors import CatalogueError

__all__ = ["Reader", "Source", "Sourced", "read_toml"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value comes from: a label, guideline or the service protocol."""

    key: str
    title: str
    url: str
    ref: str

    @property
    def is_protocol(self) -> bool:
        return self.key == "service-protocol"

    def cite(self) -> str:
        """One line naming the source, with its address when it has one."""
        return f"{self.title} <{self.url}>" if self.url else self.title


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A catalogue value with its source and whether it is verified against that source."""

    value: T
    source: Source
    verified: bool
    note: str = ""


def read_toml(folder: Traversable | Path, name: str) -> dict[str, Any]:
    """The parsed file ``name`` of the library in ``folder``; a missing or broken file is a
    :class:`CatalogueError` naming it."""
    try:
        with folder.joinpath(name).open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise CatalogueError(f"catalogue file {name} is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"catalogue file {name} is not valid TOML: {exc}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Reader:
    """Reads one table of a library file (``where``: the file and the table, e.g.
    ``monitoring.toml [checkpoints]``), naming them and the key in every error."""

    def __init__(self, table: Mapping[str, Any], where: str, sources: Mapping[str, Source]):
        self.table = table
        self.where = where
        self.sources = sources

    @classmethod
    def of(
        cls, data: Mapping[str, Any], key: str, file: str, sources: Mapping[str, Source]
    ) -> Reader:
        """The table ``[key]`` of the parsed ``file``, which must have it."""
        table = data.get(key)
        if not isinstance(table, dict):
            raise CatalogueError(f"catalogue {file}: the table [{key}] is missing", field=key)
        return cls(table, f"{file} [{key}]", sources)

    def fail(self, key: str, problem: str) -> CatalogueError:
        return CatalogueError(f"catalogue {self.where}: '{key}' {problem}", field=key)

    # --- plain values -------------------------------------------------------------------------

    def raw(self, key: str, kinds: type | tuple[type, ...], *, optional: bool = False) -> Any:
        if key not in self.table:
            if optional:
                return None
            raise self.fail(key, "is missing")
        value = self.table[key]
        if isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            raise self.fail(key, f"must not be a boolean (got {value!r})")
        if not isinstance(value, kinds):
            raise self.fail(key, f"has the wrong type ({type(value).__name__})")
        return value

    def text(self, key: str, *, optional: bool = False, choices: Iterable[str] = ()) -> Any:
        """A non-empty string (one of ``choices`` when given); ``None`` when optional and absent."""
        if key not in self.table:
            if optional:
                return None
            raise self.fail(key, "is missing")
        value = self.table[key]
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        allowed = tuple(choices)
        if allowed and value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)} (got '{value}')")
        return value

    def flag(self, key: str) -> bool:
        value = self.table.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def number(self, key: str, *, optional: bool = False, positive: bool = True) -> float | None:
        """A finite number (above 0 unless ``positive`` is false), as a float."""
        if key not in self.table:
            if optional:
                return None
            raise self.fail(key, "is missing")
        value = self.table[key]
        if not _is_number(value):
            raise self.fail(key, f"must be a number (got {value!r})")
        if positive and value <= 0:
            raise self.fail(key, f"must be positive (got {value})")
        return float(value)

    def required_number(self, key: str, *, positive: bool = True) -> float:
        value = self.number(key, positive=positive)
        assert value is not None  # number() raises for a missing key
        return value

    def integer(self, key: str, *, optional: bool = False) -> int | None:
        value = self.raw(key, int, optional=optional)
        if value is not None and value <= 0:
            raise self.fail(key, f"must be positive (got {value})")
        return value  # type: ignore[no-any-return]

    def numbers(self, key: str, *, optional: bool = False) -> tuple[float, ...] | None:
        value = self.raw(key, list, optional=optional)
        if value is None:
            return None
        if not value or not all(_is_number(v) and v > 0 for v in value):
            raise self.fail(key, "must be a non-empty list of positive numbers")
        return tuple(float(v) for v in value)

    def source(self, key: str = "source") -> Source:
        name = self.table.get(key)
        if not isinstance(name, str) or name not in self.sources:
            raise self.fail(key, f"names an unknown source '{name}' (see sources.toml)")
        return self.sources[name]

    # --- sourced values: { value, source, verified, note } ------------------------------------

    def sourced(self, key: str, *, optional: bool = False) -> Sourced[Any] | None:
        """The sourced value ``key`` as written; ``None`` when optional and absent."""
        if key not in self.table:
            if optional:
                return None
            raise self.fail(key, "is missing")
        entry = self.table[key]
        if not isinstance(entry, dict):
            raise self.fail(key, "must be a { value, source, verified } table")
        if "value" not in entry:
            raise self.fail(key, "has no value")
        name = entry.get("source")
        if not isinstance(name, str) or name not in self.sources:
            raise self.fail(key, f"names an unknown source '{name}' (see sources.toml)")
        verified = entry.get("verified")
        if not isinstance(verified, bool):
            raise self.fail(key, "must say verified = true or false")
        note = entry.get("note", "")
        if not isinstance(note, str):
            raise self.fail(key, "has a note that is not text")
        return Sourced(entry["value"], self.sources[name], verified, note)

    def required(self, key: str) -> Sourced[Any]:
        value = self.sourced(key)
        assert value is not None  # sourced() raises for a missing key
        return value

    def sourced_positive(self, key: str) -> Sourced[Any]:
        """A positive, finite number, kept as written (an int stays an int)."""
        value = self.required(key)
        if not _is_number(value.value) or value.value <= 0:
            raise self.fail(key, "value must be a positive number")
        return value

    def sourced_number(self, key: str, *, optional: bool = False) -> Sourced[float] | None:
        """A positive, finite number, as a float; ``None`` when optional and absent."""
        if optional and key not in self.table:
            return None
        value = self.sourced_positive(key)
        return Sourced(float(value.value), value.source, value.verified, value.note)

    def required_sourced_number(self, key: str) -> Sourced[float]:
        value = self.sourced_number(key)
        assert value is not None  # sourced_number() raises for a missing key
        return value

    def sourced_int(self, key: str) -> Sourced[int]:
        """A positive whole number."""
        value = self.required(key)
        if isinstance(value.value, bool) or not isinstance(value.value, int) or value.value <= 0:
            raise self.fail(key, "value must be a positive whole number")
        return value

    def sourced_flag(self, key: str) -> Sourced[bool]:
        value = self.required(key)
        if not isinstance(value.value, bool):
            raise self.fail(key, "value must be true or false")
        return value

    def sourced_choice(self, key: str, choices: Iterable[str]) -> Sourced[Any]:
        value = self.required(key)
        allowed = tuple(choices)
        if value.value not in allowed:
            raise self.fail(key, f"value must be one of {', '.join(allowed)} (got {value.value!r})")
        return value

    def sourced_range(self, key: str, kind: type) -> Sourced[Any]:
        """``[low, high]`` with ``0 < low <= high``, each converted by ``kind`` (int: whole)."""
        value = self.required(key)
        v = value.value
        ok = (
            isinstance(v, list)
            and len(v) == 2
            and all(isinstance(x, kind | int) and _is_number(x) for x in v)
            and 0 < v[0] <= v[1]
        )
        if not ok:
            raise self.fail(key, "value must be [low, high] with 0 < low <= high")
        return Sourced((kind(v[0]), kind(v[1])), value.source, value.verified, value.note)

    def sourced_list(self, key: str, item: type) -> Sourced[Any]:
        value = self.required(key)
        if not isinstance(value.value, list) or not all(isinstance(x, item) for x in value.value):
            raise self.fail(key, f"value must be a list of {item.__name__}")
        return value
