"""The configuration reference, generated from the model so that it cannot drift from the code.

``khronos config reference`` prints it; README.md embeds it between markers and a test keeps the
two equal.
"""

from __future__ import annotations

import types
import typing
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, PlainValidator, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from khronos.config._model import KhronosConfig
from khronos.config._types import HostPort, parse_size

__all__ = ["render_reference"]


def render_reference(model: type[BaseModel] = KhronosConfig) -> str:
    """A Markdown table of every key: path, type, default, description."""
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for path, field in _walk(model, ""):
        rows.append(f"| `{path}` | {_type_name(field)} | {_default(field)} | {_describe(field)} |")
    return "\n".join(rows) + "\n"


def _walk(model: type[BaseModel], prefix: str) -> typing.Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        yield path, field
        sub, many = _submodel(field.annotation)
        if sub is not None:
            yield from _walk(sub, f"{path}[]" if many else path)


def _submodel(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in {list, tuple}:
        inner, _ = _submodel(args[0]) if args else (None, False)
        return inner, True
    if origin in {typing.Union, types.UnionType}:
        for arg in args:
            found = _submodel(arg)
            if found[0] is not None:
                return found
    return None, False


def _type_name(field: FieldInfo) -> str:
    for meta in field.metadata:
        if isinstance(meta, PlainValidator) and meta.func is parse_size:
            return "size"
    return _annotation_name(field.annotation)


def _annotation_name(annotation: Any) -> str:
    simple: dict[Any, str] = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        timedelta: "duration",
        SecretStr: "secret",
        Path: "path",
        HostPort: "host:port",
    }
    if annotation in simple:
        return simple[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in {list, tuple}:
        return f"list of {_annotation_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if origin in {typing.Union, types.UnionType}:
        names = [_annotation_name(a) for a in args if a is not type(None)]
        return " or ".join(names)
    if origin is typing.Annotated:
        return _annotation_name(args[0])
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "see below"
    if value is PydanticUndefined:
        return "—"
    annotation: Any = field.annotation
    if field.metadata:
        annotation = Annotated[annotation, *field.metadata]
    try:
        dumped = TypeAdapter[Any](annotation).dump_python(value, mode="json")
    except Exception:  # noqa: BLE001 - a default that will not serialise is shown as it is
        dumped = value
    if dumped in ([], {}):
        return "empty"
    return f"`{dumped}`"


def _describe(field: FieldInfo) -> str:
    text = (field.description or "").strip()
    return " ".join(text.split()).replace("``", "`").replace("|", "\\|")
