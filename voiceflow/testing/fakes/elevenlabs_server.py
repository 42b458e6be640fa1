"""A local fake of ElevenLabs' text-to-speech WebSocket (stream-input) and voice-cloning API.

Wire protocol, as documented and as the ``elevenlabs`` SDK speaks it:

- ``WS /v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=…&language_code=…``;
  the key in the ``xi-api-key`` header (or in the first message's ``xi-api-key`` field).
- Client messages: first ``{"text": " ", "voice_settings": {...}, "generation_config":
  {"chunk_length_schedule": [...]}}``; then ``{"text": "…", "flush": true?,
  "try_trigger_generation": true?}``; ``{"text": ""}`` ends the input.
- Text is buffered; audio is generated when the buffer reaches the next length of
  ``chunk_length_schedule`` (default 120, 160, 250, 290 characters), on ``flush`` or
  ``try_trigger_generation``, and for the rest when the input ends.
- Server messages: ``{"audio": "<base64>", "isFinal": null, "normalizedAlignment": {...},
  "alignment": {...}}`` then ``{"isFinal": true}`` and a normal close (1000).
- Errors are in-band: ``{"message": "…", "error": "<status>", "code": 1008}`` then a close
  with that code: ``invalid_api_key``, ``voice_not_found``, ``quota_exceeded``,
  ``invalid_output_format``, ``invalid_message``, ``input_timeout_exceeded`` (no input for
  ``inactivity_timeout`` seconds) close with 1008 (policy violation);
  ``too_many_concurrent_requests`` with 1013 (try again later).
- ``POST /v1/voices/add`` (multipart: ``name``, ``description``, ``files``): answers
  ``{"voice_id": "…", "requires_verification": false}``; 401 with a ``detail`` body for a bad
  key, 400 for files that are not audio, 422 without a name or files.

Audio is real Piper speech in the requested ``output_format`` (``pcm_<rate>``,
``ulaw_8000``, ``mp3_<rate>_<kbps>``). ``faults`` injects latency, errors, a socket drop
after N chunks, garbage frames or a truncated MP3. ``sessions`` records every connection
(query, key, messages received, texts generated, chunks sent, how it ended) and
``uploads`` every cloning request.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from voiceflow.testing.fakes import tts_audio
from voiceflow.testing.fakes.aiohttp_fake import AiohttpFake
from voiceflow.testing.fakes.tts_audio import Faults

DEFAULT_VOICES = ("21m00Tcm4TlvDq8ikWAM", "EXAVITQu4vr4xnAQuRSx")
DEFAULT_SCHEDULE = (120.0, 160.0, 250.0, 290.0)

#: status → (human message, close code)
ERRORS: dict[str, tuple[str, int]] = {
    "invalid_api_key": ("Invalid API key", 1008),
    "voice_not_found": ("A voice with the voice_id provided was not found.", 1008),
    "quota_exceeded": ("This request exceeds your quota of 10000. You have 3 credits remaining.", 1008),
    "invalid_output_format": ("Invalid output format.", 1008),
    "invalid_message": ("Could not parse the message sent.", 1008),
    "input_timeout_exceeded": ("Input timeout exceeded: no text received for too long.", 1008),
    "too_many_concurrent_requests": ("Too many concurrent requests for your subscription.", 1013),
}


@dataclass
class Session:
    voice_id: str
    query: dict[str, str]
    api_key: str | None
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: texts audio was generated for, in order
    generated: list[str] = field(default_factory=list)
    chunks_sent: int = 0
    #: "final", "client_closed", "dropped", or the error status
    ended: str | None = None
    generating: bool = False

    @property
    def text_received(self) -> str:
        return "".join(str(m.get("text", "")) for m in self.messages[1:])


@dataclass
class Upload:
    name: str
    description: str | None
    files: list[tuple[str, int]]  # (filename, bytes)
    voice_id: str


def parse_output_format(value: str) -> tuple[str, int] | None:
    m = re.fullmatch(r"(pcm|ulaw|mp3)_(\d+)(?:_(\d+))?", value)
    if m is None:
        return None
    kind, rate = m.group(1), int(m.group(2))
    if kind == "ulaw" and rate != 8000:
        return None
    if kind == "pcm" and rate not in (8000, 16000, 22050, 24000, 44100, 48000):
        return None
    if kind == "mp3" and rate not in (22050, 44100):
        return None
    return {"pcm": "pcm", "ulaw": "mulaw", "mp3": "mp3"}[kind], rate


def _looks_like_audio(data: bytes) -> bool:
    return (
        (data[:4] == b"RIFF" and data[8:12] == b"WAVE")
        or data[:3] == b"ID3"
        or data[:4] in (b"OggS", b"fLaC")
        or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    )


class FakeElevenLabsServer(AiohttpFake):
    def __init__(
        self,
        *,
        api_key: str = "el-test-key",
        voices: tuple[str, ...] = DEFAULT_VOICES,
        inactivity_timeout: float = 20.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.voices = set(voices)
        self.inactivity_timeout = inactivity_timeout
        self.faults = Faults()
        self.sessions: list[Session] = []
        self.uploads: list[Upload] = []
        self._ids = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/text-to-speech/{voice_id}/stream-input", self._stream_input)
        app.router.add_post("/v1/voices/add", self._add_voice)

    # -- probes for tests --------------------------------------------------------------------
    def work(self) -> int:
        return sum(s.chunks_sent for s in self.sessions)

    def busy(self) -> bool:
        return any(s.generating or s.ended is None for s in self.sessions)

    # -- stream-input --------------------------------------------------------------------------
    async def _stream_input(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        session = Session(
            voice_id=request.match_info["voice_id"],
            query=dict(request.query),
            api_key=request.headers.get("xi-api-key"),
        )
        self.sessions.append(session)
        sender: asyncio.Task[None] | None = None
        try:
            sender = await self._converse(request, ws, session)
        finally:
            if sender is not None and not sender.done():
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
            session.generating = False
            if session.ended is None:
                session.ended = "client_closed"
            if not ws.closed:
                await ws.close()
        return ws

    async def _fail(self, ws: web.WebSocketResponse, session: Session, status: str) -> None:
        message, code = ERRORS[status]
        session.ended = status
        await ws.send_str(json.dumps({"message": message, "error": status, "code": code}))
        await ws.close(code=code, message=status.encode())

    async def _converse(
        self, request: web.Request, ws: web.WebSocketResponse, session: Session
    ) -> asyncio.Task[None] | None:
        faults = self.faults
        fmt = parse_output_format(session.query.get("output_format", "mp3_44100_128"))
        if session.voice_id not in self.voices:
            await self._fail(ws, session, "voice_not_found")
            return None
        if fmt is None:
            await self._fail(ws, session, "invalid_output_format")
            return None
        schedule = list(DEFAULT_SCHEDULE)
        buffer = ""
        speed = 1.0
        jobs: asyncio.Queue[str | None] = asyncio.Queue()
        sender: asyncio.Task[None] | None = None
        first = True
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), self.inactivity_timeout)
            except TimeoutError:
                await self._fail(ws, session, "input_timeout_exceeded")
                return sender
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return sender
            try:
                data = json.loads(msg.data) if msg.type == WSMsgType.TEXT else None
            except ValueError:
                data = None
            if not isinstance(data, dict) or not isinstance(data.get("text"), str):
                await self._fail(ws, session, "invalid_message")
                return sender
            session.messages.append(data)
            if first:
                first = False
                key = session.api_key or data.get("xi-api-key")
                session.api_key = key
                if key != self.api_key:
                    await self._fail(ws, session, "invalid_api_key")
                    return None
                if faults.error:
                    await self._fail(ws, session, faults.error)
                    return None
                if data["text"] != " ":
                    await self._fail(ws, session, "invalid_message")
                    return None
                settings = data.get("voice_settings") or {}
                speed = float(settings.get("speed") or 1.0)
                config = data.get("generation_config") or {}
                schedule = [float(x) for x in config.get("chunk_length_schedule") or schedule]
                sender = asyncio.create_task(self._send_audio(request, ws, session, fmt, speed, jobs))
                continue
            text = data["text"]
            if text == "":  # end of input: the rest is generated, then isFinal
                if buffer.strip():
                    jobs.put_nowait(buffer.strip())
                jobs.put_nowait(None)
                buffer = ""
                continue
            buffer += text
            threshold = schedule[min(len(session.generated), len(schedule) - 1)]
            if data.get("flush") or data.get("try_trigger_generation") or len(buffer) >= threshold:
                if buffer.strip():
                    jobs.put_nowait(buffer.strip())
                buffer = ""

    async def _send_audio(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        session: Session,
        fmt: tuple[str, int],
        speed: float,
        jobs: asyncio.Queue[str | None],
    ) -> None:
        faults = self.faults
        encoding, rate = fmt
        first = True
        while True:
            text = await jobs.get()
            if text is None:
                await ws.send_str(json.dumps({"isFinal": True}))
                session.ended = "final"
                await ws.close(code=1000)
                return
            session.generated.append(text)
            session.generating = True
            if first and faults.first_audio_delay_s:
                await asyncio.sleep(faults.first_audio_delay_s)
            first = False
            if faults.garbage:
                await ws.send_str("<html><body>502 Bad Gateway</body></html>")
                session.ended = "garbage"
                await ws.close(code=1011)
                return
            audio = await tts_audio.speech_async(text, encoding, rate, speed)
            if faults.truncate_mp3 and encoding == "mp3":
                audio = audio[:200]  # less than one MP3 frame: nothing decodable
            pieces = tts_audio.chunks(audio, encoding, rate)
            # the audio's length: 1 byte a sample (mu-law), 2 (PCM), MP3 at its 128 kbps
            width = {"mulaw": 1, "pcm": 2}.get(encoding)
            seconds = len(audio) / width / rate if width else len(audio) * 8 / 128_000
            _, starts, ends = tts_audio.word_times(text, seconds)
            for i, piece in enumerate(pieces):
                if faults.drop_after is not None and session.chunks_sent >= faults.drop_after:
                    session.ended = "dropped"
                    if request.transport is not None:
                        request.transport.abort()
                    return
                message: dict[str, Any] = {"audio": base64.b64encode(piece).decode(), "isFinal": None}
                if i == 0:
                    message["alignment"] = message["normalizedAlignment"] = _alignment(text, starts, ends)
                await ws.send_str(json.dumps(message))
                session.chunks_sent += 1
                if faults.chunk_delay_s:
                    await asyncio.sleep(faults.chunk_delay_s)
                else:
                    await asyncio.sleep(0)
            session.generating = False

    # -- voice cloning -------------------------------------------------------------------------
    async def _add_voice(self, request: web.Request) -> web.Response:
        if request.headers.get("xi-api-key") != self.api_key:
            body = {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
            return web.json_response(body, status=401)
        form = await request.post()
        name = str(form.get("name") or "").strip()
        files = [f for f in form.getall("files", []) if isinstance(f, web.FileField)]
        if not name or not files:
            missing = "name" if not name else "files"
            detail = [{"loc": ["body", missing], "msg": "field required", "type": "value_error.missing"}]
            return web.json_response({"detail": detail}, status=422)
        seen: list[tuple[str, int]] = []
        for f in files:
            data = f.file.read()
            if not _looks_like_audio(data):
                bad = {"status": "invalid_file", "message": f"{f.filename} is not an audio file"}
                return web.json_response({"detail": bad}, status=400)
            seen.append((f.filename, len(data)))
        voice_id = f"cloned{next(self._ids):04d}"
        description = form.get("description")
        self.uploads.append(Upload(name, str(description) if description else None, seen, voice_id))
        self.voices.add(voice_id)
        return web.json_response({"voice_id": voice_id, "requires_verification": False})


def _alignment(text: str, starts: list[float], ends: list[float]) -> dict[str, Any]:
    """Every character of ``text`` timed (ms from this audio's start): a word's letters share its
    span (``tts_audio.word_times``), a space sits at the end of the word before it."""
    chars = list(text)
    times: list[int] = []
    durations: list[int] = []
    spans = iter(zip(starts, ends, strict=True))
    span: tuple[float, float] | None = None
    at, step, last_end = 0.0, 0.0, 0.0
    for i, char in enumerate(chars):
        if not char.isspace() and (i == 0 or chars[i - 1].isspace()):  # a word begins
            span = next(spans, None)
            if span is not None:
                length = len(text[i:].split(maxsplit=1)[0])
                at, step, last_end = span[0], (span[1] - span[0]) / max(1, length), span[1]
        if char.isspace():
            times.append(round(last_end * 1000))
            durations.append(0)
            continue
        times.append(round(at * 1000))
        durations.append(round(step * 1000))
        at += step
    return {"chars": chars, "charStartTimesMs": times, "charDurationsMs": durations}
