"""OpenAI Realtime (GA) through the ``openai`` SDK: ``client.realtime.connect(model=...)``.

The SDK owns the WebSocket (URL from ``base_url`` + ``/realtime?model=``, bearer auth,
its typed client events); this adapter sends ``session.update`` with the session's
formats, voice, turn detection, input transcription and tools, and maps the server's
events onto the provider-neutral ``RealtimeEvent``s of ``engine.py``. Events are read
as raw JSON (``recv_bytes``) so a malformed or unknown event becomes a precise
``ServerError(kind="malformed")`` instead of an exception that would end the session.
Error events are classified by their ``type`` / ``code``: rate limits, server errors,
the session's maximum duration, and invalid requests (our bug, never retried).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

from voiceflow.core.clock import Clock
from voiceflow.services.llm.tools import ToolSpec
from voiceflow.services.realtime.engine import (
    AudioDelta,
    FunctionCall,
    RateLimits,
    RealtimeError,
    RealtimeEvent,
    ResponseCreated,
    ResponseDone,
    ServerError,
    SessionConfig,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
    UserTranscript,
)

log = logging.getLogger("voiceflow.realtime.openai")

__all__ = ["OpenAIRealtimeEngine", "OpenAIRealtimeSession", "session_payload"]

#: server events we read but do not surface (lifecycle acknowledgements)
QUIET_EVENTS = frozenset(
    {
        "session.created", "session.updated", "conversation.created", "conversation.item.added",
        "conversation.item.created", "conversation.item.done", "conversation.item.truncated",
        "input_audio_buffer.committed", "input_audio_buffer.cleared",
        "response.output_item.added", "response.output_item.done", "response.content_part.added",
        "response.content_part.done", "response.output_audio.done", "response.output_audio_transcript.done",
        "response.function_call_arguments.delta", "output_audio_buffer.started",
        "output_audio_buffer.stopped", "output_audio_buffer.cleared",
        "conversation.item.input_audio_transcription.delta", "response.output_text.delta",
        "response.output_text.done",
    }
)  # fmt: skip


def _format(fmt: str) -> dict[str, Any]:
    return {"type": "audio/pcm", "rate": 24000} if fmt == "audio/pcm" else {"type": fmt}


def session_payload(config: SessionConfig) -> dict[str, Any]:
    """The GA ``session.update`` body for ``config``.

    ``interrupt_response`` is off: the processor decides barge-in itself (only while the
    agent is audible to the caller) and cancels with ``response.cancel``.
    """
    turn = dict(config.turn_detection) | {"create_response": True, "interrupt_response": False}
    return {
        "type": "realtime",
        "instructions": config.instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": _format(config.input_format),
                "transcription": {"model": config.transcription_model},
                "turn_detection": turn,
            },
            "output": {"format": _format(config.output_format), "voice": config.voice},
        },
        "tools": [_tool(spec) for spec in config.tools],
        "tool_choice": "auto",
    }


def _tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "name": spec.name,
        "description": spec.description,
        "parameters": spec.parameters,
    }


class OpenAIRealtimeEngine:
    """Opens Realtime sessions; one ``AsyncOpenAI`` client shared by every call."""

    name = "openai-realtime"

    def __init__(
        self, model: str, *, api_key: str, base_url: str | None = None, connect_timeout: float = 5.0
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.base_url = base_url
        self.connect_timeout = connect_timeout
        self._client: Any = None

    async def start(self, clock: Clock) -> None:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=0)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def connect(self, config: SessionConfig) -> OpenAIRealtimeSession:
        import asyncio

        if self._client is None:
            raise RealtimeError("OpenAIRealtimeEngine.start() must run before connect()")
        manager = self._client.realtime.connect(
            model=self.model, websocket_connection_options={"open_timeout": self.connect_timeout}
        )
        try:
            async with asyncio.timeout(self.connect_timeout):
                conn = await manager.enter()
        except Exception as exc:  # refused handshake, unreachable host, timeout
            raise RealtimeError(f"cannot open a Realtime session: {type(exc).__name__}: {exc}") from exc
        session = OpenAIRealtimeSession(conn)
        try:
            await conn.session.update(session=session_payload(config))
        except Exception as exc:
            await session.aclose()
            raise RealtimeError(f"session.update failed: {type(exc).__name__}: {exc}") from exc
        return session


class OpenAIRealtimeSession:
    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._closed_reason: str | None = None

    @property
    def closed_reason(self) -> str | None:
        return self._closed_reason

    async def _send(self, event: dict[str, Any]) -> None:
        try:
            await self._conn.send(event)
        except Exception as exc:
            raise RealtimeError(f"send {event.get('type')} failed: {type(exc).__name__}: {exc}") from exc

    async def send_audio(self, audio: bytes) -> None:
        await self._send({"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()})

    async def create_response(self, instructions: str | None = None) -> None:
        if instructions is None:
            await self._send({"type": "response.create"})
        else:
            await self._send({"type": "response.create", "response": {"instructions": instructions}})

    async def cancel_response(self) -> None:
        await self._send({"type": "response.cancel"})

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        await self._send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": audio_end_ms,
            }
        )

    async def add_message(self, role: Literal["user", "assistant"], text: str) -> None:
        kind = "input_text" if role == "user" else "output_text"
        item = {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}
        await self._send({"type": "conversation.item.create", "item": item})

    async def add_function_call(self, call_id: str, name: str, arguments: str) -> None:
        item = {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}
        await self._send({"type": "conversation.item.create", "item": item})

    async def send_function_output(self, call_id: str, output: str) -> None:
        item = {"type": "function_call_output", "call_id": call_id, "output": output}
        await self._send({"type": "conversation.item.create", "item": item})

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                raw = await self._conn.recv_bytes()
            except ConnectionClosed as exc:
                self._closed_reason = f"socket closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
                return
            except Exception as exc:
                self._closed_reason = f"socket failed: {type(exc).__name__}: {exc}"
                return
            event = parse_event(raw)
            if event is not None:
                yield event

    async def aclose(self) -> None:
        self._closed_reason = self._closed_reason or "closed by us"
        try:
            await self._conn.close()
        except Exception as exc:
            log.debug("closing the Realtime socket: %s", exc)


def parse_event(raw: bytes | str) -> RealtimeEvent | None:
    """One server event as a ``RealtimeEvent``; None for acknowledgements; ``ServerError`` if unreadable."""
    try:
        ev = json.loads(raw)
    except ValueError as exc:
        return ServerError("malformed", "invalid_json", f"server event is not JSON: {exc}")
    if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
        return ServerError("malformed", "no_type", f"server event without a string 'type': {str(raw)[:80]!r}")
    kind = ev["type"]
    try:
        return _map(kind, ev)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        return ServerError("malformed", "bad_field", f"{kind}: {type(exc).__name__}: {exc}")


def _str(ev: dict[str, Any], key: str) -> str:
    value = ev[key]
    if not isinstance(value, str):
        raise TypeError(f"'{key}' must be a string, got {type(value).__name__}")
    return value


def _int(ev: dict[str, Any], key: str) -> int:
    value = ev[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"'{key}' must be an integer, got {type(value).__name__}")
    return value


def _map(kind: str, ev: dict[str, Any]) -> RealtimeEvent | None:
    if kind == "response.output_audio.delta":
        audio = base64.b64decode(_str(ev, "delta"), validate=True)
        return AudioDelta(_str(ev, "response_id"), _str(ev, "item_id"), audio)
    if kind == "response.output_audio_transcript.delta":
        return TranscriptDelta(_str(ev, "response_id"), _str(ev, "item_id"), _str(ev, "delta"))
    if kind == "input_audio_buffer.speech_started":
        return SpeechStarted(_str(ev, "item_id"), _int(ev, "audio_start_ms"))
    if kind == "input_audio_buffer.speech_stopped":
        return SpeechStopped(_str(ev, "item_id"), _int(ev, "audio_end_ms"))
    if kind == "conversation.item.input_audio_transcription.completed":
        return UserTranscript(_str(ev, "item_id"), _str(ev, "transcript"))
    if kind == "conversation.item.input_audio_transcription.failed":
        err = ev.get("error") or {}
        return ServerError("server", "transcription_failed", str(err.get("message", "transcription failed")))
    if kind == "response.function_call_arguments.done":
        return FunctionCall(
            _str(ev, "response_id"),
            _str(ev, "item_id"),
            _str(ev, "call_id"),
            _str(ev, "name"),
            _str(ev, "arguments"),
        )
    if kind == "response.created":
        resp = ev["response"]
        if not isinstance(resp, dict):
            raise TypeError("'response' must be an object")
        return ResponseCreated(_str(resp, "id"))
    if kind == "response.done":
        resp = ev["response"]
        if not isinstance(resp, dict):
            raise TypeError("'response' must be an object")
        usage = resp.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        return ResponseDone(_str(resp, "id"), str(resp.get("status", "completed")), usage)
    if kind == "rate_limits.updated":
        limits = {str(r.get("name")): r for r in ev["rate_limits"] if isinstance(r, dict)}
        return RateLimits(limits)
    if kind == "error":
        return classify_error(ev.get("error"))
    if kind in QUIET_EVENTS:
        return None
    return ServerError("malformed", "unknown_event", f"unknown server event type {kind!r:.60}")


def classify_error(err: Any) -> ServerError:
    """An ``error`` event's body, by type: rate limit, server error, session expiry or invalid request."""
    if not isinstance(err, dict):
        return ServerError("malformed", "bad_error", f"error event without an 'error' object: {err!r:.80}")
    etype, code = str(err.get("type") or ""), str(err.get("code") or "")
    message = str(err.get("message") or etype or "error")
    if code == "session_expired":
        return ServerError("session_expired", code, message)
    if "rate_limit" in etype or "rate_limit" in code:
        return ServerError("rate_limit", code or etype, message)
    if etype in ("server_error", "api_error") or code == "server_error":
        return ServerError("server", code or etype, message)
    return ServerError("invalid_request", code or etype, message)
