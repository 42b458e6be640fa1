"""A client that speaks Twilio Media Streams to a server, behaving as Twilio does.

Used by the transport tests, ``voiceflow call`` and the latency benchmark::

    async with TwilioMediaClient(server.ws_url("/twilio/media"), caller="+15550100") as call:
        sent_at = await call.send_audio(pcm16_16k, sample_rate=16000)   # real-time paced
        reply = await call.wait_for_reply(after=sent_at)                # the agent's answer
        print(reply.started_at - sent_at, len(reply.audio))

Like Twilio, it sends ``connected`` and ``start`` (with the call SID, stream
SID and custom parameters), ``media`` in 20 ms frames of base64 mu-law (paced
at real time on its clock, or as fast as possible), ``dtmf`` and ``stop``. It
plays what it receives at real time: each ``mark`` is echoed only once the
audio sent before it has played, and a ``clear`` drops the buffered audio and
echoes every pending mark at once. Everything received is recorded with the
client clock's timestamps (``media``, ``marks``, ``clears``, ``events``).

Like Twilio, it first calls the inbound webhook (``POST /twilio/voice`` beside
the socket URL, signed when given the ``auth_token``) and copies the TwiML's
stream parameters, the one-time token included, into its ``start``
(``webhook=False`` skips that, as a stranger opening the socket directly would).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import aiohttp
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voiceflow.core.clock import Clock, MonotonicClock
from voiceflow.processors.audio.codecs import ulaw_decode, ulaw_encode
from voiceflow.processors.audio.resample import StreamResampler

__all__ = ["AgentReply", "ReceivedMark", "ReceivedMedia", "TwilioMediaClient"]

RATE = 8000
FRAME_BYTES = 160  # 20 ms of mu-law at 8 kHz
FRAME_S = 0.02
ULAW_SILENCE = b"\xff"


@dataclass
class ReceivedMedia:
    at: float  # client clock time it arrived
    ulaw: bytes
    play_start: float  # when the simulated phone starts playing it
    cleared: bool = False  # dropped by a clear before it played

    @property
    def seconds(self) -> float:
        return len(self.ulaw) / RATE


@dataclass
class ReceivedMark:
    name: str
    at: float
    due: float  # when the audio before it has played
    echoed_at: float | None = None
    cleared: bool = False  # echoed early because of a clear


@dataclass
class AgentReply:
    started_at: float  # first agent frame received
    ended_at: float  # last agent frame received
    audio: bytes  # PCM16 8 kHz of the reply
    frames: int


class TwilioMediaClient:
    """One simulated Twilio call over a real WebSocket (see module doc)."""

    def __init__(
        self,
        url: str,
        *,
        call_sid: str | None = None,
        caller: str | None = "+15550100001",
        stream_sid: str | None = None,
        account_sid: str = "AC" + "0" * 32,
        custom_parameters: dict[str, str] | None = None,
        clock: Clock | None = None,
        echo_marks: bool = True,
        open_timeout: float = 5.0,
        webhook: bool = True,
        auth_token: str | None = None,
        signed_url: str | None = None,
        public_host: str | None = None,
    ) -> None:
        self.url = url
        #: the URL Twilio would sign (the TwiML's ``wss://`` one; default: ``url``)
        self.signed_url = signed_url or url
        #: like Twilio, sign the handshake (X-Twilio-Signature over the URL) with the account's auth token
        self.auth_token = auth_token
        self.call_sid = call_sid or "CA" + uuid.uuid4().hex
        self.stream_sid = stream_sid or "MZ" + uuid.uuid4().hex
        self.account_sid = account_sid
        params = {"call_sid": self.call_sid} | ({"caller": caller} if caller else {})
        self.custom_parameters = params | (custom_parameters or {})
        self.caller = caller
        self.webhook = webhook
        self.auth_token = auth_token
        self.public_host = public_host
        self.clock: Clock = clock or MonotonicClock()
        self.echo_marks = echo_marks
        self.open_timeout = open_timeout
        self.media: list[ReceivedMedia] = []
        self.marks: list[ReceivedMark] = []
        self.clears: list[float] = []
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.stopped = False
        self._ws: ClientConnection | None = None
        self._send_lock = asyncio.Lock()
        self._seq = 0
        self._chunk = 0
        self._media_ts_ms = 0
        self._started_at = 0.0
        self._playhead = 0.0
        self._pending: list[ReceivedMark] = []
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- connection ----------------------------------------------------------------------
    async def __aenter__(self) -> TwilioMediaClient:
        await self.connect()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self, *, start: bool = True) -> None:
        """Call the webhook (unless told not to), open the socket, send ``connected`` and ``start``."""
        if self.webhook and "token" not in self.custom_parameters:
            self.custom_parameters |= await self.call_webhook()
        headers = {}
        if self.auth_token:
            from twilio.request_validator import RequestValidator

            validator = RequestValidator(self.auth_token)
            headers["X-Twilio-Signature"] = validator.compute_signature(self.signed_url, {})
        self._ws = await connect(
            self.url, open_timeout=self.open_timeout, max_size=2**22, additional_headers=headers
        )
        self._started_at = self._playhead = self.clock.now()
        self._tasks = [
            asyncio.create_task(self._reader(), name="twilio-client:reader"),
            asyncio.create_task(self._player(), name="twilio-client:player"),
        ]
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        if start:
            await self.send_start()

    async def call_webhook(self) -> dict[str, str]:
        """``POST /twilio/voice`` as Twilio would for this call; the TwiML stream's parameters."""
        base = self.url.replace("wss://", "https://").replace("ws://", "http://").split("/twilio/")[0]
        form = {"CallSid": self.call_sid, "AccountSid": self.account_sid, "To": "+15550009999"}
        if self.caller:
            form["From"] = self.caller
        headers = {}
        if self.auth_token is not None:
            signed = (
                f"https://{self.public_host}/twilio/voice" if self.public_host else f"{base}/twilio/voice"
            )
            headers["X-Twilio-Signature"] = RequestValidator(self.auth_token).compute_signature(signed, form)
        timeout = aiohttp.ClientTimeout(total=self.open_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.post(f"{base}/twilio/voice", data=form, headers=headers) as response:
                text = await response.text()
                if response.status != 200:
                    raise ConnectionError(f"webhook answered {response.status}: {text[:200]}")
        stream = ET.fromstring(text).find("./Connect/Stream")
        if stream is None:
            raise ConnectionError("webhook TwiML has no <Connect><Stream>")
        return {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}

    async def send_start(self) -> None:
        await self.send_json(
            {
                "event": "start",
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": self.account_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self.custom_parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1},
                },
                "streamSid": self.stream_sid,
            }
        )

    async def close(self) -> None:
        """Send ``stop`` (if the socket is open), close it and stop the client's tasks."""
        if self._ws is not None and not self._closed.is_set():
            with contextlib.suppress(ConnectionClosed):
                await self.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 5)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        """Wait for the server to close the socket; returns the close code."""
        await asyncio.wait_for(self._closed.wait(), timeout)
        return self.close_code

    # -- sending ---------------------------------------------------------------------------
    async def send_json(self, message: dict[str, Any]) -> None:
        self._seq += 1
        await self.send_raw(json.dumps({**message, "sequenceNumber": str(self._seq)}))

    async def send_raw(self, data: str | bytes) -> None:
        """Send anything (tests use it for garbage)."""
        if self._ws is None:
            raise RuntimeError("not connected")
        async with self._send_lock:
            await self._ws.send(data)

    async def send_audio(
        self,
        audio: bytes,
        *,
        sample_rate: int = RATE,
        encoding: Literal["pcm16", "ulaw"] = "pcm16",
        realtime: bool = True,
    ) -> float:
        """Stream caller audio as 20 ms ``media`` frames; returns the clock time the last one was sent.

        PCM16 at any rate is resampled to 8 kHz and mu-law encoded; ``encoding="ulaw"``
        takes 8 kHz mu-law as is. With ``realtime`` frames leave every 20 ms on the clock.
        """
        if encoding == "pcm16":
            pcm = StreamResampler(sample_rate, RATE).process(audio, last=True)
            ulaw = ulaw_encode(pcm)
        else:
            ulaw = bytes(audio)
        if len(ulaw) % FRAME_BYTES:
            ulaw += ULAW_SILENCE * (FRAME_BYTES - len(ulaw) % FRAME_BYTES)
        t0 = self.clock.now()
        for i, off in enumerate(range(0, len(ulaw), FRAME_BYTES)):
            if realtime:
                await self.clock.sleep(t0 + i * FRAME_S - self.clock.now())
            await self.send_media(ulaw[off : off + FRAME_BYTES])
        return self.clock.now()

    async def send_silence(self, seconds: float, *, realtime: bool = True) -> float:
        return await self.send_audio(ULAW_SILENCE * int(seconds * RATE), encoding="ulaw", realtime=realtime)

    async def send_media(self, ulaw: bytes) -> None:
        """One ``media`` message carrying ``ulaw`` (any length) on the inbound track."""
        self._chunk += 1
        await self.send_json(
            {
                "event": "media",
                "streamSid": self.stream_sid,
                "media": {
                    "track": "inbound",
                    "chunk": str(self._chunk),
                    "timestamp": str(self._media_ts_ms),
                    "payload": base64.b64encode(ulaw).decode("ascii"),
                },
            }
        )
        self._media_ts_ms += len(ulaw) * 1000 // RATE

    async def send_dtmf(self, digit: str) -> None:
        await self.send_json(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def stop(self) -> None:
        """The caller hangs up: ``stop`` (once)."""
        if self.stopped:
            return
        self.stopped = True
        await self.send_json(
            {
                "event": "stop",
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            }
        )

    # -- what came back ------------------------------------------------------------------
    def received_audio(self, since: float | None = None, *, heard_only: bool = False) -> bytes:
        """Agent audio received (after ``since``) as PCM16 8 kHz; ``heard_only`` skips cleared frames."""
        frames = [
            m.ulaw for m in self.media if (since is None or m.at > since) and not (heard_only and m.cleared)
        ]
        return ulaw_decode(b"".join(frames))

    def media_after(self, since: float) -> list[ReceivedMedia]:
        return [m for m in self.media if m.at > since]

    async def wait_for_agent_audio(self, *, after: float | None = None, timeout: float = 10.0) -> float:
        """Wait for agent audio received after ``after`` (default: any); returns its arrival time."""
        since = float("-inf") if after is None else after
        async with asyncio.timeout(timeout):
            while True:
                fresh = self.media_after(since)
                if fresh:
                    return fresh[0].at
                await self._wait_change()

    async def wait_for_reply(
        self, *, after: float | None = None, timeout: float = 15.0, quiet_s: float = 0.6
    ) -> AgentReply:
        """Wait for the agent's reply after ``after``: its first frame, then ``quiet_s`` without media
        and every mark echoed (the reply has played out)."""
        since = float("-inf") if after is None else after
        async with asyncio.timeout(timeout):
            await self.wait_for_agent_audio(after=after, timeout=timeout)
            while True:
                last = self.media_after(since)[-1].at
                wait = last + quiet_s - self.clock.now()
                if wait <= 0 and not self._pending:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_change(), max(wait, 0.02))
        frames = self.media_after(since)
        return AgentReply(
            started_at=frames[0].at,
            ended_at=frames[-1].at,
            audio=ulaw_decode(b"".join(m.ulaw for m in frames)),
            frames=len(frames),
        )

    async def wait_for_clear(self, *, after: float | None = None, timeout: float = 10.0) -> float:
        since = float("-inf") if after is None else after
        async with asyncio.timeout(timeout):
            while True:
                later = [t for t in self.clears if t > since]
                if later:
                    return later[0]
                await self._wait_change()

    async def _wait_change(self) -> None:
        self._changed.clear()
        if self._closed.is_set():
            raise ConnectionError(f"server closed the stream ({self.close_code} {self.close_reason})")
        waiter = asyncio.ensure_future(self._changed.wait())
        closer = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({waiter, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            closer.cancel()

    # -- the simulated phone ------------------------------------------------------------------
    async def _reader(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            self.close_reason = self._ws.close_reason or ""
            self._closed.set()
            self._changed.set()

    def _receive(self, raw: str | bytes) -> None:
        now = self.clock.now()
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = {"event": "<not json>", "raw": raw[:200]}
        if not isinstance(msg, dict):
            msg = {"event": "<not an object>"}
        self.events.append(msg)
        event = msg.get("event")
        if event == "media":
            ulaw = base64.b64decode(msg["media"]["payload"])
            start = max(self._playhead, now)
            self._playhead = start + len(ulaw) / RATE
            self.media.append(ReceivedMedia(now, ulaw, start))
        elif event == "mark":
            mark = ReceivedMark(msg["mark"]["name"], now, due=max(self._playhead, now))
            self.marks.append(mark)
            self._pending.append(mark)
        elif event == "clear":
            self.clears.append(now)
            for m in reversed(self.media):
                if m.play_start < now:
                    break
                m.cleared = True
            self._playhead = now
            for mark in self._pending:
                mark.cleared = True
                mark.due = now
        self._changed.set()

    async def _player(self) -> None:
        """Echo each mark once its audio has played (at once after a clear), as Twilio does."""
        while True:
            if not self._pending:
                await self._wait_change()
                continue
            head = self._pending[0]
            wait = head.due - self.clock.now()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_change(), wait)
                continue
            self._pending.pop(0)
            head.echoed_at = self.clock.now()
            if self.echo_marks:
                with contextlib.suppress(ConnectionClosed):
                    await self.send_json(
                        {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": head.name}}
                    )
            self._changed.set()
