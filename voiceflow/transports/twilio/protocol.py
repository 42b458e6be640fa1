"""Twilio Media Streams messages, as Twilio documents them, parsed and built.

Inbound (Twilio -> us), JSON text frames with an ``event``: ``connected``,
``start`` (``start.streamSid``, ``start.callSid``, ``start.customParameters``,
``start.mediaFormat`` = audio/x-mulaw, 8000 Hz, 1 channel), ``media``
(``media.payload`` base64 mu-law, ``media.track``, ``chunk``, ``timestamp``),
``dtmf`` (``dtmf.digit``), ``mark`` (``mark.name``: a mark we sent, echoed once
the audio before it has played) and ``stop``. Outbound (us -> Twilio):
``media``, ``mark`` and ``clear``, each with the ``streamSid``.

Parsing never trusts the peer: every field is type-checked and a malformed
message raises ``ProtocolError`` with a message saying what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from voiceflow.guard.json_limits import loads_bounded

__all__ = [
    "INBOUND_EVENTS",
    "MEDIA_FORMAT",
    "ProtocolError",
    "StartInfo",
    "clear_message",
    "dtmf_digit",
    "mark_message",
    "mark_name",
    "media_message",
    "media_payload",
    "parse_message",
    "parse_start",
]

#: the socket's own size limit applies first; this only bounds direct callers
MAX_MESSAGE_CHARS = 1 << 20
INBOUND_EVENTS = frozenset({"connected", "start", "media", "dtmf", "mark", "stop"})
#: the only format Twilio streams (and the only one we accept)
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}


class ProtocolError(ValueError):
    """A message that does not follow the Media Streams protocol."""


@dataclass(frozen=True)
class StartInfo:
    stream_sid: str
    call_sid: str
    account_sid: str = ""
    tracks: tuple[str, ...] = ("inbound",)
    custom_parameters: dict[str, str] = field(default_factory=dict)


def parse_message(text: str) -> tuple[str, dict[str, Any]]:
    """(event name, message) of one text frame; ProtocolError when it is not a protocol message."""
    try:
        msg = loads_bounded(text, max_bytes=MAX_MESSAGE_CHARS)
    except ValueError as exc:
        raise ProtocolError(str(exc)) from None
    if not isinstance(msg, dict):
        raise ProtocolError(f"expected a JSON object, got {type(msg).__name__}")
    event = msg.get("event")
    if not isinstance(event, str):
        raise ProtocolError("message has no string 'event'")
    return event, msg


def _section(msg: dict[str, Any], key: str) -> dict[str, Any]:
    part = msg.get(key)
    if not isinstance(part, dict):
        raise ProtocolError(f"'{msg.get('event')}' message has no '{key}' object")
    return part


def _text(part: dict[str, Any], key: str, where: str) -> str:
    value = part.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{where}.{key} must be a non-empty string, got {value!r:.60}")
    return value


def parse_start(msg: dict[str, Any]) -> StartInfo:
    start = _section(msg, "start")
    stream_sid = _text(start, "streamSid", "start")
    custom = start.get("customParameters") or {}
    if not isinstance(custom, dict):
        raise ProtocolError("start.customParameters must be an object")
    params = {str(k): str(v) for k, v in custom.items() if isinstance(v, str | int | float)}
    call_sid = start.get("callSid") or params.get("call_sid")
    if not isinstance(call_sid, str) or not call_sid:
        raise ProtocolError("start.callSid must be a non-empty string")
    fmt = start.get("mediaFormat", MEDIA_FORMAT)
    if not isinstance(fmt, dict) or any(fmt.get(k) != v for k, v in MEDIA_FORMAT.items()):
        raise ProtocolError(f"unsupported start.mediaFormat {fmt!r:.120}; expected {MEDIA_FORMAT}")
    tracks = start.get("tracks", ["inbound"])
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise ProtocolError("start.tracks must be a list of strings")
    account = start.get("accountSid")
    return StartInfo(
        stream_sid=stream_sid,
        call_sid=call_sid,
        account_sid=account if isinstance(account, str) else "",
        tracks=tuple(tracks),
        custom_parameters=params,
    )


def media_payload(msg: dict[str, Any]) -> tuple[str, str]:
    """(track, base64 payload) of a ``media`` message."""
    media = _section(msg, "media")
    payload = media.get("payload")
    if not isinstance(payload, str):
        raise ProtocolError("media.payload must be a string")
    track = media.get("track", "inbound")
    return (track if isinstance(track, str) else "inbound"), payload


def dtmf_digit(msg: dict[str, Any]) -> str:
    return _text(_section(msg, "dtmf"), "digit", "dtmf")


def mark_name(msg: dict[str, Any]) -> str:
    return _text(_section(msg, "mark"), "name", "mark")


def media_message(stream_sid: str, payload_b64: str) -> str:
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload_b64}})


def mark_message(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})
