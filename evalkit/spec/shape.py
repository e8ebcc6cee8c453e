"""The shape pass: raw YAML data against the pydantic models, problems with lines."""

from __future__ import annotations

import typing
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from evalkit.errors import Problem
from evalkit.spec.raw import TIMEPOINT_NAMES, TIMEPOINT_PATTERN
from evalkit.spec.yamlio import Document, format_path

M = TypeVar("M", bound=BaseModel)

_PATTERNS = {
    r"^[a-z][a-z0-9_-]*$": "lowercase letters, digits, '-' or '_', starting with a letter",
    r"^[a-z][a-z0-9_]*$": "lowercase letters, digits or '_', starting with a letter",
    TIMEPOINT_PATTERN: "a timepoint name: " + ", ".join(TIMEPOINT_NAMES[:-1]) + f" or {TIMEPOINT_NAMES[-1]}",
}


def _short(value: Any, limit: int = 60) -> str:
    # never dump whole YAML blocks into a message: one short value is enough to find it
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list" if len(value) != 0 else "an empty list"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class found by following ``loc`` from ``root``, if any."""
    current: Any = root
    for part in loc:
        while True:  # unwrap Optional / Annotated / containers to reach a model
            origin = typing.get_origin(current)
            if origin is typing.Annotated:
                current = typing.get_args(current)[0]
            elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
                args = [a for a in typing.get_args(current) if a is not type(None)]
                current = args[0] if args else None
            else:
                break
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin is list and args:
            current = args[0]
        elif origin is dict and args:
            current = args[1]
        elif origin is tuple and args:
            current = args[part] if isinstance(part, int) and part < len(args) else args[0]
        else:
            return None
    while typing.get_origin(current) in (typing.Annotated, typing.Union) or type(current).__name__ == "UnionType":
        args = [a for a in typing.get_args(current) if a is not type(None)]
        current = args[0] if args else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _expected(error: dict, root: type[BaseModel]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        if parent is not None:
            return "one of " + ", ".join(parent.model_fields)
        return "no such key"
    if kind == "missing":
        return f"a value for '{loc[-1]}'"
    if kind in ("enum", "literal_error"):
        return "one of " + str(ctx.get("expected", "")).replace(" or ", ", ")
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(ctx.get("pattern", ""), f"text matching {ctx.get('pattern')}")
    msg = error.get("msg", "")
    for prefix in ("Input should be ", "Value should be ", "Value error, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def check_shape(doc: Document, model: type[M]) -> tuple[M | None, list[Problem]]:
    """Validate ``doc.data`` against ``model``; every problem at once, each with its line."""
    if doc.data is None:
        return None, []
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            kind = error["type"]
            key_error = bool(loc) and loc[-1] == "[key]"
            path = loc[:-1] if key_error else loc
            if kind == "extra_forbidden":
                message, found = "unknown key", f"'{loc[-1]}'"
            elif kind == "missing":
                message, found = "required key is missing", "nothing"
            elif key_error:
                message, found = "invalid key", _short(error.get("input"))
            else:
                message, found = "invalid value", _short(error.get("input"))
            problems.append(Problem(doc.file, doc.line_of(path), format_path(path), message,
                                    found=found, expected=_expected(error, model)))
        return None, problems


def enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
