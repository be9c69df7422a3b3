"""How a config's tables are declared and read: a dataclass per table, whose fields give each key's
type, default and bounds (`bounded`, `REQUIRED`); `read_table` checks a TOML table against it and
returns the dataclass, with one-line errors that name the table and key (and the nearest valid
key for a misspelt one). `TrainRecipe` is the table every trained model has.

A leaf module: the config reader, the pruning methods and training all import it, and it imports
none of them (compute/config.py declares the config's own tables with it).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compute.errors import UserError

AUGMENTATIONS = ("crop", "flip")


REQUIRED = dataclasses.MISSING


def bounded(default: Any, check: Callable[[Any], bool], must: str) -> Any:
    """A dataclass field whose value a config must keep within bounds: `check(value)`, described
    as "must be <must>" when it fails (None, where the type allows it, is not checked). A default
    of REQUIRED makes the key required."""
    return field(default=default, metadata={"bounds": (check, must)})


@dataclass(frozen=True)
class TrainRecipe:
    epochs: int = bounded(10, lambda v: v >= 0, "0 or more")
    lr: float = bounded(0.05, lambda v: v > 0, "positive")
    batch_size: int = bounded(64, lambda v: v >= 1, "at least 1")
    momentum: float = bounded(0.9, lambda v: 0 <= v < 1, "in [0, 1)")
    weight_decay: float = bounded(5e-4, lambda v: v >= 0, "0 or more")
    # crop (pad 4, random 32x32 crop), flip
    augment: tuple[str, ...] = bounded(("crop",), lambda v: set(v) <= set(AUGMENTATIONS),
                                       f"a list of {' / '.join(AUGMENTATIONS)}")


def type_name(hint: Any) -> str:
    if hint is type(None):
        return "nothing"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(hint) if a is not type(None))
    if origin is tuple:
        return f"a list of {type_name(typing.get_args(hint)[0]).removeprefix('a ')}s"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            dict: "a table", list: "an array of tables"}.get(hint, str(hint))


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        return isinstance(value, list) and all(_matches(v, typing.get_args(hint)[0]) for v in value)
    return isinstance(value, hint)


def described(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{shown} ({kind})"


def unknown_key(key: str, allowed: list[str], where: str) -> UserError:
    near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return UserError(f"unknown key '{key}' in {where} ({hint}allowed: {', '.join(sorted(allowed))})")


def checked(table: Any, hints: Mapping[str, Any], required: set[str], where: str,
             bounds: Mapping[str, tuple[Callable[[Any], bool], str]]) -> dict[str, Any]:
    """The table's values, each checked against its type hint and bounds; lists become tuples."""
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table, got {described(table)}")
    for key in table:
        if key not in hints:
            raise unknown_key(key, list(hints), where)
    for key in sorted(required - set(table)):
        raise UserError(f"{where} needs '{key}' ({type_name(hints[key])})")
    out = {}
    for key, value in table.items():
        if not _matches(value, hints[key]):
            raise UserError(f"'{key}' in {where} must be {type_name(hints[key])}, "
                            f"got {described(value)}")
        check, must = bounds.get(key, (None, ""))
        if check is not None and value is not None and not check(value):
            raise UserError(f"'{key}' in {where} must be {must}, got {described(value)}")
        out[key] = tuple(value) if isinstance(value, list) and hints[key] is not list else value
    return out


def fields_of(cls: type, skip: tuple[str, ...] = ()) -> tuple[dict, set[str], dict]:
    """A dataclass's fields as (type hints, required names, bounds), leaving out `skip`."""
    fields = [f for f in dataclasses.fields(cls) if f.name not in skip]
    hints = typing.get_type_hints(cls)
    required = {f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    bounds = {f.name: f.metadata["bounds"] for f in fields if "bounds" in f.metadata}
    return {f.name: hints[f.name] for f in fields}, required, bounds


def read_table(cls: type, table: Any, where: str) -> Any:
    """A config table read into `cls` (a dataclass): every key known, every value of its field's
    type and within its bounds; absent keys take the field's default."""
    hints, required, bounds = fields_of(cls)
    return cls(**checked(table, hints, required, where, bounds))
