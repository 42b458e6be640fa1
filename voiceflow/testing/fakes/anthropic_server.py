"""A local fake of Anthropic's Messages API, over a real socket, for the real ``anthropic`` SDK.

``POST /v1/messages`` with ``stream: true`` answers with the documented server-sent
events: ``message_start``, ``content_block_start`` / ``content_block_delta`` (``text_delta``,
``input_json_delta`` in pieces) / ``content_block_stop`` per block, ``ping``, ``message_delta``
(``stop_reason``, usage) and ``message_stop``. Errors use Anthropic's body
``{"type": "error", "error": {"type", "message"}}``: ``authentication_error`` 401 (any
key but the fake's, in ``x-api-key`` or as a bearer token), ``invalid_request_error`` 400,
``rate_limit_error`` 429 with ``retry-after``, ``api_error`` 500, ``overloaded_error`` 529;
``Fail(in_stream=True)`` sends
an ``error`` event inside a started stream.

Like the real API it rejects (400) a request without ``model`` / ``max_tokens``, a ``system``
role inside ``messages``, a conversation not starting with the user, ``tool_result`` blocks
that do not answer the previous turn's ``tool_use`` blocks (or ``tool_use`` left unanswered),
and ``tool_choice`` without ``tools``. Scripting, faults and recording: ``llm_server``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from voiceflow.testing.fakes.llm_model import Conversation, OfferedTool
from voiceflow.testing.fakes.llm_server import CallTool, Fail, FakeLLMServer, Say, WireEvent, fragments

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}}


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def validate(body: dict[str, Any]) -> str | None:
    """The checks the real endpoint makes that matter to an adapter: a message, or None."""
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    if "tool_choice" in body and not body.get("tools"):
        return "tool_choice may only be specified while providing tools"
    open_calls: set[str] = set()
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in ("user", "assistant"):
            return f'messages.{i}.role: Input should be "user" or "assistant"'
        if i == 0 and role != "user":
            return "messages: the first message must use the user role"
        blocks = _blocks(msg)
        answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        if answered - open_calls:
            return (
                f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{', '.join(sorted(str(a) for a in answered - open_calls))}. Each `tool_result` block must "
                "have a corresponding `tool_use` block in the previous message."
            )
        if open_calls - answered:
            return (
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(sorted(open_calls - answered))}"
            )
        open_calls = (
            {str(b.get("id")) for b in blocks if b.get("type") == "tool_use"}
            if role == "assistant"
            else set()
        )
    return None


class FakeAnthropicServer(FakeLLMServer):
    """``async with FakeAnthropicServer(api_key="k") as fake``; give the SDK ``fake.base_url``."""

    provider = "anthropic"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ids = itertools.count(1)

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._handle)

    def _authorized(self, request: web.Request) -> bool:
        """The documented ``x-api-key``, or ``Authorization: Bearer`` (what SDK 2.x sends)."""
        bearer = request.headers.get("Authorization", "")
        return request.headers.get("x-api-key") == self.api_key or bearer == f"Bearer {self.api_key}"

    def _auth_error(self) -> web.Response:
        return self._error_response(401, "invalid x-api-key", None)

    def _problem(self, request: web.Request, body: dict[str, Any]) -> str | None:
        if "anthropic-version" not in request.headers:
            return "anthropic-version: header is required"
        return validate(body)

    def _error_response(self, status: int, message: str, retry_after: float | None) -> web.Response:
        headers = {"request-id": f"req_fake{next(self._ids)}"}
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        return web.json_response(error_body(status, message), status=status, headers=headers)

    def _conversation(self, body: dict[str, Any]) -> Conversation:
        tools = [
            OfferedTool(t["name"], t.get("description", ""), t.get("input_schema") or {})
            for t in body.get("tools") or []
        ]
        messages = body.get("messages") or []
        last = _blocks(messages[-1]) if messages else []
        results = [_result_text(b) for b in last if b.get("type") == "tool_result"]
        texts = [b.get("text", "") for m in messages if m.get("role") == "user" for b in _blocks(m)]
        said = [t for t in texts if t]
        forbidden = (body.get("tool_choice") or {}).get("type") == "none"
        return Conversation(tools, said[-1] if said else "", results, forbidden)

    def _is_token(self, event: WireEvent) -> bool:
        return event[0] == "content_block_delta"

    def _events(self, reply: Say | CallTool | Fail, body: dict[str, Any]) -> Iterator[WireEvent]:
        model = str(body.get("model"))
        message_id = f"msg_fake{next(self._ids):04d}"
        yield (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": _tokens(body), "output_tokens": 1},
                },
            },
        )
        if isinstance(reply, Fail):
            yield "error", error_body(reply.status, reply.message)
            return
        yield "ping", {"type": "ping"}
        out = 0
        if isinstance(reply, Say):
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            for piece in reply.pieces():
                out += 1
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
            stop = "end_turn"
        else:
            yield "content_block_start", {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": f"toolu_fake{next(self._ids):04d}",
                                  "name": reply.name, "input": {}},
            }  # fmt: skip
            for piece in fragments(json.dumps(reply.arguments), reply.fragments):
                out += 1
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
            stop = "tool_use"
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": out},
            },
        )
        yield "message_stop", {"type": "message_stop"}


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return str(content or "")


def _tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps(body.get("messages", []))) // 4)
