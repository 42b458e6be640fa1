"""Tool declarations generated from typed Python signatures and docstrings (one source of truth).

    @tool
    async def check_order_status(self, order_id: str) -> dict[str, Any]:
        '''Look up an order.

        Args:
            order_id: The order number, for example "1001".
        '''

becomes the provider-neutral ``ToolSpec(name="check_order_status", description="Look up an
order.", parameters={"type": "object", "properties": {"order_id": {"type": "string",
"description": "The order number, ..."}}, "required": ["order_id"], "additionalProperties":
false})``, which each LLM adapter translates to its provider's shape. Type mapping:
str/int/float/bool → JSON types, ``Literal`` → ``enum``, ``X | None`` or a default → not
required, ``list[X]`` → array, ``Annotated[X, Schema(minimum=1)]`` → extra JSON-schema keys.
The same types validate the arguments of a call (``DeclaredTool.bind``), so declaration and
check cannot drift apart.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from voiceflow.processors.tools.outcome import ToolError
from voiceflow.services.llm.tools import ToolSpec

F = TypeVar("F", bound=Callable[..., Any])
ToolFn = Callable[..., Awaitable[dict[str, Any]]]
_MARK = "__voiceflow_tool__"
_READS_ONLY = "__voiceflow_tool_reads_only__"
_SECTION = re.compile(r"(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?):")
_JSON_TYPES: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True, slots=True)
class Schema:
    """Extra JSON-schema keywords for a parameter: ``Annotated[int, Schema(minimum=1, maximum=5)]``."""

    keywords: dict[str, Any]

    def __init__(self, **keywords: Any) -> None:
        object.__setattr__(self, "keywords", keywords)


def tool(fn: F | None = None, *, name: str | None = None, reads_only: bool = False) -> Any:
    """Mark an async function or method as a tool (``@tool`` or ``@tool(name="...")``).

    ``reads_only=True`` declares a tool without side effects (a look-up): it may run for a
    turn that is still speculative (``voiceflow.processors.speculation``); others wait for it.
    """

    def mark(f: F) -> F:
        setattr(f, _MARK, name or f.__name__)
        setattr(f, _READS_ONLY, reads_only)
        return f

    return mark(fn) if fn is not None else mark


def is_tool(obj: object) -> bool:
    return hasattr(obj, _MARK)


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {arg: description}) from a Google-style docstring."""
    text = inspect.cleandoc(doc or "")
    summary: list[str] = []
    args: dict[str, str] = {}
    section = "summary"
    current: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        header = _SECTION.fullmatch(stripped)
        if header:
            section = "args" if header.group(1) in ("Args", "Arguments", "Parameters") else "other"
            current = None
            continue
        if section == "summary":
            summary.append(stripped)
        elif section == "args" and stripped:
            m = re.match(r"^(\w+)(?:\s*\([^)]*\))?\s*:\s*(.*)$", stripped)
            if m and not line.startswith(" " * 8):
                current = m.group(1)
                args[current] = m.group(2)
            elif current:
                args[current] = f"{args[current]} {stripped}".strip()
    description = re.sub(r"\s+", " ", " ".join(summary)).strip()
    return description, args


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        if len(members) < len(get_args(hint)):
            return (members[0] if len(members) == 1 else Union[tuple(members)]), True  # noqa: UP007
    return hint, False


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    hint: Any
    required: bool
    default: Any
    schema: dict[str, Any]


def _schema_for(hint: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if get_origin(hint) is typing.Annotated:
        hint, *meta = get_args(hint)
        for m in meta:
            if isinstance(m, Schema):
                extra.update(m.keywords)
    hint, _ = _unwrap_optional(hint)
    origin = get_origin(hint)
    if origin is Literal:
        values = list(get_args(hint))
        kinds = {_JSON_TYPES[type(v)] for v in values}
        schema: dict[str, Any] = {"type": kinds.pop() if len(kinds) == 1 else sorted(kinds), "enum": values}
    elif origin in (list, tuple, set, frozenset):
        (item,) = get_args(hint)[:1] or (str,)
        schema = {"type": "array", "items": _schema_for(item)}
    elif origin is dict or hint is dict:
        schema = {"type": "object"}
    elif hint in _JSON_TYPES:
        schema = {"type": _JSON_TYPES[hint]}
    else:
        raise TypeError(f"cannot declare a tool parameter of type {hint!r}")
    schema.update(extra)
    return schema


def _humanize(name: str) -> str:
    return name.replace("_", " ").replace(" id", " ID")


@dataclass
class DeclaredTool:
    """A tool built from one callable: its ``ToolSpec`` for the LLM and its argument checker."""

    name: str
    description: str
    fn: ToolFn
    params: dict[str, Param] = field(default_factory=dict)
    #: no side effects: may run before the caller's turn is confirmed (see ``tool``)
    reads_only: bool = False

    @classmethod
    def from_callable(cls, fn: ToolFn, *, name: str | None = None) -> DeclaredTool:
        target = getattr(fn, "__func__", fn)
        hints = typing.get_type_hints(target, include_extras=True)
        description, arg_docs = parse_docstring(inspect.getdoc(target))
        params: dict[str, Param] = {}
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"tool {fn.__name__}: *args/**kwargs cannot be declared")
            hint = hints.get(p.name)
            if hint is None:
                raise TypeError(f"tool {fn.__name__}: parameter {p.name!r} has no type hint")
            base = get_args(hint)[0] if get_origin(hint) is typing.Annotated else hint
            _, optional = _unwrap_optional(base)
            has_default = p.default is not inspect.Parameter.empty
            schema = _schema_for(hint)
            if p.name in arg_docs:
                schema = {**schema, "description": arg_docs[p.name]}
            params[p.name] = Param(
                p.name, hint, not (optional or has_default), p.default if has_default else None, schema
            )
        if not description:
            raise TypeError(f"tool {fn.__name__}: a docstring description is required")
        return cls(
            name or getattr(target, _MARK, None) or target.__name__,
            description,
            fn,
            params,
            reads_only=bool(getattr(target, _READS_ONLY, False)),
        )

    def parameters(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {n: p.schema for n, p in self.params.items()},
            "required": [n for n, p in self.params.items() if p.required],
            "additionalProperties": False,
        }

    @property
    def spec(self) -> ToolSpec:
        """The provider-neutral declaration an LLM engine receives."""
        return ToolSpec(self.name, self.description, self.parameters())

    def bind(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check ``arguments`` against the signature: missing, unexpected and ill-typed raise ToolError."""
        unexpected = sorted(set(arguments) - set(self.params))
        if unexpected:
            raise ToolError(
                "unexpected_argument",
                f"Sorry, I can't use {_humanize(unexpected[0])} for that request.",
                arguments=unexpected,
            )
        bound: dict[str, Any] = {}
        for name, param in self.params.items():
            if name not in arguments or arguments[name] is None:
                if param.required:
                    raise ToolError("missing_argument", f"I still need the {_humanize(name)}.", argument=name)
                bound[name] = param.default
                continue
            bound[name] = _coerce(name, param.hint, arguments[name])
        return bound


def _bad(name: str, value: Any, expected: str) -> ToolError:
    return ToolError(
        "invalid_argument",
        f"Sorry, {value!r} isn't a valid {_humanize(name)}.",
        argument=name,
        expected=expected,
    )


def _coerce(name: str, hint: Any, value: Any) -> Any:
    """Accept a value of the declared type; lossless conversions only (e.g. 1001 for a string id)."""
    if get_origin(hint) is typing.Annotated:
        hint, *meta = get_args(hint)
        value = _coerce(name, hint, value)
        for m in meta:
            if isinstance(m, Schema):
                check_bounds(name, value, m.keywords)
        return value
    hint, _ = _unwrap_optional(hint)
    origin = get_origin(hint)
    if origin is Literal:
        options = get_args(hint)
        for option in options:
            if value == option or (isinstance(value, str) and str(option).lower() == value.strip().lower()):
                return option
        raise _bad(name, value, "one of " + ", ".join(map(str, options)))
    if hint is str:
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise _bad(name, value, "string")
    if hint is int:
        if isinstance(value, bool):
            raise _bad(name, value, "integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise _bad(name, value, "integer")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _bad(name, value, "number")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _bad(name, value, "boolean")
    if origin is list:
        if not isinstance(value, list):
            raise _bad(name, value, "array")
        (item,) = get_args(hint)[:1] or (str,)
        return [_coerce(name, item, v) for v in value]
    return value


def check_bounds(name: str, value: Any, keywords: dict[str, Any]) -> None:
    low, high = keywords.get("minimum"), keywords.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ToolError(
            "out_of_range",
            f"The {_humanize(name)} has to be between {low} and {high}.",
            argument=name,
            minimum=low,
            maximum=high,
        )
