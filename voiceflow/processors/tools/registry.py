"""The registry: provider-neutral tool declarations (``ToolSpec``), and calls that never raise."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from voiceflow.processors.tools.declare import DeclaredTool, ToolFn, is_tool
from voiceflow.processors.tools.outcome import ToolError, ToolOutcome
from voiceflow.services.llm.tools import ToolSpec

log = logging.getLogger("voiceflow.tools")

INTERNAL_ERROR_MESSAGE = "Sorry, something went wrong on my side. Please try again in a moment."


class ToolRegistry:
    """Named tools; ``call`` turns every kind of bad input into a structured ``ToolOutcome`` error."""

    def __init__(self, tools: Iterable[ToolFn] = ()) -> None:
        self._tools: dict[str, DeclaredTool] = {}
        for fn in tools:
            self.register(fn)

    def register(self, fn: ToolFn, *, name: str | None = None) -> DeclaredTool:
        declared = DeclaredTool.from_callable(fn, name=name)
        if declared.name in self._tools:
            raise ValueError(f"tool {declared.name!r} is already registered")
        self._tools[declared.name] = declared
        return declared

    def register_object(self, obj: object) -> list[DeclaredTool]:
        """Register every ``@tool`` method of ``obj`` (bound, so tools share its state)."""
        declared = []
        for attr in dir(type(obj)):
            if attr.startswith("_"):
                continue
            if is_tool(getattr(type(obj), attr, None)):
                declared.append(self.register(getattr(obj, attr)))
        return declared

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def tool(self, name: str) -> DeclaredTool:
        return self._tools[name]

    def declarations(self, names: Iterable[str] | None = None) -> list[ToolSpec]:
        """The tools' provider-neutral declarations (all tools, or the ``names`` given)."""
        chosen = self._tools if names is None else {n: self._tools[n] for n in names}
        return [declared.spec for declared in chosen.values()]

    async def call(self, name: str, arguments: dict[str, Any] | str | None) -> ToolOutcome:
        """Run a tool. Never raises for bad input or a failing tool (cancellation propagates)."""
        declared = self._tools.get(name)
        if declared is None:
            return ToolOutcome.failure(
                "unknown_tool", "Sorry, I can't do that here.", tool=name, available=self.names
            )
        try:
            parsed = parse_arguments(arguments)
            bound = declared.bind(parsed)
            result = await declared.fn(**bound)
        except ToolError as err:
            return ToolOutcome(ok=False, error=err.as_dict())
        except Exception:
            log.exception("tool %s failed", name)
            return ToolOutcome.failure("internal_error", INTERNAL_ERROR_MESSAGE, tool=name)
        return ToolOutcome.success(result)


def parse_arguments(arguments: dict[str, Any] | str | None) -> dict[str, Any]:
    """Arguments as a dict, from a dict or the JSON text an LLM streamed."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        if not arguments.strip():
            return {}
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ToolError(
                "invalid_json", "Sorry, I couldn't read that request.", detail=f"{exc.msg} at {exc.pos}"
            ) from None
    if not isinstance(arguments, dict):
        raise ToolError(
            "invalid_arguments", "Sorry, I couldn't read that request.", detail="expected an object"
        )
    return arguments
