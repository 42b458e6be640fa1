"""A local fake of OpenAI's chat-completions endpoint, over a real socket.

It speaks the documented wire protocol so adapters are tested through the real
``openai`` SDK: ``POST /v1/chat/completions`` answers with Server-Sent Events
(``data: {chat.completion.chunk}`` lines, tool-call arguments in several
fragments, then ``data: [DONE]``) or one ``chat.completion`` object when
``stream`` is false; errors use OpenAI's ``{"error": {...}}`` body and status.

Scripting: queue replies with ``script(...)`` (served in order), or set a
``rule`` that builds a reply from the request body; every request is recorded
in ``requests`` so tests assert what the adapter sent::

    async with FakeOpenAIServer() as fake:
        fake.script(ToolCallsReply([FakeToolCall("check_order_status", {"order_id": "A1"})]),
                    TextReply("Your order shipped."))
        engine = OpenAICompatEngine("fake-model", base_url=fake.base_url)
        ...
        assert fake.bodies[1]["messages"][-1]["role"] == "tool"

Replies: ``TextReply`` (streamed word by word or in given ``chunks``),
``ToolCallsReply`` (parallel calls, arguments in ``fragments`` pieces, optionally
interleaved), ``ErrorReply`` (HTTP status + OpenAI error body, or an error event
inside the stream), ``HangReply`` (never answers: client timeouts). Every reply
takes ``delay_s`` (before headers), ``chunk_delay_s``, ``drop_after`` (cut the
connection) and ``hold_after`` + ``release`` (pause mid-stream until an event).
A server with ``api_key`` answers 401 to any other bearer token.

Each ``RecordedRequest`` also says how it ended: ``finished`` once the handler is
done, ``closed_by_client`` when the client hung up before the reply was complete
(an abandoned stream, a client timeout); ``await fake.wait_finished(i)`` waits for
request ``i`` to end, so a test can assert the adapter really closed its request.

Start and stop: ``async with FakeOpenAIServer() as fake`` (or ``await fake.start()``
/ ``await fake.stop()``) in the test's event loop, on 127.0.0.1 and a free port;
``fake.base_url`` is what the SDK takes. Benchmarks that run synchronous code use
``with serve_in_thread() as fake:`` (its own loop in a daemon thread).
Like the real service, the fake rejects (400) a conversation where an assistant
``tool_calls`` message is not answered by a tool message for every call id, and
``tool_choice`` without ``tools``; turn that off with ``validate=False``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from voiceflow.testing.fakes.aiohttp_fake import serve_app

# -- scripted replies ------------------------------------------------------------------------


@dataclass(kw_only=True)
class _Timing:
    #: seconds before the response starts (status line and headers)
    delay_s: float = 0.0
    #: seconds between streamed content chunks (the leading role-only chunk goes with the first)
    chunk_delay_s: float = 0.0
    #: close the connection abruptly after this many chunks (streaming only)
    drop_after: int | None = None
    #: after this many chunks, wait until ``release`` is set (or the server stops): lets a test
    #: act mid-stream deterministically. The event belongs to the server's event loop.
    hold_after: int | None = None
    release: asyncio.Event | None = None


@dataclass
class FakeToolCall:
    """One function call of a scripted reply. A ``str`` arguments is sent verbatim (malformed JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None
    #: how many pieces the arguments text is streamed in
    fragments: int = 3


@dataclass
class TextReply(_Timing):
    """Assistant text; streamed word by word unless ``chunks`` gives the pieces."""

    text: str = ""
    chunks: list[str] | None = None
    finish_reason: str = "stop"

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words) if w or i == 0]


@dataclass
class ToolCallsReply(_Timing):
    """One or more (parallel) tool calls, optionally preceded by spoken ``content``."""

    calls: list[FakeToolCall] = field(default_factory=list)
    content: str = ""
    #: stream the calls' fragments round-robin instead of one call after the other
    interleave: bool = False


@dataclass
class ErrorReply(_Timing):
    """An HTTP error in OpenAI's shape; ``in_stream`` sends it as an SSE error event instead."""

    status: int = 500
    message: str = "The server had an error while processing your request."
    type: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    in_stream: bool = False


@dataclass
class HangReply(_Timing):
    """Never answers (until the server stops): for client timeouts."""


Reply = TextReply | ToolCallsReply | ErrorReply | HangReply
Rule = Callable[[dict[str, Any]], Reply | None]

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}


def error_body(
    status: int, message: str, type_: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    default_type, default_code = _ERROR_TYPES.get(status, ("server_error", None))
    return {
        "error": {
            "message": message,
            "type": type_ or default_type,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    #: the handler is done with this request (reply sent, or the connection gone)
    finished: bool = False
    #: the client closed the connection before the reply was complete
    closed_by_client: bool = False
    #: the fake cut the connection on purpose (``drop_after``)
    dropped_by_server: bool = False


# -- the server ------------------------------------------------------------------------------


class FakeOpenAIServer:
    """Scriptable OpenAI chat-completions server on 127.0.0.1 (random port by default)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        rule: Rule | None = None,
        validate: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        #: when set, requests without ``Authorization: Bearer <api_key>`` get 401
        self.api_key = api_key
        self.rule = rule
        self.validate = validate
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._ended: asyncio.Event | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> FakeOpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._models)
        self._closing = asyncio.Event()
        self._ended = asyncio.Event()
        self._runner, self.port = await serve_app(app, self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What to give the SDK as ``base_url`` (ends in ``/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    # -- scripting and inspection ----------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one (then ``rule``, else a 500)."""
        self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not served yet."""
        return len(self._queue)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat-completions requests received, in order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    async def wait_received(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until ``count`` requests have arrived (their replies may still be pending)."""
        assert self._ended is not None, "the server is not started"
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._ended.clear()
                await self._ended.wait()

    async def wait_finished(self, index: int = -1, timeout: float = 5.0) -> RecordedRequest:
        """Request ``index`` once its handler is done (``timeout`` only bounds a hang)."""
        assert self._ended is not None, "the server is not started"
        async with asyncio.timeout(timeout):
            while True:
                record = self.requests[index] if self.requests else None
                if record is not None and record.finished:
                    return record
                self._ended.clear()
                await self._ended.wait()

    def reset(self) -> None:
        self._queue.clear()
        self.requests.clear()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if self._queue:
            return self._queue.popleft()
        if self.rule is not None:
            reply = self.rule(body)
            if reply is not None:
                return reply
        return ErrorReply(status=500, message="fake openai server: no scripted reply left")

    # -- handlers ----------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = None
        record = RecordedRequest(request.method, request.path, dict(request.headers), body or {})
        self.requests.append(record)
        if self._ended is not None:
            self._ended.set()  # wakes ``wait_received`` (waiters re-check their own condition)
        try:
            return await self._answer(request, record, body)
        except (asyncio.CancelledError, ConnectionResetError):
            # not when the server itself cut the connection (``drop_after``) or is stopping
            stopping = self._closing is not None and self._closing.is_set()
            record.closed_by_client = not (record.dropped_by_server or stopping)
            raise
        finally:
            record.finished = True
            if self._ended is not None:
                self._ended.set()

    async def _answer(self, request: web.Request, record: RecordedRequest, body: Any) -> web.StreamResponse:
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error_response(ErrorReply(status=401, message="Incorrect API key provided."))
        problem = "request body must be a JSON object" if not isinstance(body, dict) else None
        if problem is None and self.validate:
            problem = validate_request(body or {})
        if problem is not None:
            return _error_response(ErrorReply(status=400, message=problem))
        assert isinstance(body, dict)
        reply = self._next_reply(body)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if isinstance(reply, HangReply):
            assert self._closing is not None
            await self._closing.wait()
            return web.Response(status=503)
        if isinstance(reply, ErrorReply) and not reply.in_stream:
            return _error_response(reply)
        model = str(body.get("model", "fake-model"))
        completion_id = f"chatcmpl-fake{next(self._ids)}"
        if not body.get("stream"):
            return web.json_response(_completion(reply, completion_id, model, body))
        return await self._stream(request, record, reply, completion_id, model, body)

    async def _hold(self, release: asyncio.Event | None) -> None:
        assert self._closing is not None
        await _first(self._closing, *([release] if release is not None else []))

    async def _stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        reply: Reply,
        completion_id: str,
        model: str,
        body: dict[str, Any],
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        created = int(time.time())
        sent = 0
        for event in _stream_events(reply, completion_id, model, created, body):
            if reply.drop_after is not None and sent >= reply.drop_after:
                record.dropped_by_server = True
                if request.transport is not None:
                    request.transport.close()
                return response
            if sent and sent == reply.hold_after:
                await self._hold(reply.release)
            if sent > 1 and reply.chunk_delay_s:  # between content chunks: the role chunk leads at once
                await asyncio.sleep(reply.chunk_delay_s)
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
            sent += 1
        await response.write(b"data: [DONE]\n\n")
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


def _error_response(reply: ErrorReply) -> web.Response:
    return web.json_response(
        error_body(reply.status, reply.message, reply.type, reply.code),
        status=reply.status,
        headers=reply.headers,
    )


# -- wire shapes -----------------------------------------------------------------------------


def validate_request(body: dict[str, Any]) -> str | None:
    """The checks the real endpoint makes that matter to adapters; a message, or None if valid."""
    if not isinstance(body.get("model"), str):
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    if "tool_choice" in body and not body.get("tools"):
        return "'tool_choice' is only allowed when 'tools' are specified."
    open_calls: list[str] = []
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"messages[{i}]: invalid role {role!r}"
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in open_calls:
                return (
                    f"messages[{i}]: messages with role 'tool' must be a response to a preceeding "
                    "message with 'tool_calls'."
                )
            open_calls.remove(call_id)
            continue
        if open_calls:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages responding "
                f"to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                f"{', '.join(open_calls)}"
            )
        if role == "assistant":
            open_calls = [c.get("id") for c in msg.get("tool_calls") or []]
    if open_calls:
        return f"tool_call_ids without response messages: {', '.join(open_calls)}"
    return None


def _fragments(text: str, count: int) -> list[str]:
    """``text`` split into ``count`` nearly equal non-empty pieces (at least one piece)."""
    count = max(1, min(count, len(text)))
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _arguments_text(call: FakeToolCall) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)


def _call_ids(reply: ToolCallsReply, completion_id: str) -> list[str]:
    return [c.id or f"call_{completion_id[-6:]}_{i}" for i, c in enumerate(reply.calls)]


def _tool_call_deltas(reply: ToolCallsReply, completion_id: str) -> list[dict[str, Any]]:
    """Per-call delta lists (first carries id/type/name), flattened in order or round-robin."""
    per_call: list[list[dict[str, Any]]] = []
    for index, (call, call_id) in enumerate(zip(reply.calls, _call_ids(reply, completion_id), strict=True)):
        pieces = _fragments(_arguments_text(call), call.fragments) or [""]
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        rest = [{"index": index, "function": {"arguments": p}} for p in pieces]
        per_call.append([first, *rest])
    if not reply.interleave:
        return [d for deltas in per_call for d in deltas]
    flat: list[dict[str, Any]] = []
    for round_ in itertools.zip_longest(*per_call):
        flat.extend(d for d in round_ if d is not None)
    return flat


def _usage(body: dict[str, Any], completion_text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "").split()) + 4 for m in body.get("messages", []))
    completion = max(1, len(completion_text.split()))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _stream_events(
    reply: Reply, completion_id: str, model: str, created: int, body: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of one streamed reply (``[DONE]`` excluded)."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    spoken = ""
    if isinstance(reply, ErrorReply):
        yield error_body(reply.status, reply.message, reply.type, reply.code)
        return
    if isinstance(reply, TextReply):
        for piece in reply.pieces():
            spoken += piece
            yield chunk({"content": piece})
        finish = reply.finish_reason
    elif isinstance(reply, ToolCallsReply):
        if reply.content:
            for piece in TextReply(text=reply.content).pieces():
                spoken += piece
                yield chunk({"content": piece})
        for delta in _tool_call_deltas(reply, completion_id):
            yield chunk({"tool_calls": [delta]})
        finish = "tool_calls"
    else:  # HangReply never gets here
        return
    yield chunk({}, finish)
    options = body.get("stream_options") or {}
    if options.get("include_usage"):
        usage_chunk = chunk({})
        usage_chunk["choices"] = []
        usage_chunk["usage"] = _usage(body, spoken)
        yield usage_chunk


def _completion(reply: Reply, completion_id: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    finish = "stop"
    if isinstance(reply, TextReply):
        message["content"] = "".join(reply.pieces())
        finish = reply.finish_reason
    elif isinstance(reply, ToolCallsReply):
        message["content"] = reply.content or None
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": c.name, "arguments": _arguments_text(c)}}
            for c, call_id in zip(reply.calls, _call_ids(reply, completion_id), strict=True)
        ]
        finish = "tool_calls"
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(body, message["content"] or ""),
    }


# -- a server on its own thread (for synchronous benchmark code) ----------------------------------


@contextmanager
def serve_in_thread(**kwargs: Any) -> Iterator[FakeOpenAIServer]:
    """Run a ``FakeOpenAIServer`` on a private event loop in a daemon thread.

    ``script`` and ``requests`` are safe to use from the caller's thread (deque and
    list appends are atomic).
    """
    loop = asyncio.new_event_loop()
    server = FakeOpenAIServer(**kwargs)
    started = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=main, name="fake-openai", daemon=True)
    thread.start()
    if not started.wait(10.0):
        raise RuntimeError("fake openai server did not start")
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10.0)
