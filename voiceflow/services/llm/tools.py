"""The provider-neutral tool declaration.

Tools are declared once (from Python signatures, ``voiceflow.processors.tools.declare``)
as ``ToolSpec``; each LLM adapter translates them into its provider's shape
(OpenAI ``{"type": "function", ...}``, Anthropic ``{"name", "input_schema"}``,
Gemini ``FunctionDeclaration``). ``parameters`` is a JSON Schema object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    #: JSON Schema of the arguments: {"type": "object", "properties": {...}, "required": [...]}
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").replace("-", "").isalnum() or len(self.name) > 64:
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        if self.parameters.get("type") != "object":
            raise ValueError(f"tool {self.name!r}: parameters must be a JSON Schema object")

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.parameters.get("required", ()))


def openai_tool(spec: ToolSpec) -> dict[str, Any]:
    """The OpenAI chat-completions shape (also what OpenAI-compatible servers take)."""
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.parameters},
    }
