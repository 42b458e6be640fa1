"""What the Anthropic and Gemini fakes share: an aiohttp server on 127.0.0.1 with
scripted or model-made replies, fault injection and a record of every request.

A provider fake subclasses ``FakeLLMServer`` and says how its wire looks: its routes,
its auth check, the request checks the real API makes, how to read a request into the
deterministic model's ``Conversation`` and how to render a ``Reply`` as its events.

Replies (provider-neutral): ``Say`` (text, streamed in ``chunks`` or word by word),
``CallTool`` (one tool call, its JSON in ``fragments`` pieces where the provider streams
them), ``Fail`` (an HTTP error, or with ``in_stream`` an error event after the stream
started), ``Hang`` (never answers). Each takes ``delay_s`` (time to first byte),
``token_delay_s`` (between tokens), ``drop_after`` (cut the socket after that many
events), ``hold_after`` + ``release`` (pause mid-stream until the event is set) and
``inject_after`` + ``inject`` (raw text sent as an extra event: malformed JSON, an unknown event).
Queue them with ``script(...)``; with none queued the model decides (``llm_model``).

Every request is a ``RecordedRequest``: ``finished``, ``closed_by_client`` (the client hung
up before the reply was complete: an abandoned stream, a timeout), ``dropped_by_server``.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from voiceflow.testing.fakes.aiohttp_fake import serve_app
from voiceflow.testing.fakes.llm_model import CallTool as ModelCall
from voiceflow.testing.fakes.llm_model import Conversation, decide
from voiceflow.testing.fakes.openai_server import RecordedRequest

__all__ = ["CallTool", "Fail", "FakeLLMServer", "Hang", "RecordedRequest", "Reply", "Say", "WireEvent"]


@dataclass(kw_only=True)
class Faults:
    #: seconds before the response starts (time to first byte)
    delay_s: float = 0.0
    #: seconds between streamed tokens (events that carry model output)
    token_delay_s: float = 0.0
    #: cut the connection after this many events
    drop_after: int | None = None
    #: after this many events, wait until ``release`` is set (or the server stops)
    hold_after: int | None = None
    release: asyncio.Event | None = None
    #: after this many events, send this raw text as one more event (malformed JSON, an unknown event)
    inject_after: int | None = None
    inject: str = "data: {this is not json\n\n"


@dataclass(kw_only=True)
class Say(Faults):
    text: str = ""
    chunks: list[str] | None = None

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        parts = self.text.split(" ")
        return [p if i == 0 else " " + p for i, p in enumerate(parts)]


@dataclass(kw_only=True)
class CallTool(Faults):
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    fragments: int = 3


@dataclass(kw_only=True)
class Fail(Faults):
    status: int = 500
    message: str = "scripted failure"
    retry_after: float | None = None
    #: send the error as an event after the stream started (HTTP 200), not as the status
    in_stream: bool = False


@dataclass(kw_only=True)
class Hang(Faults):
    """Never answers (until the server stops): for client timeouts."""


Reply = Say | CallTool | Fail | Hang
#: (event name or None, JSON data) of one server-sent event
WireEvent = tuple[str | None, dict[str, Any]]


class FakeLLMServer:
    """Base of a provider fake; subclasses fill the ``_``-prefixed wire hooks."""

    provider = "llm"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.conversations: list[Conversation] = []
        self._queue: deque[Reply] = deque()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._ended = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> Self:
        app = web.Application()
        self._routes(app)
        self._closing = asyncio.Event()
        self._ended = asyncio.Event()
        self._runner, self.port = await serve_app(app, self.host, self.port)
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- scripting and inspection ------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        self._queue.extend(replies)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests]

    async def wait_received(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until ``count`` requests have arrived (their replies may still be pending)."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._ended.clear()
                await self._ended.wait()

    async def wait_finished(self, index: int = -1, timeout: float = 5.0) -> RecordedRequest:
        async with asyncio.timeout(timeout):
            while True:
                record = self.requests[index] if self.requests else None
                if record is not None and record.finished:
                    return record
                self._ended.clear()
                await self._ended.wait()

    # -- the provider's wire (subclasses) ----------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _authorized(self, request: web.Request) -> bool:
        raise NotImplementedError

    def _auth_error(self) -> web.Response:
        raise NotImplementedError

    def _problem(self, request: web.Request, body: dict[str, Any]) -> str | None:
        """What the real API would reject in this request (a 400 message), or None."""
        raise NotImplementedError

    def _conversation(self, body: dict[str, Any]) -> Conversation:
        raise NotImplementedError

    def _events(self, reply: Say | CallTool | Fail, body: dict[str, Any]) -> Iterator[WireEvent]:
        raise NotImplementedError

    def _error_response(self, status: int, message: str, retry_after: float | None) -> web.Response:
        raise NotImplementedError

    def _is_token(self, event: WireEvent) -> bool:
        """Whether ``event`` carries model output (``token_delay_s`` paces only these)."""
        return True

    def _sse(self, event: WireEvent) -> bytes:
        name, data = event
        head = f"event: {name}\n" if name else ""
        return f"{head}data: {json.dumps(data)}\n\n".encode()

    # -- serving -----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = None
        record = RecordedRequest(request.method, request.path_qs, dict(request.headers), body or {})
        self.requests.append(record)
        self._ended.set()  # wakes ``wait_received`` (waiters re-check their own condition)
        try:
            return await self._answer(request, record, body)
        except (asyncio.CancelledError, ConnectionResetError):
            record.closed_by_client = not (record.dropped_by_server or self._closing.is_set())
            raise
        finally:
            record.finished = True
            self._ended.set()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if self._queue:
            return self._queue.popleft()
        conversation = self._conversation(body)
        self.conversations.append(conversation)
        decision = decide(conversation)
        if isinstance(decision, ModelCall):
            return CallTool(name=decision.name, arguments=decision.arguments)
        return Say(text=decision.text)

    async def _answer(self, request: web.Request, record: RecordedRequest, body: Any) -> web.StreamResponse:
        if self.api_key is not None and not self._authorized(request):
            return self._auth_error()
        problem = self._problem(request, body) if isinstance(body, dict) else "the body must be a JSON object"
        if problem is not None:
            return self._error_response(400, problem, None)
        reply = self._next_reply(body)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if isinstance(reply, Hang):
            await self._closing.wait()
            return web.Response(status=503)
        if isinstance(reply, Fail) and not reply.in_stream:
            return self._error_response(reply.status, reply.message, reply.retry_after)
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        tokens = 0
        for sent, event in enumerate(self._events(reply, body)):
            if reply.drop_after is not None and sent >= reply.drop_after:
                record.dropped_by_server = True
                if request.transport is not None:
                    request.transport.close()
                return response
            if sent and sent == reply.hold_after:
                await _first(self._closing, *([reply.release] if reply.release is not None else []))
            if sent == reply.inject_after:
                await response.write(reply.inject.encode())
            if reply.token_delay_s and self._is_token(event):
                if tokens:  # between tokens: the first token's latency is ``delay_s``
                    await asyncio.sleep(reply.token_delay_s)
                tokens += 1
            await response.write(self._sse(event))
        await response.write_eof()
        return response


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


def fragments(text: str, count: int) -> list[str]:
    """``text`` in ``count`` nearly equal pieces (at least one)."""
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces
