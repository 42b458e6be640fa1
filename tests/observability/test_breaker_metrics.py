"""Circuit-breaker state in /metrics: a Rasa tier pointed at a closed port opens its breaker."""

from __future__ import annotations

import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from voiceflow.core.clock import VirtualClock
from voiceflow.observability.metrics import render
from voiceflow.processors.nlu import RasaTier
from voiceflow.processors.nlu.result import TierUnavailable


def breaker_states() -> dict[str, float]:
    return {
        s.labels["breaker"]: s.value
        for family in text_string_to_metric_families(render().decode())
        if family.name == "voiceflow_breaker_state"
        for s in family.samples
    }


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_breaker_state_follows_a_dead_rasa_server() -> None:
    clock = VirtualClock()
    url = f"http://127.0.0.1:{closed_port()}"
    tier = RasaTier(url, failure_threshold=1, cooldown=30.0, clock=clock, breaker_name="rasa-metrics-test")
    try:
        assert breaker_states()["rasa-metrics-test"] == 0  # closed
        with pytest.raises(TierUnavailable):
            await tier.classify("where is my order")
        assert breaker_states()["rasa-metrics-test"] == 2  # open
        await clock.advance(30.0)
        assert breaker_states()["rasa-metrics-test"] == 1  # half-open: the next call is the trial
    finally:
        await tier.aclose()
