"""A local fake of the Gemini API's streaming ``generateContent``, over a real socket, for the
real ``google-genai`` SDK.

``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` answers with server-sent
``data:`` lines, each a ``GenerateContentResponse`` (``candidates[0].content.parts`` with
``text`` or a whole ``functionCall``; ``finishReason`` and ``usageMetadata`` on the last).
The key travels in ``x-goog-api-key``; a wrong one gets 400 ``INVALID_ARGUMENT`` with
reason ``API_KEY_INVALID``, as the real service answers. Errors use Google's body
``{"error": {"code", "message", "status"}}``: 429 ``RESOURCE_EXHAUSTED`` (with ``retry-after``
when scripted), 500 ``INTERNAL``, 503 ``UNAVAILABLE``…; ``Fail(in_stream=True)`` sends the
error object as a ``data:`` line of a started stream.

Like the real API it rejects (400 ``INVALID_ARGUMENT``) contents whose roles do not
alternate between ``user`` and ``model``, that do not start with the user or end with a
user turn, a function response turn that does not follow a function call turn (or
answers a different number of calls), and ``toolConfig`` without ``tools``: so an
adapter's role merging is tested for real. Scripting, faults and recording: ``llm_server``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from voiceflow.testing.fakes.llm_model import Conversation, OfferedTool
from voiceflow.testing.fakes.llm_server import CallTool, Fail, FakeLLMServer, Say, WireEvent

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
ALTERNATE = "Please ensure that multiturn requests alternate between user and model."


def error_body(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}
    if reason is not None:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return {"error": error}


def _parts(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in content.get("parts") or [] if isinstance(p, dict)]


def validate(body: dict[str, Any]) -> str | None:
    """The checks the real endpoint makes that matter to an adapter: a message, or None."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    if body.get("toolConfig") and not body.get("tools"):
        return "* GenerateContentRequest.tool_config: tool_config requires tools"
    calls_open = 0
    previous = None
    for i, content in enumerate(contents):
        role = content.get("role") if isinstance(content, dict) else None
        if role not in ("user", "model"):
            return f"* GenerateContentRequest.contents[{i}].role: role must be 'user' or 'model'"
        if role == previous:
            return ALTERNATE
        if i == 0 and role != "user":
            return "Please ensure that multiturn requests start with a user turn."
        parts = _parts(content)
        if not parts:
            return f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
        responses = sum("functionResponse" in p for p in parts)
        if responses and not calls_open:
            return "Please ensure that function response turn comes immediately after a function call turn."
        if calls_open and responses != calls_open:
            return (
                "Please ensure that the number of function response parts is equal to the number of "
                "function call parts of the function call turn."
            )
        calls_open = sum("functionCall" in p for p in parts) if role == "model" else 0
        previous = role
    if previous != "user":
        return "Please ensure that multiturn requests ends with a user role or a function response."
    return None


def declared_parameters(declaration: dict[str, Any]) -> dict[str, Any]:
    """A function declaration's JSON Schema; proto JSON takes camelCase or snake_case field names
    (google-genai sends ``parameters_json_schema``)."""
    for key in ("parametersJsonSchema", "parameters_json_schema", "parameters"):
        if isinstance(declaration.get(key), dict):
            return dict(declaration[key])
    return {}


class FakeGeminiServer(FakeLLMServer):
    """``async with FakeGeminiServer(api_key="k") as fake``; give the SDK ``fake.base_url``."""

    provider = "gemini"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ids = itertools.count(1)

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/models/{target}", self._route)

    async def _route(self, request: web.Request) -> web.StreamResponse:
        _model, _, method = request.match_info["target"].partition(":")
        if method != "streamGenerateContent" or request.query.get("alt") != "sse":
            return web.json_response(
                error_body(404, f"fake gemini serves streamGenerateContent?alt=sse only, not {method!r}"),
                status=404,
            )
        return await self._handle(request)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("x-goog-api-key") == self.api_key

    def _auth_error(self) -> web.Response:
        body = error_body(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")
        return web.json_response(body, status=400)

    def _problem(self, request: web.Request, body: dict[str, Any]) -> str | None:
        return validate(body)

    def _error_response(self, status: int, message: str, retry_after: float | None) -> web.Response:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        return web.json_response(error_body(status, message), status=status, headers=headers)

    def _conversation(self, body: dict[str, Any]) -> Conversation:
        tools = [
            OfferedTool(
                d["name"],
                d.get("description", ""),
                declared_parameters(d),
            )
            for t in body.get("tools") or []
            for d in t.get("functionDeclarations") or []
        ]
        contents = body.get("contents") or []
        last = _parts(contents[-1]) if contents else []
        results = [
            json.dumps(p["functionResponse"].get("response", {})) for p in last if "functionResponse" in p
        ]
        said = [p["text"] for c in contents if c.get("role") == "user" for p in _parts(c) if p.get("text")]
        mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
        return Conversation(tools, said[-1] if said else "", results, mode == "NONE")

    def _events(self, reply: Say | CallTool | Fail, body: dict[str, Any]) -> Iterator[WireEvent]:
        response_id = f"fake{next(self._ids):04d}"
        model = "fake-gemini"

        def chunk(parts: list[dict[str, Any]], finish: bool = False) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
            out: dict[str, Any] = {
                "candidates": [candidate],
                "modelVersion": model,
                "responseId": response_id,
            }
            if finish:
                candidate["finishReason"] = "STOP"
                prompt = max(1, len(json.dumps(body.get("contents", []))) // 4)
                out["usageMetadata"] = {
                    "promptTokenCount": prompt,
                    "candidatesTokenCount": len(parts),
                    "totalTokenCount": prompt + len(parts),
                }
            return out

        if isinstance(reply, Fail):
            yield None, chunk([{"text": ""}])
            yield None, error_body(reply.status, reply.message)
            return
        if isinstance(reply, CallTool):
            yield None, chunk([{"functionCall": {"name": reply.name, "args": reply.arguments}}], finish=True)
            return
        pieces = reply.pieces()
        for i, piece in enumerate(pieces):
            yield None, chunk([{"text": piece}], finish=i == len(pieces) - 1)

    def _sse(self, event: WireEvent) -> bytes:
        return f"data: {json.dumps(event[1])}\r\n\r\n".encode()
