"""Tier 2: a Rasa server over HTTP (``POST {url}/model/parse``).

Optional by design: with no URL configured, or the server down, slow or
answering garbage, the tier raises ``TierUnavailable`` with a clear reason and
the cascade goes on. A short timeout bounds the wait and a circuit breaker stops
calling a dead server until its cool-down ends.

Rasa's documented parse response::

    {"text": "...", "intent": {"name": "greet", "confidence": 0.98},
     "entities": [{"entity": "order_id", "value": "1002", "start": 6, "end": 10,
                   "confidence_entity": 0.9, "extractor": "DIETClassifier"}],
     "intent_ranking": [{"name": "greet", "confidence": 0.98}, ...]}
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any, NoReturn

import httpx

from voiceflow.processors.nlu.result import TierAnswer, TierUnavailable
from voiceflow.services.breaker import CircuitBreaker, TimeSource

log = logging.getLogger("voiceflow.nlu.rasa")


class RasaResponseError(ValueError):
    """The server answered, but not with Rasa's parse shape."""


def parse_rasa_response(
    data: Any, known: Collection[str] | None = None, intent_map: Mapping[str, str] | None = None
) -> TierAnswer | None:
    """Read Rasa's parse JSON; ``None`` when Rasa had no (known) intent for the text."""
    if not isinstance(data, dict) or not isinstance(data.get("intent"), dict):
        raise RasaResponseError("response has no 'intent' object")
    mapping = intent_map or {}

    def our_name(name: Any) -> str | None:
        if not isinstance(name, str) or not name:
            return None
        mapped = mapping.get(name, name)
        return mapped if known is None or mapped in known else None

    intent = data["intent"]
    try:
        confidence = float(intent.get("confidence", 0.0))
    except (TypeError, ValueError) as exc:
        raise RasaResponseError(f"intent confidence is not a number: {intent.get('confidence')!r}") from exc
    name = our_name(intent.get("name"))
    if name is None:
        return None
    entities: dict[str, Any] = {}
    for ent in data.get("entities") or []:
        if isinstance(ent, dict) and isinstance(ent.get("entity"), str) and "value" in ent:
            entities.setdefault(ent["entity"], ent["value"])
    ranking: list[tuple[str, float]] = []
    for item in data.get("intent_ranking") or []:
        if isinstance(item, dict) and (ranked := our_name(item.get("name"))) is not None:
            try:
                ranking.append((ranked, float(item.get("confidence", 0.0))))
            except (TypeError, ValueError):
                continue
    return TierAnswer(intent=name, confidence=confidence, entities=entities, ranking=tuple(ranking))


class RasaTier:
    name = "rasa"

    def __init__(
        self,
        url: str | None,
        *,
        threshold: float = 0.7,
        timeout: float = 0.25,
        known_intents: Collection[str] | None = None,
        intent_map: Mapping[str, str] | None = None,
        failure_threshold: int = 2,
        cooldown: float = 30.0,
        clock: TimeSource | None = None,
        breaker_name: str = "nlu:rasa",
    ) -> None:
        self.url = url.rstrip("/") if url else None
        self.threshold = threshold
        self.timeout = timeout
        self.known_intents = known_intents
        self.intent_map = intent_map
        self.breaker = CircuitBreaker(
            failure_threshold=failure_threshold, cooldown=cooldown, clock=clock, name=breaker_name
        )
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        if self.url and self._client is None:
            self._client = httpx.AsyncClient(base_url=self.url, timeout=self.timeout)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def classify(self, text: str) -> TierAnswer | None:
        if not self.url:
            raise TierUnavailable("no Rasa URL configured")
        if not self.breaker.allow():
            raise TierUnavailable(
                f"Rasa at {self.url} skipped for {self.breaker.retry_in():.0f}s more "
                f"after failures (last: {self.breaker.last_error})"
            )
        try:
            return await self._trial(text)
        finally:
            self.breaker.release()  # a no-op unless the call was cancelled before a verdict

    async def _trial(self, text: str) -> TierAnswer | None:
        await self.start()
        assert self._client is not None
        try:
            response = await self._client.post("/model/parse", json={"text": text})
            response.raise_for_status()
            answer = parse_rasa_response(response.json(), self.known_intents, self.intent_map)
        except httpx.TimeoutException:
            self._failed(f"no answer within {self.timeout}s")
        except httpx.HTTPStatusError as exc:
            self._failed(f"HTTP {exc.response.status_code}")
        except httpx.HTTPError as exc:
            self._failed(f"{type(exc).__name__}: {exc or 'connection failed'}")
        except ValueError as exc:  # json.JSONDecodeError and RasaResponseError
            self._failed(f"malformed response: {exc}")
        self.breaker.record_success()
        return answer

    def _failed(self, reason: str) -> NoReturn:
        opened = self.breaker.record_failure(reason)
        if opened:
            log.warning(
                "Rasa tier at %s failed (%s); skipping it for %.0fs", self.url, reason, self.breaker.cooldown
            )
        else:
            log.warning("Rasa tier at %s failed (%s); falling through to the next tier", self.url, reason)
        raise TierUnavailable(f"Rasa at {self.url} failed: {reason}")
