"""Frozen dataclasses built from untrusted mappings (a YAML config, a JSON record), checked field by field.

The settings, reject records and store identity are read by every command, the app's start and the no-change
stage; Pydantic's import and model set-up cost about half of a Polars import, so these small records check their
own few field types here. The manifest rows, which are written once per run, stay Pydantic models.

A field's type is read from its annotation as written (`int`, `float | None`, `Path`, `dt.datetime`,
`dict[str, str]`), or looked up in `types` for a record's own types (a Literal of kinds, a nested record).
Bounds sit in the field's metadata: `field(default=4, metadata=bounds(ge=1, le=64))`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, asdict, fields
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")
Convert = Callable[[Any], Any]
_BOUNDS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "ge": ("≥", operator.ge), "gt": (">", operator.gt), "le": ("≤", operator.le),
}


class FieldError(ValueError):
    """Every problem of one mapping, as `name: problem` parts joined on one line (`metrics.x: …` when nested)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def bounds(*, ge: float | None = None, gt: float | None = None, le: float | None = None,
           nonempty: bool = False) -> dict[str, float]:
    """Field metadata that `build` checks: numeric bounds, or text that must not be empty."""
    given = {"ge": ge, "gt": gt, "le": le, "nonempty": 1 if nonempty else None}
    return {name: value for name, value in given.items() if value is not None}


def _number(value: Any, kind: type) -> Any:
    """An int or float; text that spells one is read too (YAML takes `1e-6`, without a dot, for text)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = kind(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise ValueError(f"must be {'a whole number' if kind is int else 'a number'}, not {value!r}")
    if math.isinf(value):  # `settle_seconds: .inf` deferred every file forever, unsaid (NaN fails every bound)
        raise ValueError(f"must be a finite number, not {value!r}")
    return kind(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {value!r}")
    return value


def _path(value: Any) -> Path:
    if not isinstance(value, str | Path):
        raise ValueError(f"must be a path, not {value!r}")
    return Path(value)


def _instant(value: Any) -> dt.datetime:
    """An ISO 8601 time with its zone (`2025-10-14T12:00:00Z`), as the records store it."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(_text(value))
        except ValueError:
            raise ValueError(f"must be an ISO 8601 time, not {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"must name its time zone, not {value!r}")
    return parsed


def _text_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"must be a mapping of names to text, not {value!r}")
    return dict(value)


def _switch(value: Any) -> bool:
    if not isinstance(value, bool):  # "no" is a true string
        raise ValueError(f"must be true or false, not {value!r}")
    return value


CONVERTERS: dict[str, Convert] = {
    "bool": _switch,
    "int": lambda value: _number(value, int),
    "float": lambda value: _number(value, float),
    "str": _text,
    "Path": _path,
    "dt.datetime": _instant,
    "dict[str, str]": _text_map,
}


def one_of(choices: tuple[str, ...]) -> Convert:
    """A converter for a Literal of words: the value must be one of them."""
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
        return str(value)
    return convert


def as_json(record: object) -> dict[str, Any]:
    """A record's fields for `json.dumps`, times as ISO 8601 with UTC as `Z` (as the records have always held them)."""
    return {name: value.isoformat().replace("+00:00", "Z") if isinstance(value, dt.datetime) else value
            for name, value in asdict(record).items()}  # type: ignore[call-overload]


def json_bytes(record: object) -> bytes:
    """A record's file: `as_json`, indented, UTF-8 (not escaped), as Pydantic wrote the records before."""
    import json

    return json.dumps(as_json(record), indent=2, ensure_ascii=False).encode("utf-8")


def build(cls: type[R], data: Mapping[str, Any], *, types: Mapping[str, Convert] | None = None,
          extra: str = "forbid") -> R:
    """`cls(**data)` with every field converted and checked; `FieldError` lists every problem.

    `extra="forbid"`: an unknown key is a problem (a typo in a setting is reported, not ignored);
    `extra="ignore"`: unknown keys are dropped (a record written by a newer version still reads)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"must be a mapping of names to values, not {data!r}")
    known = {item.name: item for item in fields(cls)}  # type: ignore[arg-type]
    problems = [_unknown(key, known) for key in data if key not in known] if extra == "forbid" else []
    values: dict[str, Any] = {}
    for name, item in known.items():
        if name in data:
            try:
                values[name] = _checked(item, data[name], types or {})
            except FieldError as exc:  # a nested record
                problems += [f"{name}.{problem}" for problem in exc.problems]
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        elif item.default is MISSING and item.default_factory is MISSING:
            problems.append(f"{name}: missing")
    if problems:
        raise FieldError(problems)
    try:
        return cls(**values)
    except ValueError as exc:  # a check across fields, in the record's __post_init__
        raise FieldError([str(exc)]) from None


def _unknown(key: object, known: Mapping[str, object]) -> str:
    from difflib import get_close_matches  # only when a key is wrong

    close = get_close_matches(str(key), list(known), n=1)
    return f"{key}: unknown{f' (did you mean {close[0]}?)' if close else ''}"


def _checked(item: Field[Any], value: Any, types: Mapping[str, Convert]) -> Any:
    annotation = str(item.type)
    optional = annotation.endswith(" | None")
    if value is None:
        if optional:
            return None
        raise ValueError("must be given (it cannot be empty)")
    name = annotation.removesuffix(" | None")
    convert = types.get(name) or CONVERTERS[name]
    value = convert(value)
    for key, limit in item.metadata.items():
        if key == "nonempty" and not value:
            raise ValueError("must not be empty")
        if key in _BOUNDS and not _BOUNDS[key][1](value, limit):
            raise ValueError(f"must be {_BOUNDS[key][0]} {limit:g}, not {value!r}")
    return value
