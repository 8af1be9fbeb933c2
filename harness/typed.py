"""Build nested dataclasses from plain dicts, strictly: unknown keys and wrong types are errors.

Every error names the field by its dotted path, so a broken YAML file is
reported before anything runs.

See ``tests/test_typed_config.py`` for examples; it sits on the ground floor
(imports only :mod:`mistvla.harness.errors`), so every layer may use it.
"""

from __future__ import annotations

import dataclasses
import os
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from mistvla.harness.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class NoParams:
    """The ``Config`` of a registered kind that takes no parameters."""


def _fail(path: str, msg: str) -> ConfigError:
    return ConfigError(f"{path or '<root>'}: {msg}")


def _join(path: str, sub: str) -> str:
    if not sub:
        return path
    if not path or sub.startswith("["):
        return f"{path}{sub}"
    return f"{path}.{sub}"


class NestedConfigError(ConfigError):
    """An error of a config parsed inside a dataclass's ``__post_init__`` (:func:`parse_nested`), its path
    relative to that dataclass; :func:`from_dict` prefixes the dataclass's own path."""

    def __init__(self, subpath: str, msg: str) -> None:
        super().__init__(f"{subpath or '<root>'}: {msg}")
        self.subpath, self.msg = subpath, msg


def parse_nested(cls: type, data: Any, field: str = "") -> Any:
    """:func:`from_dict` for a config parsed in ``__post_init__`` (e.g. a registered kind's own ``Config``
    from the entry's options): errors keep their full path once the enclosing config is parsed.

    >>> @dataclasses.dataclass
    ... class Opts:
    ...     k: int = 1
    >>> @dataclasses.dataclass
    ... class Entry:
    ...     params: dict[str, int]
    ...     def __post_init__(self):
    ...         self.options = parse_nested(Opts, self.params)
    >>> from_dict(Entry, {"params": {"kk": 2}}, "items[1]")
    Traceback (most recent call last):
    ...
    mistvla.harness.errors.ConfigError: items[1].kk: unknown key (known: k)
    """
    try:
        return from_dict(cls, data, field)
    except ConfigError as err:
        where, _, msg = str(err).partition(": ")
        raise NestedConfigError("" if where == "<root>" else where, msg) from None


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: X's own error, with its full path
            return _convert(options[0], value, path)
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ConfigError as err:
                errors.append(str(err).split(": ", 1)[-1])
        raise _fail(path, " or ".join(errors))
    if origin is Literal:
        if value not in get_args(tp):
            raise _fail(path, f"must be one of {list(get_args(tp))}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _fail(path, f"expected a list, got {type(value).__name__} {value!r}")
        item_tp = (get_args(tp) or (Any,))[0]
        items = [_convert(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(path, f"expected a mapping, got {type(value).__name__}")
        _, val_tp = get_args(tp) or (Any, Any)
        return {str(k): _convert(val_tp, v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(path, f"expected true/false, got {type(value).__name__} {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"expected int, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, f"expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, os.PathLike):  # a Python caller's Path (YAML gives only str)
            return os.fspath(value)
        if not isinstance(value, str):
            raise _fail(path, f"expected a string, got {type(value).__name__} {value!r}")
        return value
    raise _fail(path, f"unsupported field type {tp!r}")


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Instantiate dataclass ``cls`` from ``data``, validating keys and types recursively.

    After construction, the dataclass's own ``__post_init__`` checks run; a
    ``ValueError`` from them is re-raised as :class:`ConfigError` with the path.
    """
    if not isinstance(data, dict):
        raise _fail(path, f"expected a mapping, got {type(data).__name__} {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise _fail(where, f"unknown key (known: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}.{name}" if path else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _fail(sub, "required key is missing")
    try:
        return cls(**kwargs)
    except NestedConfigError as err:
        raise _fail(_join(path, err.subpath), err.msg) from None
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise _fail(path, str(err)) from None


def to_dict(obj: Any) -> Any:
    """Plain-data form of a (nested) dataclass, for manifests and hashing."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


__all__ = ["NoParams", "from_dict", "parse_nested", "to_dict"]
