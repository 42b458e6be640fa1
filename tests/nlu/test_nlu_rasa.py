"""Tier 2: Rasa over HTTP against the local fake (real socket), and every way it can fail."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.nlu.nlu_helpers import accuracy
from voiceflow.graphs import VirtualClock
from voiceflow.processors.nlu.intents import default_catalog
from voiceflow.processors.nlu.rasa_tier import RasaResponseError, RasaTier, parse_rasa_response
from voiceflow.processors.nlu.result import TierUnavailable
from voiceflow.services.breaker import BreakerState
from voiceflow.testing.fakes.rasa import FakeRasaServer


async def test_parse_through_the_fake_server(rasa_server: FakeRasaServer) -> None:
    tier = RasaTier(rasa_server.url, known_intents=default_catalog().names)
    try:
        answer = await tier.classify("I want to cancel my appointment APT-123456")
    finally:
        await tier.aclose()
    assert answer is not None
    assert answer.intent == "cancel_appointment"
    assert answer.confidence >= tier.threshold
    assert answer.entities["confirmation_number"] == "APT-123456"
    assert answer.ranking[0][0] == "cancel_appointment"
    # the request on the wire is Rasa's: POST /model/parse {"text": ...}
    assert [(r.method, r.path, r.body) for r in rasa_server.requests] == [
        ("POST", "/model/parse", {"text": "I want to cancel my appointment APT-123456"})
    ]


async def test_fake_answers_rasas_documented_shape(rasa_server: FakeRasaServer) -> None:
    async with httpx.AsyncClient(base_url=rasa_server.url) as client:
        data = (await client.post("/model/parse", json={"text": "where is order 1002"})).json()
        bad = await client.post("/model/parse", json={"message": "no text"})
    assert set(data) >= {"text", "intent", "entities", "intent_ranking"}
    assert set(data["intent"]) == {"name", "confidence"}
    entity = data["entities"][0]
    assert set(entity) >= {"entity", "value", "start", "end", "confidence_entity", "extractor"}
    assert data["text"][entity["start"] : entity["end"]] == "1002"
    assert bad.status_code == 400


async def test_not_configured_is_skipped() -> None:
    tier = RasaTier(None)
    with pytest.raises(TierUnavailable, match="no Rasa URL configured"):
        await tier.classify("hello")
    await tier.aclose()


async def test_server_down_is_skipped_with_a_clear_log(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeRasaServer()
    url = await server.start()
    await server.stop()  # nothing listens on that port any more
    tier = RasaTier(url, failure_threshold=5)
    caplog.set_level(logging.WARNING, logger="voiceflow.nlu.rasa")
    try:
        with pytest.raises(TierUnavailable, match="ConnectError"):
            await tier.classify("hello")
    finally:
        await tier.aclose()
    assert any(
        "Rasa tier at" in r.getMessage() and "falling through" in r.getMessage() for r in caplog.records
    )


async def test_slow_server_times_out(rasa_server: FakeRasaServer) -> None:
    rasa_server.slow(30.0)  # released at once when the server stops
    tier = RasaTier(rasa_server.url, timeout=0.2)
    try:
        with pytest.raises(TierUnavailable, match=r"no answer within 0.2s"):
            await tier.classify("hello")
    finally:
        await tier.aclose()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [("fail", "HTTP 500"), ("malformed", "malformed response"), ("misshapen", "no 'intent' object")],
)
async def test_bad_answers_are_skipped(rasa_server: FakeRasaServer, breakage: str, message: str) -> None:
    getattr(rasa_server, breakage)()
    tier = RasaTier(rasa_server.url)
    try:
        with pytest.raises(TierUnavailable, match=message):
            await tier.classify("hello")
        rasa_server.recover()
        answer = await tier.classify("hello")  # one failure does not open the circuit
        assert answer is not None and answer.intent == "greeting"
    finally:
        await tier.aclose()


async def test_circuit_breaker_cools_down_on_the_injected_clock(rasa_server: FakeRasaServer) -> None:
    clock = VirtualClock()
    tier = RasaTier(rasa_server.url, failure_threshold=2, cooldown=30.0, clock=clock)
    rasa_server.fail(503)
    try:
        for _ in range(2):
            with pytest.raises(TierUnavailable, match="HTTP 503"):
                await tier.classify("hello")
        assert tier.breaker.state is BreakerState.OPEN
        sent = len(rasa_server.requests)
        with pytest.raises(TierUnavailable, match="skipped for 30s more"):
            await tier.classify("hello")
        assert len(rasa_server.requests) == sent  # an open circuit does not call the server

        await clock.advance(29.0)
        with pytest.raises(TierUnavailable, match="skipped for 1s more"):
            await tier.classify("hello")
        await clock.advance(1.0)
        assert tier.breaker.state is BreakerState.HALF_OPEN
        with pytest.raises(TierUnavailable, match="HTTP 503"):  # the trial call fails: open again
            await tier.classify("hello")
        assert tier.breaker.state is BreakerState.OPEN

        rasa_server.recover()
        await clock.advance(30.0)
        answer = await tier.classify("hello")  # the trial call succeeds: closed
        assert answer is not None
        assert tier.breaker.state is BreakerState.CLOSED
    finally:
        await tier.aclose()


def test_response_parsing_maps_and_filters_intents() -> None:
    data = {
        "text": "hey",
        "intent": {"name": "greet", "confidence": 0.91},
        "entities": [{"entity": "email", "value": "a@b.co", "start": 0, "end": 6}],
        "intent_ranking": [{"name": "greet", "confidence": 0.91}, {"name": "mood_great", "confidence": 0.05}],
    }
    answer = parse_rasa_response(data, {"greeting"}, {"greet": "greeting"})
    assert answer is not None
    assert (answer.intent, answer.confidence, answer.entities) == ("greeting", 0.91, {"email": "a@b.co"})
    assert answer.ranking == (("greeting", 0.91),)
    assert parse_rasa_response(data, {"goodbye"}) is None  # an intent we do not know is no opinion
    with pytest.raises(RasaResponseError):
        parse_rasa_response({"intent": {"name": "x", "confidence": "high"}})
    with pytest.raises(RasaResponseError):
        parse_rasa_response(["not", "a", "dict"])


async def test_accuracy_through_the_fake(rasa_server: FakeRasaServer) -> None:
    """The fake's keyword model over the wire: measured 79% on the unseen set."""
    tier = RasaTier(rasa_server.url, known_intents=default_catalog().names)

    async def predict(text: str) -> str | None:
        answer = await tier.classify(text)
        return answer.intent if answer else None

    try:
        acc, misses = await accuracy(predict)
    finally:
        await tier.aclose()
    assert acc >= 0.7, misses
    assert len(rasa_server.requests) == 216
