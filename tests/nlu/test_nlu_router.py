"""The IntentRouter processor in a running graph, and its plain ``classify`` API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nlu.nlu_helpers import TODAY, model_root
from voiceflow.frames import Intent, Transcript
from voiceflow.graphs import Collector, Graph, GraphRun, VirtualClock
from voiceflow.processors.nlu.rasa_tier import RasaTier
from voiceflow.processors.nlu.regex_tier import RegexTier
from voiceflow.processors.nlu.router import IntentRouter, NLUConfig, default_tiers
from voiceflow.processors.nlu.setfit_tier import SetFitTier
from voiceflow.testing.fakes.rasa import FakeRasaServer


def _router(model_dir: Path, **kwargs: object) -> IntentRouter:
    config = NLUConfig(model_root=model_root())
    return IntentRouter(
        tiers=[RegexTier(), RasaTier(None), SetFitTier(model_dir=model_dir)],
        config=config,
        today=lambda: TODAY,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_final_transcripts_become_intents_after_the_transcript(
    trained_model: tuple[Path, bool],
) -> None:
    clock = VirtualClock()
    sink = Collector(name="sink")
    router = _router(trained_model[0])
    graph = Graph("nlu", inputs=[Transcript]).chain(router, sink)
    async with GraphRun(graph, clock=clock) as run:
        await run.push(run.make(Transcript, text="I want to book", final=False))
        await run.push(
            run.make(Transcript, text="I want to book an appointment tomorrow at 3 pm", final=True)
        )
        await run.push(run.make(Transcript, text="   ", final=True))
        await run.push(
            run.make(Transcript, text="this is ridiculous, the courier never came with my box", final=True)
        )
    texts = [
        (type(f).__name__, getattr(f, "text", None))
        for f in sink.frames
        if isinstance(f, Transcript | Intent)
    ]
    assert texts == [
        ("Transcript", "I want to book"),
        ("Transcript", "I want to book an appointment tomorrow at 3 pm"),
        ("Intent", "I want to book an appointment tomorrow at 3 pm"),
        ("Transcript", "   "),
        ("Transcript", "this is ridiculous, the courier never came with my box"),
        ("Intent", "this is ridiculous, the courier never came with my box"),
    ]
    booking, complaint = sink.of(Intent)
    assert isinstance(booking, Intent) and isinstance(complaint, Intent)
    assert (booking.intent, booking.tier) == ("schedule_appointment", "regex")
    assert booking.entities == {"date": "2025-12-04", "time": "15:00"}
    assert booking.emotion == "neutral" and booking.latency_ms > 0
    assert (complaint.intent, complaint.tier, complaint.emotion) == ("track_delivery", "setfit", "angry")
    assert not run.errors


async def test_classify_without_a_graph(trained_model: tuple[Path, bool]) -> None:
    router = _router(trained_model[0])
    try:
        result = await router.classify("yes please")
        assert (result.intent, result.tier, result.confident) == ("affirm", "regex", True)
        fields = result.frame_fields()
        assert set(fields) == {
            "intent",
            "confidence",
            "text",
            "entities",
            "emotion",
            "tier",
            "latency_ms",
            "confident",
        }
    finally:
        await router.aclose()


async def test_an_intent_keeps_the_generation_of_the_transcript_it_was_made_from(
    trained_model: tuple[Path, bool],
) -> None:
    """So a turn continued while it was being classified is known stale downstream."""
    sink = Collector(name="sink")
    graph = Graph("nlu", inputs=[Transcript]).chain(_router(trained_model[0]), sink)
    async with GraphRun(graph, clock=VirtualClock()) as run:
        heard = run.make(Transcript, text="I want to book an appointment tomorrow at 3 pm", final=True)
        await sink.interrupt()  # the turn goes on before its transcript is classified
        await run.push(heard)
    (intent,) = sink.of(Intent)
    assert intent.generation == heard.generation < run.generation.value


async def test_default_tiers_from_config(
    trained_model: tuple[Path, bool], rasa_server: FakeRasaServer
) -> None:
    tiers = default_tiers(NLUConfig(rasa_url=rasa_server.url, model_root=model_root()))
    assert [t.name for t in tiers] == ["regex", "rasa", "setfit", "llm"]
    router = IntentRouter(tiers=tiers)
    try:
        result = await router.classify("hmm any update on delivery of 1002")
    finally:
        await router.aclose()
    assert result.tier in {"rasa", "setfit"}
    assert result.intent == "track_delivery"
    assert rasa_server.requests  # tier 2 was asked over the socket
    assert result.attempts[-1].tier != "llm" or result.attempts[-1].skipped == "no LLM configured"


def test_config_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOICEFLOW_RASA_URL", "http://127.0.0.1:5005")
    monkeypatch.setenv("VOICEFLOW_NLU_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("VOICEFLOW_BUSINESS_TZ", "Europe/Paris")
    config = NLUConfig.from_env()
    assert (config.rasa_url, config.model_root, config.timezone) == (
        "http://127.0.0.1:5005",
        tmp_path,
        "Europe/Paris",
    )
