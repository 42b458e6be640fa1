"""Cloud voices benchmark: what our adapters and failover add on top of the providers' own latency.

Against the local fakes (ElevenLabs, Cartesia) with an injected time to first audio:

* per adapter and format, time to first audio as our caller sees it minus the fake's injected
  latency: the adapter's share (connection, messages, decoding), p50 / p95;
* the router in front of the voice: the same, through ``TTSRouter``;
* failover time: ElevenLabs refuses at the start of the utterance (quota) or its socket drops
  mid-utterance → Cartesia's first audio, minus Cartesia's own injected latency, p50 / p95;
* with ``--v2v``: the cloud pipeline (``pipelines/cloud.py``) voice to voice over
  ``/twilio/media``, every provider a fake injecting a typical latency (``V2V_LATENCIES``), and
  what is left once those latencies and the turn-taking waits are taken out: the framework's part.

The fakes synthesize with Piper; each text is synthesized once and cached before timing, so
the fake's own synthesis time is not in the figures.

    .venv/bin/python benchmarks/tts_providers.py [--rounds 30] [--latency-ms 150] [--v2v] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceflow.core.clock import MonotonicClock  # noqa: E402
from voiceflow.services.tts import RoutedEngine, TTSEngine, TTSRouter  # noqa: E402
from voiceflow.services.tts.cartesia import CartesiaEngine  # noqa: E402
from voiceflow.services.tts.elevenlabs import ElevenLabsEngine  # noqa: E402
from voiceflow.services.tts.piper import PiperEngine  # noqa: E402
from voiceflow.testing.fakes import tts_audio  # noqa: E402
from voiceflow.testing.fakes.cartesia_server import FakeCartesiaServer  # noqa: E402
from voiceflow.testing.fakes.elevenlabs_server import FakeElevenLabsServer  # noqa: E402

TEXT = "Your order shipped on Monday. It should arrive by Thursday afternoon."
CLAUSES = ("Your order shipped on Monday.", "It should arrive by Thursday afternoon.")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _first_audio(stream: AsyncGenerator[bytes, None]) -> float:
    start = time.perf_counter()
    try:
        await anext(stream)
        return time.perf_counter() - start
    finally:
        await stream.aclose()


def warm() -> None:
    for clause in CLAUSES:
        for enc, rate in (("pcm", 16000), ("mulaw", 8000), ("pcm", 22050)):
            tts_audio.speech(clause, enc, rate)


async def adapter_overheads(rounds: int, latency: float) -> dict[str, float]:
    out: dict[str, float] = {}
    async with FakeElevenLabsServer() as eleven, FakeCartesiaServer() as cartesia:
        eleven.faults.first_audio_delay_s = latency
        cartesia.faults.first_audio_delay_s = latency
        clock = MonotonicClock()
        engines: dict[str, Callable[[], TTSEngine]] = {
            "elevenlabs_pcm16k": lambda: ElevenLabsEngine(eleven.api_key, base_url=eleven.http_url),
            "elevenlabs_ulaw8k": lambda: ElevenLabsEngine(
                eleven.api_key, base_url=eleven.http_url, output_format="ulaw_8000"
            ),
            "cartesia_pcm16k": lambda: CartesiaEngine(cartesia.api_key, base_url=cartesia.http_url),
            "cartesia_mulaw8k": lambda: CartesiaEngine(
                cartesia.api_key, base_url=cartesia.http_url, encoding="pcm_mulaw", sample_rate=8000
            ),
        }
        for name, make in engines.items():
            for routed in (False, True):
                engine = make()
                voice: TTSEngine = (
                    TTSRouter([RoutedEngine(engine, quality=1.0)], fallback=PiperEngine(), policy="quality")
                    if routed
                    else engine
                )
                await voice.start(clock)
                try:
                    await _first_audio(voice.synthesize(TEXT))  # warm-up (connection, caches)
                    added = [
                        (await _first_audio(voice.synthesize(TEXT)) - latency) * 1000 for _ in range(rounds)
                    ]
                finally:
                    await voice.aclose()
                key = f"{name}{'_via_router' if routed else ''}"
                out[f"{key}_added_ttfa_p50_ms"] = round(statistics.median(added), 2)
                out[f"{key}_added_ttfa_p95_ms"] = round(_pct(added, 0.95), 2)
    return out


async def failover_times(rounds: int, latency: float) -> dict[str, float]:
    out: dict[str, float] = {}
    async with FakeElevenLabsServer() as eleven, FakeCartesiaServer() as cartesia:
        cartesia.faults.first_audio_delay_s = latency
        for case in ("refused_at_start", "dropped_mid_utterance"):
            gaps: list[float] = []
            for _ in range(rounds + 1):
                clock = MonotonicClock()
                router = TTSRouter(
                    [
                        RoutedEngine(
                            ElevenLabsEngine(eleven.api_key, base_url=eleven.http_url), quality=0.95
                        ),
                        RoutedEngine(
                            CartesiaEngine(cartesia.api_key, base_url=cartesia.http_url), quality=0.8
                        ),
                    ],
                    fallback=PiperEngine(),
                    policy="quality",
                )
                await router.start(clock)
                eleven.faults.error = "quota_exceeded" if case == "refused_at_start" else None
                eleven.faults.drop_after = 5 if case == "dropped_mid_utterance" else None
                try:
                    start = last = time.perf_counter()
                    gap = None
                    async for _ in router.synthesize(TEXT):
                        now = time.perf_counter()
                        if router.last_engine == "cartesia" and gap is None:
                            gap = now - (start if case == "refused_at_start" else last)
                        last = now
                finally:
                    await router.aclose()
                if gap is not None:
                    gaps.append((gap - latency) * 1000)
            gaps = gaps[1:]  # the first round warms the connection paths
            out[f"failover_{case}_added_p50_ms"] = round(statistics.median(gaps), 2)
            out[f"failover_{case}_added_p95_ms"] = round(_pct(gaps, 0.95), 2)
    eleven.faults.error = None
    eleven.faults.drop_after = None
    return out


#: typical provider latencies injected for the cloud call (assumptions, see the README): Deepgram's
#: final after the end of speech, the LLM's time to first token, ElevenLabs' time to first audio
V2V_LATENCIES = {"deepgram_final_s": 0.10, "llm_ttft_s": 0.35, "tts_first_audio_s": 0.15}
V2V_SCRIPT = (
    "My rating is five.",
    "Where is my order one zero zero two?",
    "I would like to book an appointment.",
)


async def cloud_v2v(calls: int = 2, voice: str = "router") -> dict[str, float]:
    """Scripted calls through ``pipelines/cloud.py`` over ``/twilio/media`` with every provider faked."""
    import dataclasses
    import tempfile
    from contextlib import AsyncExitStack

    from pipelines.cloud import CloudPipeline
    from voiceflow.commands.serve import serve_in_background
    from voiceflow.config import Config
    from voiceflow.server.app import create_app
    from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine
    from voiceflow.sim.scripted_call import CallWatchers, run_scripted_call
    from voiceflow.sim.speech import synthesize
    from voiceflow.testing.fakes.anthropic_server import FakeAnthropicServer
    from voiceflow.testing.fakes.deepgram_server import FakeDeepgramServer

    lat = V2V_LATENCIES
    lines = [(t, synthesize(t, 16000), 16000) for t in V2V_SCRIPT]
    async with AsyncExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        deepgram = await stack.enter_async_context(
            FakeDeepgramServer(
                api_key="dg",
                result_delay_s=lat["deepgram_final_s"],
                recognizer=lambda rate: PocketsphinxEngine(channel="phone", domain_lm=True),
            )
        )
        llm = await stack.enter_async_context(FakeAnthropicServer(api_key="ant"))
        decide = llm._next_reply
        llm._next_reply = lambda body: dataclasses.replace(decide(body), delay_s=lat["llm_ttft_s"])  # type: ignore[method-assign]
        eleven = await stack.enter_async_context(FakeElevenLabsServer())
        eleven.faults.first_audio_delay_s = lat["tts_first_audio_s"]
        env = {
            "VOICEFLOW_DATA_DIR": str(data),
            "VOICEFLOW_STT": "deepgram",
            "DEEPGRAM_API_KEY": "dg",
            "VOICEFLOW_DEEPGRAM_URL": deepgram.url,
            "VOICEFLOW_LLM": "anthropic",
            "ANTHROPIC_API_KEY": "ant",
            "VOICEFLOW_ANTHROPIC_URL": llm.base_url,
            "VOICEFLOW_TTS_POLICY": "quality",
            "VOICEFLOW_TTS": voice,
            "ELEVENLABS_API_KEY": eleven.api_key,
            "VOICEFLOW_ELEVENLABS_URL": eleven.http_url,
        }
        config = Config.from_env(env)
        app = create_app(CloudPipeline(config), config.server)
        watchers = CallWatchers(app.state.voiceflow.calls)
        server = await stack.enter_async_context(serve_in_background(app, startup_timeout_s=600))
        url = server.ws_url("/twilio/media")
        await run_scripted_call(url, lines[:1], watchers, expect_greeting=False)  # warm-up
        turns = []
        for i in range(calls):
            result = await run_scripted_call(
                url, lines, watchers, caller=f"+1555019{i:04d}", expect_greeting=False, reply_timeout=60
            )
            turns += [t for t in result.turns if t.client_v2v_ms is not None and t.latency is not None]
    v2v = [t.client_v2v_ms for t in turns if t.client_v2v_ms is not None]
    # the server's own figure (the output transport's v2v Metrics), to check against the caller's
    server = [t.latency.v2v_ms for t in turns if t.latency is not None and t.latency.v2v_ms is not None]
    gaps = [
        abs(t.latency.v2v_ms - t.client_v2v_ms)
        for t in turns
        if t.latency is not None and t.latency.v2v_ms is not None and t.client_v2v_ms is not None
    ]
    for t in turns:
        log_v2v(t)
    stages: dict[str, list[float]] = {}
    rest: list[float] = []
    for t in turns:
        assert t.latency is not None and t.client_v2v_ms is not None
        parts = t.latency.breakdown()
        for k in ("stt_final", "endpoint", "intent", "reply", "tts_audio", "tool"):
            stages.setdefault(k, []).append(parts.get(k, 0.0))
        # what is left once hearing (VAD stop window, Deepgram, endpointing), the LLM rounds and the
        # voice's first audio are taken out: routing, NLU, tools, transport and the line to the caller
        heard_thought_spoken = sum(parts.get(k, 0.0) for k in ("stt_final", "endpoint", "reply", "tts_audio"))
        rest.append(t.client_v2v_ms - heard_thought_spoken)
    out: dict[str, float] = {
        "v2v_turns": len(v2v),
        "v2v_client_p50_ms": statistics.median(v2v),
        "v2v_client_p95_ms": _pct(v2v, 0.95),
        "v2v_server_p50_ms": statistics.median(server) if server else float("nan"),
        "v2v_server_p95_ms": _pct(server, 0.95) if server else float("nan"),
        "v2v_server_vs_client_gap_max_ms": max(gaps) if gaps else float("nan"),
        "v2v_framework_rest_p50_ms": statistics.median(rest),
        "v2v_framework_rest_p95_ms": _pct(rest, 0.95),
    }
    for k, vals in stages.items():
        out[f"v2v_stage_{k}_p50_ms"] = statistics.median(vals)
    return out


def log_v2v(turn: object) -> None:
    import sys

    latency = getattr(turn, "latency", None)
    server = latency.v2v_ms if latency is not None else None
    marks = latency.marks if latency is not None else {}
    end = latency.speech_end if latency is not None else 0.0
    rel = {k: round((v - end) * 1000) for k, v in marks.items()}
    print(f"turn client={getattr(turn, 'client_v2v_ms', None)} server={server} marks={rel}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--latency-ms", type=float, default=150.0, help="first-audio latency the fakes inject")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--v2v", action="store_true", help="also the cloud pipeline's voice to voice")
    ap.add_argument("--calls", type=int, default=2, help="scripted calls for --v2v")
    args = ap.parse_args()
    warm()
    latency = args.latency_ms / 1000
    results: dict[str, float] = {"injected_first_audio_ms": args.latency_ms, "rounds": args.rounds}
    results.update(asyncio.run(adapter_overheads(args.rounds, latency)))
    results.update(asyncio.run(failover_times(args.rounds, latency)))
    if args.v2v:
        results.update(asyncio.run(cloud_v2v(args.calls)))
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'measure':<60} {'value':>10}")
    for key, value in results.items():
        print(f"{key:<60} {value:>10}")


if __name__ == "__main__":
    main()
