"""``GET /metrics`` after real calls over Twilio Media Streams, parsed with prometheus-client's parser."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.transports.transport_helpers import EchoFactory, tone, wait_until
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import SecuritySettings
from voiceflow.server.app import ServerState, create_app
from voiceflow.sim.twilio_client import TwilioMediaClient

ROUTES = (
    "voiceflow.server.health",
    "voiceflow.server.twilio_routes",
    "voiceflow.server.metrics_routes",
    "voiceflow.server.admin_routes",
    "voiceflow.server.guard",
)
BRIEF_NAMES = {
    "voiceflow_calls_active",
    "voiceflow_calls",
    "voiceflow_stage_seconds",
    "voiceflow_intent_seconds",
    "voiceflow_v2v_seconds",
    "voiceflow_bargeins",
    "voiceflow_provider_requests",
    "voiceflow_provider_errors",
    "voiceflow_provider_latency_seconds",
    "voiceflow_breaker_state",
    "voiceflow_queue_high_water",
    "voiceflow_tool_calls",
    "voiceflow_campaign_calls",
    "voiceflow_session_store_fallback",
    "voiceflow_input_audio_dropped",
}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(parsed: Samples, name: str, **labels: str) -> float:
    return parsed.get((name, tuple(sorted(labels.items()))), 0.0)


@asynccontextmanager
async def echo_app(tmp_path: Path, **security: object) -> AsyncIterator[tuple[RunningServer, ServerState]]:
    app = create_app(EchoFactory(), routes=ROUTES, security=SecuritySettings(**security), data_dir=tmp_path)
    async with serve_in_background(app) as server:
        yield server, app.state.voiceflow


async def scrape(http: httpx.AsyncClient, server: RunningServer) -> Samples:
    response = await http.get(f"{server.http_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_metrics_after_a_real_call(tmp_path: Path) -> None:
    async with echo_app(tmp_path) as (server, state), httpx.AsyncClient() as http:
        before = await scrape(http, server)
        text = (await http.get(f"{server.http_url}/metrics")).text
        families = {f.name for f in text_string_to_metric_families(text)}
        assert BRIEF_NAMES <= families, BRIEF_NAMES - families

        async with TwilioMediaClient(server.ws_url("/twilio/media")) as call:
            await call.send_silence(0.1)
            spoke = await call.send_audio(tone(1.5), sample_rate=16000)
            await call.send_silence(0.55)  # the turn ends, the echo starts playing
            first_reply = await call.wait_for_agent_audio(after=spoke, timeout=5)
            during = await scrape(http, server)
            # deltas, not absolutes: the registry is the process's, shared with every earlier test
            active = value(during, "voiceflow_calls_active", transport="twilio")
            assert active - value(before, "voiceflow_calls_active", transport="twilio") == 1
            await call.send_audio(tone(0.8, freq=600), sample_rate=16000)  # barge in over the echo
            await call.wait_for_clear(after=first_reply, timeout=5)
        await wait_until(lambda: state.calls.finished == 1)
        after = await scrape(http, server)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("voiceflow_calls_active", transport="twilio") == 0
    assert delta("voiceflow_calls_total", transport="twilio", outcome="completed") == 1
    assert delta("voiceflow_v2v_seconds_count") >= 1
    assert 0.25 < delta("voiceflow_v2v_seconds_sum") < 3 * delta("voiceflow_v2v_seconds_count")
    # the echo's turn detector is the VAD here: its stop window, the turn end, then audio out
    for stage in ("vad_stop", "endpoint", "tts_first_audio", "first_frame_sent"):
        assert delta("voiceflow_stage_seconds_count", stage=stage) >= 1, stage
    assert delta("voiceflow_bargeins_total") >= 1
    assert value(after, "voiceflow_queue_high_water", processor="echo") >= 1


async def test_metrics_need_a_token_when_configured(tmp_path: Path) -> None:
    from voiceflow.security.tokens import hash_token

    tokens = f"scraper:read:{hash_token('s3cret-read')}"
    guarded = echo_app(tmp_path, metrics_auth="on", admin_tokens=tokens)
    async with guarded as (server, _), httpx.AsyncClient() as http:
        assert (await http.get(f"{server.http_url}/metrics")).status_code == 401
        bad = await http.get(f"{server.http_url}/metrics", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        ok = await http.get(f"{server.http_url}/metrics", headers={"Authorization": "Bearer s3cret-read"})
        assert ok.status_code == 200 and "voiceflow_calls_total" in ok.text


WORKER = textwrap.dedent(
    """
    import sys
    from voiceflow.observability import metrics
    n = int(sys.argv[1])
    metrics.CALLS_ACTIVE.labels("twilio").inc(n)
    metrics.CALLS_TOTAL.labels("twilio", "completed").inc(n)
    metrics.V2V_SECONDS.observe(0.5)
    metrics.QUEUE_HIGH_WATER.labels("stt").set(10 * n)
    print("ready", flush=True)
    sys.stdin.read()  # a live worker until the test closes its stdin
    """
)


def test_multiprocess_mode_merges_every_worker(tmp_path: Path) -> None:
    """Three worker processes write to PROMETHEUS_MULTIPROC_DIR; one render() sums and maxes them,
    and a worker that has exited stops counting in the live gauge without anyone reporting it."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": os.getcwd()}
    workers = []
    for n in (1, 2, 3):
        worker = subprocess.Popen([sys.executable, "-c", WORKER, str(n)], env=env, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        workers.append(worker)

    def render() -> Samples:
        code = "from voiceflow.observability import metrics\nprint(metrics.render().decode())"
        run = [sys.executable, "-c", code]
        done = subprocess.run(run, env=env, check=True, timeout=60, capture_output=True)
        return samples(done.stdout.decode())

    try:
        parsed = render()
        assert value(parsed, "voiceflow_calls_total", transport="twilio", outcome="completed") == 6
        assert value(parsed, "voiceflow_v2v_seconds_count") == 3
        assert value(parsed, "voiceflow_queue_high_water", processor="stt") == 30
        assert value(parsed, "voiceflow_calls_active", transport="twilio") == 6
        for worker in workers[:2]:  # two workers exit; nobody calls mark_process_dead for them
            worker.communicate(timeout=60)
        # render() reaps them: they stop counting in the live gauge; counters keep their work
        parsed = render()
        assert value(parsed, "voiceflow_calls_active", transport="twilio") == 3
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.communicate(timeout=60)
    assert value(parsed, "voiceflow_calls_total", transport="twilio", outcome="completed") == 6
