"""A local fake of the OpenAI Realtime API (GA event names) over a real WebSocket.

The real ``openai`` SDK connects to it with ``AsyncOpenAI(base_url=fake.base_url)``
and ``client.realtime.connect(model=...)`` (``ws://127.0.0.1:PORT/v1/realtime?model=...``,
``Authorization: Bearer KEY``). Per connection it:

- sends ``session.created``; applies ``session.update`` (instructions, voice, audio
  formats ``audio/pcmu`` / ``audio/pcma`` / ``audio/pcm`` at 24 kHz, turn detection,
  input transcription, tools) and answers ``session.updated``;
- runs turn detection on ``input_audio_buffer.append`` audio (Silero, ``SpeechSegmenter``;
  ``server_vad`` by silence, ``semantic_vad`` by eagerness and whether the turn sounds
  finished: see ``realtime_turns``; ``turn_ends`` records each decision):
  ``input_audio_buffer.speech_started`` / ``speech_stopped`` with ``audio_start_ms`` /
  ``audio_end_ms`` and the user item id, then ``committed``, ``conversation.item.added``
  and ``conversation.item.input_audio_transcription.completed`` (our pocketsphinx);
- answers with the rule-based model (``realtime_model``): function calls
  (``response.function_call_arguments.delta``/``done``) or speech synthesized by Piper in
  the session's output format (``response.output_audio.delta`` and
  ``response.output_audio_transcript.delta``), ending with ``response.done`` (usage) and
  ``rate_limits.updated``;
- continues a cut-off answer when ``response.create`` asks (``response.instructions``
  saying "continue"): only the words after those of the last assistant message;
- honours ``response.cancel`` (``response.done`` with status ``cancelled``), records
  ``conversation.item.truncate`` positions (``truncations``) and answers ``truncated``;
- rejects what the real service rejects with an ``error`` event (unknown event type,
  invalid JSON, a truncate past the audio or of an unknown item, a second
  ``response.create`` while one is active).

Injection: ``model_latency_s`` (before each response), ``audio_pace`` (1.0 streams
output audio at real time; 0 as fast as possible), ``refuse`` (handshake answered 503),
``drop()`` (close every socket abruptly), ``drop_after_audio_deltas`` (close mid-response, once),
``inject(event)`` (send any event, e.g. an ``error`` or a malformed one), and
``max_session_s`` (the session ends with ``session_expired``, as the 60-minute cap does).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from voiceflow.core.clock import MonotonicClock
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.processors.audio.silero import VADStream
from voiceflow.processors.audio.vad import SpeechSegmenter
from voiceflow.testing.fakes.realtime_items import (
    RATES,
    VAD_RATE,
    Item,
    context,
    decode,
    default_session,
    item_json,
    merge,
    transcribe,
)
from voiceflow.testing.fakes.realtime_model import FunctionCallStep, decide
from voiceflow.testing.fakes.realtime_responses import function_call, rest_of_answer, speak
from voiceflow.testing.fakes.realtime_turns import sounds_finished, turn_detection_problem, turn_rules

log = logging.getLogger("voiceflow.fakes.realtime")

__all__ = ["FakeRealtimeServer", "Truncation", "fake_providers"]


@dataclass(frozen=True)
class Truncation:
    item_id: str
    content_index: int
    audio_end_ms: int
    #: ms of audio the item had when it was truncated
    audio_ms: float


@dataclass
class _Session:
    ws: ServerConnection
    config: dict[str, Any] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    response: asyncio.Task[None] | None = None
    response_id: str | None = None
    vad: VADStream | None = None
    segmenter: SpeechSegmenter | None = None
    resampler: StreamResampler | None = None
    in_format: str = "audio/pcm"
    speech: bytearray = field(default_factory=bytearray)
    recent: bytearray = field(default_factory=bytearray)
    speaking_item: str | None = None
    samples: int = 0  # 16 kHz samples received since the session began
    #: the next response continues the last (cut-off) assistant message (``response.instructions``)
    continuing: bool = False
    #: semantic_vad: a pause in an unfinished-sounding turn (its end ms, the sample it ends at)
    held: tuple[int, int] | None = None


class FakeRealtimeServer:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        model_latency_s: float = 0.0,
        audio_pace: float = 0.0,
        max_session_s: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.model_latency_s = model_latency_s
        self.audio_pace = audio_pace
        self.max_session_s = max_session_s
        self.refuse = False
        self.drop_after_audio_deltas: int | None = None
        self.received: list[dict[str, Any]] = []  # client events (audio payloads elided)
        self.truncations: list[Truncation] = []
        self._truncated = asyncio.Event()
        self.cancelled: list[str] = []  # response ids cancelled by response.cancel
        #: assistant item id -> the audio bytes sent for it, in the session's output format
        self.sent_audio: dict[str, bytearray] = {}
        #: every input audio byte appended, as received (all sessions, in order)
        self.audio_in = bytearray()
        #: every end of turn decided: (audio_end_ms, input audio ms received when it was decided)
        self.turn_ends: list[tuple[int, int]] = []
        self.connections = 0
        self.sessions: list[_Session] = []
        self._server: Server | None = None
        self._ids = itertools.count(1)
        self._stt: Any = None
        self._stt_wide: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> FakeRealtimeServer:
        from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine

        self._stt = PocketsphinxEngine(channel="phone", domain_lm=True)
        self._stt_wide = PocketsphinxEngine(domain_lm=True)
        await asyncio.gather(self._stt.start(MonotonicClock()), self._stt_wide.start(MonotonicClock()))
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._check, max_size=None, compression=None
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for engine in (self._stt, self._stt_wide):
            if engine is not None:
                await engine.aclose()

    async def __aenter__(self) -> FakeRealtimeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def base_url(self) -> str:
        """What ``AsyncOpenAI(base_url=...)`` takes; the SDK adds ``/realtime`` and the ws scheme."""
        return f"http://127.0.0.1:{self.port}/v1"

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e.get("type") == kind]

    async def wait_truncations(self, count: int, timeout: float = 10.0) -> Truncation:
        """Wait until ``count`` truncations were recorded; the latest."""
        async with asyncio.timeout(timeout):
            while len(self.truncations) < count:
                self._truncated.clear()
                await self._truncated.wait()
        return self.truncations[-1]

    async def drop(self) -> None:
        """Close every live socket without a close handshake (a network drop)."""
        for s in list(self.sessions):
            s.ws.transport.abort()

    async def inject(self, event: dict[str, Any] | str) -> None:
        """Send ``event`` (a dict, or raw text: malformed on purpose) on every live session."""
        for s in list(self.sessions):
            with contextlib.suppress(ConnectionClosed):
                await s.ws.send(event if isinstance(event, str) else json.dumps(event))

    # -- the handshake ------------------------------------------------------------------------
    def _check(self, ws: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path.rstrip("/") != "/v1/realtime":
            return ws.respond(404, "not found\n")
        if self.refuse:
            return ws.respond(503, "service unavailable\n")
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            body = json.dumps(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                        "message": "Incorrect API key provided.",
                    }
                }
            )
            return Response(401, "Unauthorized", Headers({"Content-Type": "application/json"}), body.encode())
        if not parse_qs(parts.query).get("model"):
            return ws.respond(400, "missing model\n")
        return None

    # -- one connection -------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        model = parse_qs(urlsplit(ws.request.path if ws.request else "").query).get("model", [""])[0]
        s = _Session(ws, config=default_session(model))
        self.sessions.append(s)
        expiry = None
        if self.max_session_s is not None:
            expiry = asyncio.get_running_loop().call_later(self.max_session_s, self._expire, s)
        try:
            await self._send(s, "session.created", session=s.config)
            async for raw in ws:
                await self._on_message(s, raw)
        except ConnectionClosed:
            pass
        finally:
            if expiry is not None:
                expiry.cancel()
            if s.response is not None:
                s.response.cancel()
            self.sessions.remove(s)

    def _expire(self, s: _Session) -> None:
        async def end() -> None:
            with contextlib.suppress(ConnectionClosed):
                await self._error(
                    s,
                    "invalid_request_error",
                    "session_expired",
                    "Your session hit the maximum duration of 60 minutes.",
                )
                await s.ws.close(1000, "session expired")

        self._spawn(end())

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    async def _send(self, s: _Session, kind: str, **fields: Any) -> None:
        await s.ws.send(json.dumps({"type": kind, "event_id": self._id("event"), **fields}))

    async def _error(self, s: _Session, kind: str, code: str, message: str, **extra: Any) -> None:
        await self._send(
            s, "error", error={"type": kind, "code": code, "message": message, "param": None, **extra}
        )

    async def _on_message(self, s: _Session, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError as exc:
            await self._error(s, "invalid_request_error", "invalid_json", f"Invalid JSON: {exc}")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self._error(s, "invalid_request_error", "invalid_event", "Event has no 'type'.")
            return
        kind = event["type"]
        record = dict(event)
        if kind == "input_audio_buffer.append":
            record["audio"] = len(str(event.get("audio", "")))
        self.received.append(record)
        handler = _HANDLERS.get(kind)
        if handler is None:
            await self._error(
                s,
                "invalid_request_error",
                "invalid_event",
                f"Unknown event type '{kind}'.",
                event_id=event.get("event_id"),
            )
            return
        await handler(self, s, event)

    # -- client events ----------------------------------------------------------------------------
    async def _session_update(self, s: _Session, event: dict[str, Any]) -> None:
        update = event.get("session")
        if not isinstance(update, dict):
            await self._error(
                s,
                "invalid_request_error",
                "missing_required_parameter",
                "Missing required parameter: 'session'.",
            )
            return
        audio = update.get("audio", {})
        fmt = (audio.get("input") or {}).get("format") if isinstance(audio, dict) else None
        if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in RATES):
            await self._error(
                s,
                "invalid_request_error",
                "invalid_value",
                f"Invalid value for 'session.audio.input.format': {fmt!r}.",
            )
            return
        td = (
            (audio.get("input") or {}).get("turn_detection", "absent")
            if isinstance(audio, dict)
            else "absent"
        )
        problem = None if td == "absent" else turn_detection_problem(td)
        if problem is not None:
            await self._error(s, "invalid_request_error", "invalid_value", problem)
            return
        merge(s.config, update)
        s.in_format = s.config["audio"]["input"]["format"]["type"]
        s.vad = s.segmenter = s.resampler = None
        await self._send(s, "session.updated", session=s.config)

    async def _append(self, s: _Session, event: dict[str, Any]) -> None:
        try:
            data = base64.b64decode(str(event.get("audio", "")), validate=True)
        except ValueError:
            await self._error(s, "invalid_request_error", "invalid_value", "Invalid base64 in 'audio'.")
            return
        self.audio_in.extend(data)
        pcm = decode(s.in_format, data)
        if s.resampler is None:
            s.resampler = StreamResampler(RATES[s.in_format], VAD_RATE, quality="QQ")
            s.vad = VADStream(VAD_RATE)
            rules = turn_rules(s.config["audio"]["input"].get("turn_detection") or {})
            s.segmenter = SpeechSegmenter(
                s.vad.window, VAD_RATE, stop_secs=rules.pause_s, threshold=rules.threshold
            )
        pcm = s.resampler.process(pcm)
        assert s.vad is not None and s.segmenter is not None
        s.samples += len(pcm) // 2
        s.recent.extend(pcm)
        if len(s.recent) > 2 * VAD_RATE * 2:  # keep 2 s for the prefix padding
            del s.recent[: len(s.recent) - 2 * VAD_RATE * 2]
        if s.speaking_item is not None:
            s.speech.extend(pcm)
        windows = await asyncio.to_thread(s.vad.process, pcm)
        td = s.config["audio"]["input"].get("turn_detection")
        if td is None:
            return
        rules = turn_rules(td)
        for w in windows:
            seg = s.segmenter.update(w)
            if seg is None:
                continue
            ms = seg.sample * 1000 // VAD_RATE
            if seg.kind == "start" and s.held is not None:
                s.held = None  # the caller went on after a pause: the same turn continues
            elif seg.kind == "start":
                s.speaking_item = self._id("item")
                pad = rules.prefix_padding_ms * VAD_RATE // 1000
                recent_start = s.samples - len(s.recent) // 2
                s.speech = bytearray(s.recent[2 * max(0, seg.sample - pad - recent_start) :])
                await self._send(
                    s, "input_audio_buffer.speech_started", audio_start_ms=ms, item_id=s.speaking_item
                )
            elif s.speaking_item is not None:
                if rules.semantic and not sounds_finished(await transcribe(self._engine(s), bytes(s.speech))):
                    s.held = (ms, seg.sample + round(rules.max_wait_s * VAD_RATE))
                    continue
                await self._end_turn(s, ms)
        if s.held is not None and s.samples >= s.held[1]:
            ms, s.held = s.held[0], None
            await self._end_turn(s, ms)

    def _engine(self, s: _Session) -> Any:
        return self._stt if s.in_format != "audio/pcm" else self._stt_wide

    async def _end_turn(self, s: _Session, ms: int) -> None:
        assert s.speaking_item is not None
        item_id, s.speaking_item = s.speaking_item, None
        audio, s.speech = bytes(s.speech), bytearray()
        self.turn_ends.append((ms, s.samples * 1000 // VAD_RATE))
        await self._send(s, "input_audio_buffer.speech_stopped", audio_end_ms=ms, item_id=item_id)
        self._spawn(self._commit(s, item_id, audio))

    async def _commit(self, s: _Session, item_id: str, audio: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):  # the client may close while we transcribe
            await self._commit_turn(s, item_id, audio)

    async def _commit_turn(self, s: _Session, item_id: str, audio: bytes) -> None:
        previous = s.items[-1].id if s.items else None
        item = Item(item_id, "message", role="user", audio_ms=len(audio) / 2 / VAD_RATE * 1000)
        s.items.append(item)
        await self._send(s, "input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        await self._send(s, "conversation.item.added", previous_item_id=previous, item=item_json(item))
        item.text = await transcribe(self._engine(s), audio)
        await self._send(
            s,
            "conversation.item.input_audio_transcription.completed",
            item_id=item_id,
            content_index=0,
            transcript=item.text,
            usage={"type": "duration", "seconds": round(item.audio_ms / 1000, 2)},
        )
        td = s.config["audio"]["input"].get("turn_detection") or {}
        if td.get("create_response", True) and s.response is None:
            self._start_response(s)

    async def _commit_event(self, s: _Session, event: dict[str, Any]) -> None:
        await self._error(
            s,
            "invalid_request_error",
            "input_audio_buffer_commit_empty",
            "Error committing input audio buffer: buffer is empty.",
        )

    async def _clear(self, s: _Session, event: dict[str, Any]) -> None:
        s.speech = bytearray()
        await self._send(s, "input_audio_buffer.cleared")

    async def _item_create(self, s: _Session, event: dict[str, Any]) -> None:
        raw = event.get("item")
        if not isinstance(raw, dict) or raw.get("type") not in (
            "message",
            "function_call",
            "function_call_output",
        ):
            await self._error(s, "invalid_request_error", "invalid_value", "Invalid 'item'.")
            return
        item = Item(str(raw.get("id") or self._id("item")), raw["type"], role=str(raw.get("role", "")))
        if item.type == "message":
            item.text = " ".join(
                str(c.get("text") or c.get("transcript") or "")
                for c in raw.get("content", [])
                if isinstance(c, dict)
            ).strip()
        item.call_id, item.name = str(raw.get("call_id", "")), str(raw.get("name", ""))
        item.arguments, item.output = str(raw.get("arguments", "")), str(raw.get("output", ""))
        if item.type == "function_call_output" and not any(
            i.type == "function_call" and i.call_id == item.call_id for i in s.items
        ):
            await self._error(
                s,
                "invalid_request_error",
                "invalid_value",
                f"No tool call found with call_id '{item.call_id}'.",
            )
            return
        previous = s.items[-1].id if s.items else None
        s.items.append(item)
        await self._send(s, "conversation.item.added", previous_item_id=previous, item=item_json(item))
        await self._send(s, "conversation.item.done", previous_item_id=previous, item=item_json(item))

    async def _response_create(self, s: _Session, event: dict[str, Any]) -> None:
        if s.response is not None:
            await self._error(
                s,
                "invalid_request_error",
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {s.response_id}.",
            )
            return
        params = event.get("response")
        instructions = params.get("instructions") if isinstance(params, dict) else None
        s.continuing = isinstance(instructions, str) and "continue" in instructions.lower()
        self._start_response(s)

    async def _response_cancel(self, s: _Session, event: dict[str, Any]) -> None:
        task, rid = s.response, s.response_id
        if task is None or rid is None:
            await self._error(
                s,
                "invalid_request_error",
                "response_cancel_not_active",
                "Cancellation failed: no active response found.",
            )
            return
        self.cancelled.append(rid)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _truncate(self, s: _Session, event: dict[str, Any]) -> None:
        item_id, end = event.get("item_id"), event.get("audio_end_ms")
        item = next((i for i in s.items if i.id == item_id), None)
        if item is None or item.role != "assistant":
            await self._error(
                s,
                "invalid_request_error",
                "invalid_value",
                f"Invalid 'item_id': no assistant audio item '{item_id}'.",
            )
            return
        if not isinstance(end, int) or end < 0 or end > item.audio_ms + 1:
            await self._error(
                s,
                "invalid_request_error",
                "invalid_value",
                f"audio_end_ms {end!r} is past the item's {item.audio_ms:.0f} ms of audio.",
            )
            return
        self.truncations.append(Truncation(item.id, int(event.get("content_index", 0)), end, item.audio_ms))
        self._truncated.set()
        words = item.text.split()
        item.text = " ".join(words[: round(len(words) * end / item.audio_ms)]) if item.audio_ms else ""
        await self._send(s, "conversation.item.truncated", item_id=item.id, content_index=0, audio_end_ms=end)

    # -- responses -----------------------------------------------------------------------------------
    def _start_response(self, s: _Session) -> None:
        s.response_id = self._id("resp")
        s.response = self._spawn(self._respond(s, s.response_id))

    async def _respond(self, s: _Session, rid: str) -> None:
        output: list[dict[str, Any]] = []
        status = "completed"
        try:
            await self._send(
                s,
                "response.created",
                response={"id": rid, "object": "realtime.response", "status": "in_progress", "output": []},
            )
            if self.model_latency_s:
                await asyncio.sleep(self.model_latency_s)
            continuing, s.continuing = s.continuing, False
            step = rest_of_answer(s) if continuing else decide(context(s))
            if step is None:
                pass  # nothing was left to say
            elif isinstance(step, FunctionCallStep):
                output.append(await function_call(self, s, rid, step))
            else:
                output.append(await speak(self, s, rid, step.text))
        except asyncio.CancelledError:
            status = "cancelled"
        except ConnectionClosed:
            return
        finally:
            s.response = None
            s.response_id = None
        with contextlib.suppress(ConnectionClosed):
            usage = {"total_tokens": 40, "input_tokens": 25, "output_tokens": 15}
            await self._send(
                s,
                "response.done",
                response={
                    "id": rid,
                    "object": "realtime.response",
                    "status": status,
                    "output": output,
                    "usage": usage,
                },
            )
            await self._send(
                s,
                "rate_limits.updated",
                rate_limits=[
                    {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60.0},
                    {"name": "tokens", "limit": 50000, "remaining": 49960, "reset_seconds": 1.0},
                ],
            )


async def fake_providers(stack: contextlib.AsyncExitStack) -> dict[str, str]:
    """``voiceflow call --pipeline realtime --fake-providers``: a fake on a free port, closed with ``stack``;
    returns the settings that point the realtime pipeline at it."""
    fake = await stack.enter_async_context(FakeRealtimeServer(api_key="fake-key"))
    return {"OPENAI_API_KEY": "fake-key", "VOICEFLOW_OPENAI_URL": fake.base_url}


_HANDLERS = {
    "session.update": FakeRealtimeServer._session_update,
    "input_audio_buffer.append": FakeRealtimeServer._append,
    "input_audio_buffer.commit": FakeRealtimeServer._commit_event,
    "input_audio_buffer.clear": FakeRealtimeServer._clear,
    "conversation.item.create": FakeRealtimeServer._item_create,
    "conversation.item.truncate": FakeRealtimeServer._truncate,
    "response.create": FakeRealtimeServer._response_create,
    "response.cancel": FakeRealtimeServer._response_cancel,
}
