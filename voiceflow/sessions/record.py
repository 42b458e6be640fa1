"""One call's session record: what another instance (or a restarted one) needs to know about a call.

Stored as JSON under the call id. ``decode`` is strict: a record that is not
exactly this shape raises ``CorruptSession`` naming what is wrong, so a damaged
entry in Redis is reported and skipped instead of crashing a call.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

__all__ = ["LIVE", "CorruptSession", "SessionRecord", "decode", "encode"]

#: states a record moves through; "live" is the only one counted as a live call
LIVE = "live"
STATES = frozenset({LIVE, "transferring", "ended", "failed"})

#: the longest transcript summary kept in a record (older text is cut from the front)
MAX_SUMMARY_CHARS = 2000


class CorruptSession(ValueError):
    """A stored record could not be read back (not JSON, or not a session record)."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    call_id: str
    instance: str  # the instance that owns the call (runs its graph)
    transport: str
    caller: str | None
    state: str = LIVE
    started_at: float = 0.0  # wall-clock seconds since the epoch
    updated_at: float = 0.0
    summary: str = ""  # recent transcript, "caller: …" / "agent: …" lines
    tools: dict[str, str] = field(default_factory=dict)  # tool call id -> "tool:state"
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # bumped on every write by the owner

    @property
    def live(self) -> bool:
        return self.state == LIVE

    def changed(self, at: float, **changes: Any) -> SessionRecord:
        """A copy with ``changes`` applied, ``updated_at`` set and the version bumped."""
        if "summary" in changes:
            changes["summary"] = changes["summary"][-MAX_SUMMARY_CHARS:]
        return replace(self, updated_at=at, version=self.version + 1, **changes)


_FIELDS = {f.name for f in fields(SessionRecord)}
_STR = ("call_id", "instance", "transport", "state", "summary")
_NUM = ("started_at", "updated_at")


def encode(record: SessionRecord) -> str:
    return json.dumps(asdict(record), separators=(",", ":"), sort_keys=True)


def decode(raw: str | bytes) -> SessionRecord:
    """Parse a stored record; ``CorruptSession`` says precisely what is wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptSession(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CorruptSession(f"expected an object, got {type(data).__name__}")
    missing = {"call_id", "instance", "transport"} - data.keys()
    if missing:
        raise CorruptSession(f"missing {', '.join(sorted(missing))}")
    unknown = data.keys() - _FIELDS
    if unknown:
        raise CorruptSession(f"unknown fields {', '.join(sorted(unknown))}")
    for name in _STR:
        if name in data and not isinstance(data[name], str):
            raise CorruptSession(f"{name} is not a string")
    for name in _NUM:
        if name in data and (isinstance(data[name], bool) or not isinstance(data[name], int | float)):
            raise CorruptSession(f"{name} is not a number")
    if data.get("state", LIVE) not in STATES:
        raise CorruptSession(f"unknown state {data['state']!r}")
    if not isinstance(data.get("version", 0), int) or isinstance(data.get("version"), bool):
        raise CorruptSession("version is not an integer")
    if data.get("caller") is not None and not isinstance(data["caller"], str):
        raise CorruptSession("caller is not a string")
    tools = data.get("tools", {})
    if not isinstance(tools, dict) or not all(isinstance(v, str) for v in tools.values()):
        raise CorruptSession("tools is not a map of strings")
    if not isinstance(data.get("metadata", {}), dict):
        raise CorruptSession("metadata is not an object")
    return SessionRecord(**data)
