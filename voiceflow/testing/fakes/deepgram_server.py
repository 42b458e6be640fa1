"""A local fake of Deepgram's live transcription WebSocket (``/v1/listen``), over a real socket,
for the real ``deepgram-sdk``. What it sends back is *recognized*, not scripted: the audio it
receives goes through our own offline recognizer (pocketsphinx), so a test hears what was said.

Handshake, as documented: ``Authorization: Token <key>`` (or ``Bearer``) checked (401
``INVALID_AUTH`` otherwise), query parameters parsed, validated and recorded (400 with a
``dg-error`` header for an unknown model or encoding, a raw encoding without
``sample_rate``, ``keywords`` on Nova-3, ``keyterm`` before Nova-3, ``utterance_end_ms``
without ``interim_results``).

Session: binary messages are audio (``linear16`` or ``mulaw`` at ``sample_rate``); text
messages ``KeepAlive``, ``Finalize`` and ``CloseStream`` are recorded and obeyed. The fake's
own endpointing runs on the audio timeline (not the wall clock), so results are deterministic:
an energy detector marks speech (``SpeechStarted`` with ``vad_events``), interim ``Results``
follow the recognizer's running hypothesis (``interim_results``), ``endpointing`` ms of
silence after speech closes the segment (``is_final`` and ``speech_final``), ``Finalize``
closes it at once (``is_final`` and ``from_finalize``; always answered, empty when nothing
was said), ``utterance_end_ms`` of silence after the last word sends ``UtteranceEnd``.
``CloseStream`` flushes, sends ``Metadata`` and closes 1000. Undecodable audio (odd-length
linear16) closes 1008 ``DATA-0000``; no audio nor ``KeepAlive`` for ``idle_timeout_s`` closes
1011 ``NET-0001``.

Faults: ``result_delay_s`` before each result (the provider's latency), ``reject_next(status)``
(the next handshake fails), ``handshake_delay_s`` (the next handshake is answered that late),
``drop_after_audio_s`` (the next session's socket is cut, no close frame, once that much audio
has arrived), ``send_raw(text)`` (a malformed or unknown message
to every live session). ``sessions`` records each connection; ``finals`` the time each final
was decided and sent (``time.perf_counter``), for the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from voiceflow.core.clock import MonotonicClock
from voiceflow.processors.audio.codecs import ulaw_decode
from voiceflow.processors.audio.resample import StreamResampler
from voiceflow.services.stt.engine import FinalText, InterimText, STTEngine, STTStream

MODELS = (
    "nova-3",
    "nova-3-general",
    "nova-2",
    "nova-2-general",
    "nova-2-phonecall",
    "nova",
    "base",
    "enhanced",
)
ENCODINGS = ("linear16", "mulaw", "alaw", "flac", "opus", "amr-nb", "amr-wb", "speex", "g729")
RATE = 16000  # what the recognizer takes
FRAME = RATE // 50  # 20 ms of samples
VOICED_DBFS = -40.0


@dataclass
class FinalTiming:
    """When the fake decided a final (its recognizer answered) and when it sent it."""

    decided_at: float
    sent_at: float
    text: str


@dataclass
class Session:
    """One connection, as received."""

    query: dict[str, list[str]]
    headers: dict[str, str]
    audio_bytes: int = 0
    audio_seconds: float = 0.0
    #: text messages from the client (``KeepAlive``, ``Finalize``, ``CloseStream``, anything else)
    controls: list[str] = field(default_factory=list)
    #: every message the fake sent (JSON text)
    sent: list[dict[str, Any]] = field(default_factory=list)
    finals: list[FinalTiming] = field(default_factory=list)
    close_code: int | None = None
    dropped_by_server: bool = False
    closed: bool = False

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


def validate(query: dict[str, list[str]]) -> str | None:
    """What Deepgram would refuse in these query parameters (the ``dg-error`` text), or None."""

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    model = one("model") or "base"
    if model not in MODELS:
        return f"No such model/version combination found: model={model!r}"
    encoding = one("encoding")
    if encoding is not None and encoding not in ENCODINGS:
        return f"Invalid query string. encoding={encoding!r} is not a supported encoding"
    if encoding in ("linear16", "mulaw", "alaw") and one("sample_rate") is None:
        return "Invalid query string. sample_rate is required when encoding is set to a raw format"
    rate = one("sample_rate")
    if rate is not None and not rate.isdigit():
        return f"Invalid query string. sample_rate={rate!r} is not an integer"
    if encoding == "mulaw" and rate not in (None, "8000", "16000"):
        return "Invalid query string. mulaw audio is 8000 or 16000 Hz"
    nova3 = model.startswith("nova-3")
    if nova3 and "keywords" in query:
        return "Keywords are not supported for Nova-3. Use keyterm instead."
    if not nova3 and "keyterm" in query:
        return "Keyterm prompting is only available for Nova-3 models."
    if "utterance_end_ms" in query and one("interim_results") != "true":
        return "utterance_end_ms requires interim_results=true"
    for name in ("endpointing", "utterance_end_ms"):
        value = one(name)
        if value is not None and value != "false" and not value.isdigit():
            return f"Invalid query string. {name}={value!r} is not an integer"
    return None


class FakeDeepgramServer:
    """``async with FakeDeepgramServer(api_key="dg-test") as fake``; give the SDK ``fake.url``."""

    def __init__(
        self,
        *,
        api_key: str = "dg-test",
        host: str = "127.0.0.1",
        port: int = 0,
        recognizer: Callable[[int], STTEngine] | None = None,
        result_delay_s: float = 0.0,
        idle_timeout_s: float = 10.0,
    ) -> None:
        """``recognizer(sample_rate)`` makes the offline engine for audio at that line rate
        (default: pocketsphinx with the domain language model, the phone channel at 8 kHz)."""
        self.api_key = api_key
        self.host = host
        self.port = port
        self.result_delay_s = result_delay_s
        self.idle_timeout_s = idle_timeout_s
        self.drop_after_audio_s: float | None = None
        #: seconds the next handshake waits before it is answered (a slow or stuck provider)
        self.handshake_delay_s = 0.0
        self.sessions: list[Session] = []
        self._make_recognizer = recognizer or _pocketsphinx
        self._recognizers: dict[int, STTEngine] = {}
        self._rejects: deque[int] = deque()
        self._live: dict[int, tuple[ServerConnection, Session]] = {}
        self._server: Server | None = None
        self._changed = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> FakeDeepgramServer:
        self._server = await serve(self._session, self.host, self.port, process_request=self._handshake)
        self.port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self.port
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for engine in self._recognizers.values():
            await engine.aclose()
        self._recognizers.clear()

    async def __aenter__(self) -> FakeDeepgramServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The SDK environment's ``production`` (WebSocket) URL."""
        return f"ws://{self.host}:{self.port}"

    # -- faults and inspection ---------------------------------------------------------------
    def reject_next(self, status: int) -> None:
        """The next handshake fails with ``status`` (401, 429, 500, 503…)."""
        self._rejects.append(status)

    async def send_raw(self, text: str) -> None:
        """Send ``text`` as it is (malformed JSON, an unknown event) to every live session."""
        for ws, _ in list(self._live.values()):
            with contextlib.suppress(ConnectionClosed):
                await ws.send(text)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; it is checked whenever a session records something."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def _note(self) -> None:
        self._changed.set()

    @property
    def finals(self) -> list[FinalTiming]:
        return [f for s in self.sessions for f in s.finals]

    async def recognizer(self, rate: int) -> STTEngine:
        engine = self._recognizers.get(rate)
        if engine is None:
            engine = self._recognizers[rate] = self._make_recognizer(rate)
            await engine.start(MonotonicClock())
        return engine

    # -- handshake ---------------------------------------------------------------------------
    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.handshake_delay_s:
            delay, self.handshake_delay_s = self.handshake_delay_s, 0.0
            await asyncio.sleep(delay)
        parts = urlsplit(request.path)
        if parts.path != "/v1/listen":
            return _refuse(connection, HTTPStatus.NOT_FOUND, "NOT_FOUND", f"no route {parts.path}")
        auth = request.headers.get("Authorization", "")
        if auth not in (f"Token {self.api_key}", f"Bearer {self.api_key}"):
            return _refuse(connection, HTTPStatus.UNAUTHORIZED, "INVALID_AUTH", "Invalid credentials.")
        if self._rejects:
            status = HTTPStatus(self._rejects.popleft())
            return _refuse(connection, status, status.phrase.upper().replace(" ", "_"), "scripted failure")
        problem = validate(parse_qs(parts.query))
        if problem is not None:
            return _refuse(connection, HTTPStatus.BAD_REQUEST, "Bad Request", problem)
        return None

    # -- a session ---------------------------------------------------------------------------
    async def _session(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        session = Session(query, dict(ws.request.headers.raw_items()))
        self.sessions.append(session)
        self._live[id(ws)] = (ws, session)
        line_rate = int(session.param("sample_rate") or RATE)
        engine = await self.recognizer(line_rate)
        stream = await engine.open_stream()
        listener = _Listener(self, ws, session, stream, line_rate)
        reader = asyncio.create_task(listener.read_events(), name="fake-deepgram-results")
        try:
            await listener.receive()
        finally:
            del self._live[id(ws)]
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await stream.aclose()
            session.closed = True
            session.close_code = ws.close_code
            self._note()


class _Listener:
    """One session's audio timeline, endpointing and results."""

    def __init__(
        self, fake: FakeDeepgramServer, ws: ServerConnection, session: Session, stream: STTStream, rate: int
    ) -> None:
        self.fake = fake
        self.ws = ws
        self.session = session
        self.stream = stream
        self.encoding = session.param("encoding") or "linear16"
        self.resampler = StreamResampler(rate, RATE) if rate != RATE else None
        self.interims = session.param("interim_results") == "true"
        self.vad_events = session.param("vad_events") == "true"
        endpointing = session.param("endpointing")
        self.endpoint_s = None if endpointing == "false" else int(endpointing or 10) / 1000.0
        utterance_end = session.param("utterance_end_ms")
        self.utterance_end_s = int(utterance_end) / 1000.0 if utterance_end else None
        self.request_id = str(uuid.uuid4())
        self.pending = np.zeros(0, dtype=np.int16)  # samples not yet framed
        self.t = 0.0  # seconds of audio received
        self.cursor = 0.0  # where the next result starts
        self.voiced = False
        self.last_voiced_end = 0.0
        self.open_audio = False  # audio sent to the recognizer since the last finalize
        self.heard_words = False  # a word since the last UtteranceEnd
        self.causes: deque[str] = deque()  # why each finalize was called: endpoint | finalize | close
        self.answered = asyncio.Event()

    # -- inbound -------------------------------------------------------------------------
    async def receive(self) -> None:
        ws = self.ws
        while True:
            try:
                message = await asyncio.wait_for(ws.recv(), self.fake.idle_timeout_s)
            except TimeoutError:
                await ws.close(1011, "NET-0001: no audio received within the timeout window")
                return
            except ConnectionClosed:
                return
            if isinstance(message, bytes):
                if not await self._audio(message):
                    return
                continue
            self.session.controls.append(message)
            self.fake._note()
            kind = _control_type(message)
            if kind == "Finalize":
                await self._finalize("finalize")
            elif kind == "CloseStream":
                await self._close_stream()
                return

    async def _audio(self, data: bytes) -> bool:
        session = self.session
        if self.encoding == "linear16" and len(data) % 2:
            await self.ws.close(
                1008, "DATA-0000: the payload cannot be decoded as audio (odd-length linear16)"
            )
            return False
        pcm = ulaw_decode(data) if self.encoding == "mulaw" else data
        session.audio_bytes += len(data)
        if self.resampler is not None:
            pcm = self.resampler.process(pcm)
        if pcm:
            await self.stream.send(pcm)
        samples = np.frombuffer(pcm, dtype="<i2")
        self.pending = np.concatenate([self.pending, samples])
        while len(self.pending) >= FRAME:
            frame, self.pending = self.pending[:FRAME], self.pending[FRAME:]
            await self._frame(frame)
        session.audio_seconds = self.t
        drop = self.fake.drop_after_audio_s
        if drop is not None and self.t >= drop:
            self.fake.drop_after_audio_s = None
            session.dropped_by_server = True
            self.ws.transport.abort()  # no close frame: the client sees 1006
            return False
        return True

    async def _frame(self, frame: np.ndarray) -> None:
        start = self.t
        self.t += len(frame) / RATE
        self.open_audio = True
        rms = math.sqrt(float(np.mean(frame.astype(np.float64) ** 2))) or 1e-9
        voiced = 20 * math.log10(rms / 32768.0) > VOICED_DBFS
        if voiced:
            if not self.voiced and self.vad_events:
                await self._send({"type": "SpeechStarted", "channel": [0, 1], "timestamp": round(start, 3)})
            self.voiced = True
            self.heard_words = True
            self.last_voiced_end = self.t
            return
        silence = self.t - self.last_voiced_end
        if self.voiced and self.endpoint_s is not None and silence >= self.endpoint_s:
            self.voiced = False
            await self._finalize("endpoint")
        if self.heard_words and self.utterance_end_s is not None and silence >= self.utterance_end_s:
            self.heard_words = False
            self.voiced = False
            last = round(self.last_voiced_end, 3)
            await self._send({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": last})

    async def _finalize(self, cause: str) -> None:
        if not self.open_audio:  # nothing since the last final: answer at once, empty
            if cause == "finalize":
                await self._send(self._results(FinalText("", 1.0), cause, decided_at=time.perf_counter()))
            return
        self.open_audio = False
        self.causes.append(cause)
        await self.stream.finalize()

    async def _close_stream(self) -> None:
        if self.open_audio:
            self.answered.clear()
            await self._finalize("close")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.answered.wait(), 10.0)
        await self._send(
            {
                "type": "Metadata",
                "transaction_key": "deprecated",
                "request_id": self.request_id,
                "sha256": "",
                "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "duration": round(self.t, 3),
                "channels": 1,
                "models": [self.session.param("model") or "base"],
                "model_info": {},
            }
        )
        await self.ws.close(1000, "")

    # -- outbound ------------------------------------------------------------------------
    async def read_events(self) -> None:
        async for event in self.stream.events():
            if isinstance(event, InterimText) and self.interims and event.text:
                await self._send(self._interim(event.text))
            elif isinstance(event, FinalText):
                decided = time.perf_counter()
                cause = self.causes.popleft() if self.causes else "finalize"
                await self._send(self._results(event, cause, decided_at=decided))
                self.answered.set()

    def _interim(self, text: str) -> dict[str, Any]:
        return self._message(text, 0.5, (), is_final=False, speech_final=False, from_finalize=False)

    def _results(self, final: FinalText, cause: str, *, decided_at: float) -> dict[str, Any]:
        body = self._message(
            final.text,
            final.confidence,
            final.words,
            is_final=True,
            speech_final=cause == "endpoint",
            from_finalize=cause == "finalize",
        )
        self.session.finals.append(FinalTiming(decided_at, 0.0, final.text))
        self.cursor = self.t
        return body

    def _message(
        self,
        text: str,
        confidence: float,
        words: Any,
        *,
        is_final: bool,
        speech_final: bool,
        from_finalize: bool,
    ) -> dict[str, Any]:
        start = self.cursor
        body: dict[str, Any] = {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(max(0.0, self.t - start), 3),
            "start": round(start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "channel": {
                "alternatives": [
                    {
                        "transcript": text,
                        "confidence": round(confidence, 4),
                        "words": [
                            {
                                "word": w.text,
                                "start": round(w.start, 3),
                                "end": round(w.end, 3),
                                "confidence": round(w.confidence, 4),
                                "punctuated_word": w.text,
                            }
                            for w in words
                        ],
                    }
                ]
            },
            "metadata": {
                "request_id": self.request_id,
                "model_info": {"name": "general-nova-fake", "version": "2024-01-01", "arch": "nova-2"},
                "model_uuid": "00000000-0000-0000-0000-000000000000",
            },
        }
        if from_finalize:
            body["from_finalize"] = True
        return body

    async def _send(self, body: dict[str, Any]) -> None:
        if body.get("type") == "Results" and body["is_final"] and self.fake.result_delay_s:
            await asyncio.sleep(self.fake.result_delay_s)
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(body))
            self.session.sent.append(body)
            self.fake._note()
            if body.get("type") == "Results" and body["is_final"] and self.session.finals:
                self.session.finals[-1].sent_at = time.perf_counter()


def _control_type(message: str) -> str | None:
    try:
        value = json.loads(message)
    except json.JSONDecodeError:
        return None
    return value.get("type") if isinstance(value, dict) else None


def _refuse(connection: ServerConnection, status: HTTPStatus, code: str, message: str) -> Response:
    body = json.dumps({"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())})
    response = connection.respond(status, body)
    response.headers["Content-Type"] = "application/json"
    response.headers["dg-error"] = message
    return response


def _pocketsphinx(rate: int) -> STTEngine:
    from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine

    return PocketsphinxEngine(channel="phone" if rate <= 8000 else None, domain_lm=True)


__all__ = ["FakeDeepgramServer", "FinalTiming", "Session", "validate"]
