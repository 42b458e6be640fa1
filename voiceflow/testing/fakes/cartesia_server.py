"""A local fake of Cartesia's Sonic TTS WebSocket (``/tts/websocket``), over a real socket.

Wire protocol, as documented and as the ``cartesia`` SDK speaks it:

- Handshake: the key as ``Authorization: Bearer <key>`` (the SDK), ``X-API-Key`` or the
  ``api_key`` query parameter, and the API version as ``Cartesia-Version`` (or
  ``cartesia_version``). A wrong key is refused before the upgrade (HTTP 401), a missing
  version too (HTTP 400).
- Generation requests: ``{"context_id", "model_id", "transcript", "voice": {"mode": "id",
  "id"}, "output_format": {"container": "raw", "encoding": "pcm_s16le"|"pcm_mulaw"|"pcm_f32le",
  "sample_rate"}, "language", "add_timestamps", "continue", "generation_config": {"speed",
  "volume", "emotion"}}``. With ``continue: true`` more transcript follows on the same context
  (a continuation); the context ends with ``continue: false`` (often an empty transcript).
  ``{"context_id", "cancel": true}`` cancels a context: nothing more is sent for it.
- Responses, tagged with the ``context_id``: ``{"type": "chunk", "data": "<base64>", "done":
  false, "status_code": 206, "step_time"}``, ``{"type": "timestamps", "word_timestamps":
  {"words", "start", "end"}}`` when asked, then ``{"type": "done", "done": true}``.
- Errors: ``{"type": "error", "done": true, "status_code", "error_code", "title", "message",
  "context_id"}``: 400 ``invalid_request`` (malformed or incomplete message),
  ``voice_not_found``, ``unsupported_output_format``; 402 ``quota_exceeded``; 429
  ``rate_limited``. The connection stays open after a context's error.

Audio is real Piper speech in the requested encoding and rate, one generation per
transcript piece. ``faults`` injects latency, errors, a socket dropped after N chunks
(counted over the connection) or garbage frames; ``contexts`` records every context (the
transcripts received, chunks sent, how it ended) and ``connections`` every handshake.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from voiceflow.testing.fakes import tts_audio
from voiceflow.testing.fakes.aiohttp_fake import AiohttpFake
from voiceflow.testing.fakes.tts_audio import Faults

DEFAULT_VOICES = ("a0e99841-438c-4a64-b679-ae501e7d6091", "6ccbfb76-1fc6-48f7-b71d-91ac6298247b")
ENCODINGS = {"pcm_s16le": "pcm", "pcm_mulaw": "mulaw", "pcm_f32le": "f32"}
RATES = (8000, 16000, 22050, 24000, 44100, 48000)
ERRORS: dict[str, tuple[int, str, str]] = {
    "invalid_request": (400, "Invalid request", "The message is not a valid generation or cancel request."),
    "voice_not_found": (400, "Voice not found", "No voice with this id exists."),
    "unsupported_output_format": (400, "Invalid output format", "This output format is not supported."),
    "quota_exceeded": (402, "Payment required", "You have run out of credits."),
    "rate_limited": (429, "Too many requests", "Rate limit exceeded, slow down."),
}


@dataclass
class Context:
    id: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    chunks_sent: int = 0
    #: "done", "cancelled", "error:<code>", "dropped", "client_closed"
    ended: str | None = None
    generating: bool = False

    @property
    def transcript(self) -> str:
        return "".join(str(r.get("transcript", "")) for r in self.requests)


@dataclass
class Connection:
    headers: dict[str, str]
    query: dict[str, str]
    messages: list[Any] = field(default_factory=list)
    chunks_sent: int = 0


class FakeCartesiaServer(AiohttpFake):
    def __init__(
        self,
        *,
        api_key: str = "sk_car_test",
        voices: tuple[str, ...] = DEFAULT_VOICES,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.voices = set(voices)
        self.faults = Faults()
        self.connections: list[Connection] = []
        self.contexts: dict[str, Context] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/tts/websocket", self._websocket)

    def work(self) -> int:
        return sum(c.chunks_sent for c in self.connections)

    def busy(self) -> bool:
        return any(c.generating for c in self.contexts.values())

    @property
    def cancelled(self) -> list[str]:
        return [c.id for c in self.contexts.values() if c.ended == "cancelled"]

    # -- the socket ------------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        key = (
            auth.removeprefix("Bearer ").strip()
            or request.headers.get("X-API-Key")
            or request.query.get("api_key")
        )
        if key != self.api_key:
            body = {"title": "Unauthorized", "message": "Invalid API key.", "error_code": "invalid_api_key"}
            return web.json_response(body, status=401)
        if not (request.headers.get("Cartesia-Version") or request.query.get("cartesia_version")):
            body = {"title": "Bad request", "message": "Cartesia-Version header is required."}
            return web.json_response(body, status=400)
        conn = Connection(dict(request.headers), dict(request.query))
        self.connections.append(conn)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        tasks: dict[str, asyncio.Task[None]] = {}
        queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    data = None
                conn.messages.append(data)
                if not isinstance(data, dict) or not isinstance(data.get("context_id"), str):
                    await self._error(ws, None, "invalid_request")
                    continue
                cid = data["context_id"]
                if data.get("cancel"):
                    task = tasks.pop(cid, None)
                    if task is not None:
                        task.cancel()
                    ctx = self.contexts.get(cid)
                    if ctx is not None and ctx.ended is None:
                        ctx.ended = "cancelled"
                        ctx.generating = False
                    continue
                ctx = self.contexts.setdefault(cid, Context(cid))
                if ctx.ended is not None:
                    continue
                ctx.requests.append(data)
                if cid not in tasks:
                    queues[cid] = asyncio.Queue()
                    tasks[cid] = asyncio.create_task(self._generate(request, ws, conn, ctx, queues[cid]))
                queues[cid].put_nowait(data)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            for task_id in tasks:
                ctx = self.contexts[task_id]
                ctx.generating = False
                if ctx.ended is None:
                    ctx.ended = "client_closed"
        return ws

    async def _error(self, ws: web.WebSocketResponse, ctx: Context | None, code: str) -> None:
        status, title, message = ERRORS[code]
        event = {
            "type": "error",
            "done": True,
            "status_code": status,
            "error_code": code,
            "title": title,
            "message": message,
            "context_id": ctx.id if ctx else None,
        }
        if ctx is not None:
            ctx.ended = f"error:{code}"
            ctx.generating = False
        await ws.send_str(json.dumps(event))

    async def _generate(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        conn: Connection,
        ctx: Context,
        queue: asyncio.Queue[dict[str, Any]],
    ) -> None:
        faults = self.faults
        offset = 0.0
        first = True
        while True:
            data = await queue.get()
            fmt = data.get("output_format") or {}
            voice = data.get("voice") or {}
            if not isinstance(data.get("transcript"), str) or not isinstance(data.get("model_id"), str):
                await self._error(ws, ctx, "invalid_request")
                return
            if voice.get("mode", "id") != "id" or voice.get("id") not in self.voices:
                await self._error(ws, ctx, "voice_not_found")
                return
            encoding = ENCODINGS.get(fmt.get("encoding", ""))
            rate = fmt.get("sample_rate")
            if fmt.get("container") != "raw" or encoding is None or rate not in RATES:
                await self._error(ws, ctx, "unsupported_output_format")
                return
            if faults.error:
                await self._error(ws, ctx, faults.error)
                return
            text = data["transcript"].strip()
            if text:
                ctx.generating = True
                if first and faults.first_audio_delay_s:
                    await asyncio.sleep(faults.first_audio_delay_s)
                first = False
                if faults.garbage:
                    await ws.send_str("{'type': chunk, not json")
                    ctx.ended = "garbage"
                    ctx.generating = False
                    return
                speed = float((data.get("generation_config") or {}).get("speed") or 1.0)
                audio = await tts_audio.speech_async(text, encoding, rate, speed)
                for piece in tts_audio.chunks(audio, encoding, rate):
                    if faults.drop_after is not None and conn.chunks_sent >= faults.drop_after:
                        ctx.ended = "dropped"
                        ctx.generating = False
                        if request.transport is not None:
                            request.transport.abort()
                        return
                    chunk = {
                        "type": "chunk",
                        "data": base64.b64encode(piece).decode(),
                        "done": False,
                        "status_code": 206,
                        "step_time": 12.0,
                        "context_id": ctx.id,
                    }
                    await ws.send_str(json.dumps(chunk))
                    ctx.chunks_sent += 1
                    conn.chunks_sent += 1
                    await asyncio.sleep(faults.chunk_delay_s)
                width = {"pcm": 2, "mulaw": 1, "f32": 4}[encoding]
                seconds = len(audio) / width / rate
                if data.get("add_timestamps"):
                    words, starts, ends = tts_audio.word_times(text, seconds)
                    stamps = {
                        "words": words,
                        "start": [round(offset + s, 3) for s in starts],
                        "end": [round(offset + e, 3) for e in ends],
                    }
                    event = {
                        "type": "timestamps",
                        "done": False,
                        "status_code": 206,
                        "context_id": ctx.id,
                        "word_timestamps": stamps,
                    }
                    await ws.send_str(json.dumps(event))
                offset += seconds
                ctx.generating = False
            if data.get("continue") is False:
                done = {"type": "done", "done": True, "status_code": 206, "context_id": ctx.id}
                await ws.send_str(json.dumps(done))
                ctx.ended = "done"
                return
