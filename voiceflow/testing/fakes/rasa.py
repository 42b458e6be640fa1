"""A local Rasa NLU server speaking Rasa's HTTP API (``POST /model/parse``) over a real socket.

It answers with Rasa's documented response shape from its own tiny model: the
nearest training example by word overlap (the examples of
``voiceflow/processors/nlu/data/intents.json``), softmaxed into confidences,
plus regex entities. It records every request and can be told to fail
(HTTP 500), answer slowly, or answer with malformed JSON, so the client's
fallbacks are tested against real network behaviour.

    async with FakeRasaServer() as rasa:
        tier = RasaTier(rasa.url)
        ...
        rasa.slow(2.0)        # next answers take 2 s
        rasa.fail(status=503) # next answers are HTTP 503
        rasa.malformed()      # next answers are not JSON
        rasa.recover()
"""

from __future__ import annotations

import asyncio
import math
import re
import socket
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from voiceflow.processors.nlu.intents import IntentCatalog, default_catalog

_WORD = re.compile(r"[a-z0-9']+")
_STOPWORDS = frozenset("a an the i me my you your to is it of for on and can please do".split())
_ENTITY_PATTERNS = (
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("confirmation_number", re.compile(r"\b[A-Za-z]{3}-\d{4,8}\b")),
    ("order_id", re.compile(r"\b\d{3,8}\b")),
)


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS) or frozenset(
        _WORD.findall(text.lower())
    )


class KeywordModel:
    """Nearest example by Jaccard word overlap; confidences are a softmax over intents."""

    def __init__(self, catalog: IntentCatalog, temperature: float = 0.08) -> None:
        self.temperature = temperature
        self.examples = [(spec.name, _words(ex)) for spec in catalog.intents for ex in spec.examples]
        self.names = catalog.names

    def rank(self, text: str) -> list[tuple[str, float]]:
        words = _words(text)
        best = dict.fromkeys(self.names, 0.0)
        for name, ex_words in self.examples:
            union = len(words | ex_words)
            if union:
                best[name] = max(best[name], len(words & ex_words) / union)
        exps = {n: math.exp(s / self.temperature) for n, s in best.items()}
        total = sum(exps.values())
        return sorted(((n, e / total) for n, e in exps.items()), key=lambda kv: kv[1], reverse=True)


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeRasaServer:
    """Rasa's ``/model/parse`` (and ``/status``, ``/``) on 127.0.0.1, an OS-chosen port."""

    def __init__(self, catalog: IntentCatalog | None = None, *, version: str = "3.6.20") -> None:
        self.model = KeywordModel(catalog or default_catalog())
        self.version = version
        self.requests: list[RecordedRequest] = []
        self.delay = 0.0
        self.status = 200
        self.malformed_json = False
        self.wrong_shape = False
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- behaviour switches --------------------------------------------------------
    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def fail(self, status: int = 500) -> None:
        self.status = status

    def malformed(self) -> None:
        self.malformed_json = True

    def misshapen(self) -> None:
        """Answer valid JSON that is not Rasa's parse shape."""
        self.wrong_shape = True

    def recover(self) -> None:
        self.delay, self.status, self.malformed_json, self.wrong_shape = 0.0, 200, False, False

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeRasaServer is not started")
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/model/parse", self._parse)
        app.router.add_get("/status", self._status)
        app.router.add_get("/", self._hello)
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        return self.url

    async def stop(self) -> None:
        self._closing.set()  # release slow handlers at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeRasaServer:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- handlers ------------------------------------------------------------------------
    async def _parse(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = await request.json()
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(RecordedRequest("POST", request.path, body, dict(request.headers)))
        if self.delay:
            try:
                await asyncio.wait_for(self._closing.wait(), self.delay)
            except TimeoutError:
                pass
        if self.status != 200:
            return web.json_response(
                {
                    "version": self.version,
                    "status": "failure",
                    "message": "internal error",
                    "code": self.status,
                },
                status=self.status,
            )
        if self.malformed_json:
            return web.Response(text='{"text": "oops", "intent": {', content_type="application/json")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return web.json_response(
                {
                    "version": self.version,
                    "status": "failure",
                    "reason": "BadRequest",
                    "message": "No text message defined in request_body.",
                    "code": 400,
                },
                status=400,
            )
        if self.wrong_shape:
            return web.json_response({"result": "ok"})
        return web.json_response(self.parse(body["text"]))

    def parse(self, text: str) -> dict[str, Any]:
        """The parse result for ``text`` (Rasa's response shape)."""
        ranking = self.model.rank(text)[:10]
        entities = []
        taken: list[tuple[int, int]] = []
        for name, pattern in _ENTITY_PATTERNS:
            for m in pattern.finditer(text):
                if any(s < m.end() and m.start() < e for s, e in taken):
                    continue
                taken.append((m.start(), m.end()))
                entities.append(
                    {
                        "entity": name,
                        "start": m.start(),
                        "end": m.end(),
                        "confidence_entity": 0.99,
                        "value": m.group(0),
                        "extractor": "RegexEntityExtractor",
                    }
                )
        top_name, top_conf = ranking[0]
        return {
            "text": text,
            "intent": {"name": top_name, "confidence": round(top_conf, 4)},
            "entities": entities,
            "intent_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in ranking],
            "response_selector": {"all_retrieval_intents": [], "default": {"response": {}, "ranking": []}},
        }

    async def _status(self, request: web.Request) -> web.Response:
        self.requests.append(RecordedRequest("GET", request.path, None, dict(request.headers)))
        return web.json_response(
            {"model_file": "models/fake-keyword.tar.gz", "model_id": "fake", "num_active_training_jobs": 0}
        )

    async def _hello(self, request: web.Request) -> web.Response:
        return web.Response(text=f"Hello from Rasa: {self.version}")


def classify_intent_rule(model: KeywordModel | None = None) -> Any:
    """A ``rule`` for ``FakeOpenAIServer``: answer as an LLM calling ``classify_intent``.

    The "model" is this module's keyword model, so an LLM intent tier tested through
    the OpenAI fake gets meaningful, deterministic answers over the real wire format.
    """
    from voiceflow.testing.fakes.openai_server import FakeToolCall, ToolCallsReply

    keywords = model or KeywordModel(default_catalog())

    def rule(body: dict[str, Any]) -> ToolCallsReply | None:
        tools = [t.get("function", {}).get("name") for t in body.get("tools") or []]
        if "classify_intent" not in tools:
            return None
        user = next((m.get("content") for m in reversed(body["messages"]) if m.get("role") == "user"), "")
        intent, confidence = keywords.rank(str(user or ""))[0]
        args = {"intent": intent, "confidence": round(confidence, 3)}
        return ToolCallsReply(calls=[FakeToolCall("classify_intent", args)])

    return rule
