"""The offline agent's metrics after a real spoken call: providers, stages, intent tiers, tools.

Piper speech over the real Twilio Media Streams path into the offline agent (Silero
VAD, the configured recognizer, the intent router, the SQLite tools, Piper), then
``GET /metrics`` parsed with prometheus-client's parser.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pipelines.offline import OfflinePipeline
from tests.transports.transport_helpers import wait_until
from voiceflow.commands.serve import serve_in_background
from voiceflow.config import Config
from voiceflow.server.app import create_app
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.speech import synthesize
from voiceflow.sim.twilio_client import TwilioMediaClient

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of ``name`` over every sample whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


async def test_offline_agent_call_feeds_every_stage_and_provider(tmp_path: Path) -> None:
    config = Config.from_env({"VOICEFLOW_DATA_DIR": str(tmp_path)})
    app = create_app(OfflinePipeline(config), config.server, security=config.security, data_dir=tmp_path)
    async with serve_in_background(app, startup_timeout_s=600) as server, httpx.AsyncClient() as http:
        before = parse((await http.get(f"{server.http_url}/metrics")).text)
        url = server.ws_url("/twilio/media")
        async with TwilioMediaClient(url, caller="+15550100009") as call, PhoneLine(call) as line:
            await call.wait_for_reply(timeout=60)  # the greeting
            spoken = await line.say(synthesize("What time do you close on Saturday?", 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=60)
        await wait_until(lambda: app.state.voiceflow.calls.finished == 1, timeout=30)
        after = parse((await http.get(f"{server.http_url}/metrics")).text)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    for stage in ("vad_stop", "stt_final", "endpoint", "intent", "tts_first_audio", "first_frame_sent"):
        assert delta("voiceflow_stage_seconds_count", stage=stage) >= 1, stage
    assert delta("voiceflow_intent_seconds_count") >= 1
    assert delta("voiceflow_v2v_seconds_count") >= 1
    assert delta("voiceflow_provider_requests_total", kind="stt") >= 1
    assert delta("voiceflow_provider_requests_total", kind="tts") >= 1
    assert delta("voiceflow_provider_latency_seconds_count", kind="tts") >= 1
    assert delta("voiceflow_tool_calls_total", tool="get_business_hours", outcome="done") == 1
    assert delta("voiceflow_calls_active") == 0  # a delta: the registry is shared with earlier tests
    assert delta("voiceflow_calls_total", transport="twilio") == 1
