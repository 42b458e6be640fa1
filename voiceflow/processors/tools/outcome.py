"""What a tool call comes back as: a result or a structured error the dialogue can speak."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class ToolError(Exception):
    """Raised inside a tool for bad input or a refused action; becomes ``ToolOutcome.error``.

    ``message`` is a full sentence meant to be spoken to the caller as is.
    ``details`` are extra machine-readable fields (e.g. ``suggestions``).
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """``ok`` with a ``result`` dict, or not ``ok`` with ``error = {"code", "message", ...}``."""

    ok: bool
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def success(cls, result: dict[str, Any]) -> ToolOutcome:
        return cls(ok=True, result=result)

    @classmethod
    def failure(cls, code: str, message: str, **details: Any) -> ToolOutcome:
        return cls(ok=False, error={"code": code, "message": message, **details})

    @property
    def code(self) -> str | None:
        return None if self.error is None else str(self.error.get("code"))

    @property
    def message(self) -> str:
        """The speakable error message ('' when ok)."""
        return "" if self.error is None else str(self.error.get("message", ""))

    @property
    def cancelled(self) -> bool:
        return self.code == "cancelled"

    def to_content(self) -> str:
        """The JSON fed back to an LLM as the tool message content."""
        payload = self.result if self.ok else {"error": self.error}
        return json.dumps(payload, default=str, ensure_ascii=False)
