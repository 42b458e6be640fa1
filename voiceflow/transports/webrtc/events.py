"""The JSON events the server sends the page on the "events" data channel.

Every event is one JSON object with a ``type``:

* ``{"type": "transcript", "role": "user", "text": str, "final": bool}`` — the caller's
  speech; an interim carries the whole hypothesis so far, a final closes the line.
* ``{"type": "transcript", "role": "agent", "text": str, "final": bool}`` — the agent's
  words; a final is a sentence sent to synthesis (TextToSpeak), a non-final is a streamed
  LLM token to append (``"delta": true``).
* ``{"type": "latency", "turn": int, "v2v_ms": float, ...}`` — voice-to-voice latency of
  a turn (caller's last voiced audio → first agent audio handed to the peer), plus any
  ``*_ms`` stage figures a pipeline reported for it.
* ``{"type": "speaking", "role": "agent", "active": bool}`` — the agent's audio started or
  stopped playing on the track.
* ``{"type": "interrupt"}`` — barge-in: the agent's audio was cut.
* ``{"type": "metrics", "processor": str, "values": {...}}`` — other Metrics frames.

The page may send ``{"type": "hangup"}`` to end the call.
"""

from __future__ import annotations

import math
from typing import Any

Event = dict[str, Any]

CHANNEL_LABEL = "events"


def transcript(role: str, text: str, final: bool, *, delta: bool = False) -> Event:
    event: Event = {"type": "transcript", "role": role, "text": text, "final": final}
    if delta:
        event["delta"] = True
    return event


def latency(turn: int, v2v_ms: float, **stages: float) -> Event:
    event: Event = {"type": "latency", "turn": turn, "v2v_ms": round(v2v_ms, 1)}
    event.update({k: round(v, 1) for k, v in stages.items()})
    return event


def speaking(active: bool) -> Event:
    return {"type": "speaking", "role": "agent", "active": active}


def interrupt() -> Event:
    return {"type": "interrupt"}


def metrics(processor: str, values: dict[str, float]) -> Event:
    clean = {k: v for k, v in values.items() if isinstance(v, int | float) and math.isfinite(v)}
    return {"type": "metrics", "processor": processor, "values": clean}
