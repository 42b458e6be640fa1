"""What every LLM adapter shares, whatever its provider's wire shape.

- ``parse_arguments``: a complete tool call from its JSON text (malformed JSON is
  reported in ``parse_error``, never raised: the registry answers it to the model);
- ``retry_after``: seconds to wait from ``retry-after-ms`` / ``retry-after`` headers;
- ``split_system``: the round's system prompt (``system_override`` or the standing one,
  plus later system notes) apart from the conversation, for providers that take the
  system prompt as a top-level field (Anthropic ``system``, Gemini ``system_instruction``);
- ``FirstToken``: time to first token on the engine's clock, logged per round.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from voiceflow.services.llm.engine import ChatMessage, ToolCallRequest

log = logging.getLogger("voiceflow.llm")


def parse_arguments(call_id: str, name: str, raw: str) -> ToolCallRequest:
    """A complete tool call; malformed JSON is reported in ``parse_error``, never raised."""
    if not raw.strip():
        return ToolCallRequest(id=call_id, name=name, arguments={}, raw_arguments=raw)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return ToolCallRequest(
            id=call_id, name=name, arguments={}, raw_arguments=raw, parse_error=f"invalid JSON: {exc}"
        )
    if not isinstance(value, dict):
        return ToolCallRequest(
            id=call_id,
            name=name,
            arguments={},
            raw_arguments=raw,
            parse_error=f"arguments must be a JSON object, got {type(value).__name__}",
        )
    return ToolCallRequest(id=call_id, name=name, arguments=value, raw_arguments=raw)


def arguments_text(call: ToolCallRequest) -> str:
    """What the model sent (kept verbatim when it was malformed), else the parsed arguments."""
    if call.parse_error is not None or (call.raw_arguments and not call.arguments):
        return call.raw_arguments
    return json.dumps(call.arguments, separators=(",", ":"))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def split_system(
    messages: Sequence[ChatMessage], system_override: str | None
) -> tuple[str | None, list[ChatMessage]]:
    """(system text, the other messages) for a provider with a top-level system prompt.

    ``system_override`` replaces the standing prompt (a leading system message); later
    system messages (a summary of earlier turns, notes) are appended to the system text,
    because these providers have no system role inside the conversation.
    """
    rest = list(messages)
    parts: list[str] = []
    if rest and rest[0].role == "system":
        standing = rest.pop(0)
        if system_override is None and standing.content:
            parts.append(standing.content)
    if system_override is not None:
        parts.insert(0, system_override)
    parts.extend(m.content for m in rest if m.role == "system" and m.content)
    others = [m for m in rest if m.role != "system"]
    text = "\n\n".join(p for p in parts if p.strip())
    return (text or None), others


class FirstToken:
    """Time to first token of one round, on the engine's ``now`` function."""

    def __init__(self, provider: str, now: Callable[[], float]) -> None:
        self.provider = provider
        self.now = now
        self.started = now()
        self.ms: float | None = None

    def seen(self) -> None:
        if self.ms is None:
            self.ms = (self.now() - self.started) * 1000.0
            log.info("%s: time to first token %.1f ms", self.provider, self.ms)
