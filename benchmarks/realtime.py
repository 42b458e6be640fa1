"""The speech-to-speech path over the real Twilio Media Streams path, against the fake Realtime server.

Scripted calls (Piper caller audio, 8 kHz mu-law at real time) go to an in-process
server running ``pipelines/realtime.py``, whose Realtime node talks to the local fake
(real WebSocket, GA events, Silero VAD, pocketsphinx, Piper) through the openai SDK.
Figures:

- path latency our side adds, each direction (p50/p99): inbound = caller frame stamped
  by the transport → ``input_audio_buffer.append`` written to the socket; outbound =
  ``response.output_audio.delta`` read → ``TTSAudio`` handed to the output transport;
- voice-to-voice p50/p95 (transport clock: caller's last voiced frame → first agent
  frame sent), at each injected model latency;
- barge-in: ``speech_started`` read → ``clear`` written to the phone (p50/max);
- truncation error: ``conversation.item.truncate`` ``audio_end_ms`` against the audio
  the simulated phone actually played before the clear (mean/max absolute ms);
- reconnect: the Realtime socket dropped mid-answer (after 300 ms of answer audio):
  socket lost → new session restored (ours), and the longest silence the simulated
  phone plays inside that answer (``reconnect_gap_ms``: the cut part, then the rest).

With ``audio/pcmu`` the model's mu-law goes to the phone untouched (``EncodedTTSAudio``):
the outbound figure is the delta read → the frame handed to the Twilio output.

    .venv/bin/python benchmarks/realtime.py [--calls N] [--latency MS ...] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOURS = "What time do you close on Saturday?"
ORDER = "Where is my order one zero zero two?"
OVER = "Sorry, goodbye."


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def played_ms(media: list[Any], clear_at: float) -> float:
    total = 0.0
    for m in media:
        if m.play_start >= clear_at:
            break
        total += min(m.seconds, clear_at - m.play_start) * 1000
    return total


async def _one_call(agent: Any, i: int, fig: dict[str, list[float]]) -> None:
    from voiceflow.sim.phone_line import PhoneLine
    from voiceflow.sim.speech import synthesize
    from voiceflow.sim.twilio_client import TwilioMediaClient

    async with TwilioMediaClient(agent.url, caller=f"+1555020{i:04d}") as call, PhoneLine(call) as line:
        watcher = await agent.watchers.get(call.call_sid)
        realtime = agent.realtime(call.call_sid)
        await call.wait_for_reply(timeout=30)
        for text in (HOURS, ORDER):
            spoken = await line.say(synthesize(text, 16000), 16000)
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
        # barge-in over the hours answer
        spoken = await line.say(synthesize(HOURS, 16000), 16000)
        await call.wait_for_agent_audio(after=spoken.voiced_end_at, timeout=30)
        answer_from = spoken.voiced_end_at
        await asyncio.sleep(1.2)
        said_from = call.clock.now()
        before = len(agent.fake.truncations)
        over = line.say(synthesize(OVER, 16000), 16000)
        clear_at = await call.wait_for_clear(after=said_from, timeout=10)
        await over
        heard = played_ms(call.media_after(answer_from), clear_at)
        cut = await agent.fake.wait_truncations(before + 1)
        fig["truncation_error_ms"].append(abs(cut.audio_end_ms - heard))
        await call.wait_closed(timeout=30)
        fig["inbound_ms"].extend(realtime.inbound_ms)
        fig["outbound_ms"].extend(realtime.outbound_ms)
        fig["bargein_ms"].extend(realtime.bargein_ms)
        fig["v2v_ms"].extend(t.v2v_ms for t in watcher.latency.turns if t.v2v_ms is not None)


async def _reconnect_call(agent: Any, i: int, fig: dict[str, list[float]]) -> None:
    from voiceflow.sim.phone_line import PhoneLine
    from voiceflow.sim.speech import synthesize
    from voiceflow.sim.twilio_client import TwilioMediaClient

    async with TwilioMediaClient(agent.url, caller=f"+1555030{i:04d}") as call, PhoneLine(call) as line:
        await agent.watchers.get(call.call_sid)
        realtime = agent.realtime(call.call_sid)
        await call.wait_for_reply(timeout=30)
        agent.fake.drop_after_audio_deltas = 3  # 300 ms of the answer, then the socket drops
        spoken = await line.say(synthesize(HOURS, 16000), 16000)
        await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30, quiet_s=1.5)
        media = sorted(call.media_after(spoken.voiced_end_at), key=lambda m: m.play_start)
        gaps = [b.play_start - (a.play_start + a.seconds) for a, b in itertools.pairwise(media)]
        fig["reconnect_gap_ms"].append(max(0.0, *gaps) * 1000 if gaps else float("nan"))
        fig["reconnect_ms"].extend(realtime.reconnect_ms)


async def _measure(calls: int, latencies: list[int]) -> dict[str, Any]:
    from tests.realtime.helpers import realtime_agent
    from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer

    out: dict[str, Any] = {"calls_per_latency": calls}
    pooled: dict[str, list[float]] = {
        "inbound_ms": [],
        "outbound_ms": [],
        "bargein_ms": [],
        "truncation_error_ms": [],
    }
    for latency in latencies:
        fig: dict[str, list[float]] = {k: [] for k in (*pooled, "v2v_ms")}
        with tempfile.TemporaryDirectory() as tmp:
            async with (
                FakeRealtimeServer(api_key="bench-key", model_latency_s=latency / 1000) as fake,
                realtime_agent(Path(tmp), fake) as agent,
            ):
                for i in range(calls):
                    await _one_call(agent, i, fig)
        out[f"v2v_p50_ms_at_{latency}ms_model"] = pct(fig["v2v_ms"], 0.5)
        out[f"v2v_p95_ms_at_{latency}ms_model"] = pct(fig["v2v_ms"], 0.95)
        for k in pooled:
            pooled[k].extend(fig[k])
    drops: dict[str, list[float]] = {"reconnect_gap_ms": [], "reconnect_ms": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeRealtimeServer(api_key="bench-key") as fake,
            realtime_agent(Path(tmp), fake) as agent,
        ):
            for i in range(calls):
                await _reconnect_call(agent, i, drops)
    out["reconnect_gap_ms"] = pct(drops["reconnect_gap_ms"], 0.5)
    out["reconnect_gap_max_ms"] = max(drops["reconnect_gap_ms"], default=float("nan"))
    out["reconnect_p50_ms"] = pct(drops["reconnect_ms"], 0.5)
    out["inbound_p50_ms"] = pct(pooled["inbound_ms"], 0.5)
    out["inbound_p99_ms"] = pct(pooled["inbound_ms"], 0.99)
    out["outbound_p50_ms"] = pct(pooled["outbound_ms"], 0.5)
    out["outbound_p99_ms"] = pct(pooled["outbound_ms"], 0.99)
    out["bargein_clear_p50_ms"] = pct(pooled["bargein_ms"], 0.5)
    out["bargein_clear_max_ms"] = max(pooled["bargein_ms"], default=float("nan"))
    errors = pooled["truncation_error_ms"]
    out["truncation_error_mean_ms"] = statistics.fmean(errors) if errors else float("nan")
    out["truncation_error_max_ms"] = max(errors, default=float("nan"))
    out["frames_inbound"] = len(pooled["inbound_ms"])
    out["deltas_outbound"] = len(pooled["outbound_ms"])
    out["bargeins"] = len(pooled["bargein_ms"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=2, help="calls per model latency (default 2)")
    ap.add_argument("--latency", type=int, nargs="+", default=[0, 300], help="injected model latencies (ms)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    fig = asyncio.run(_measure(a.calls, a.latency))
    if a.json:
        print(json.dumps(fig))
        return 0
    print("realtime agent over /twilio/media against the fake Realtime server (audio/pcmu both ways)")
    print(f"{'measure':58} {'value':>9}")
    rows = [
        ("inbound_p50_ms", "our path, transport -> socket p50 (ms)"),
        ("inbound_p99_ms", "our path, transport -> socket p99 (ms)"),
        ("outbound_p50_ms", "our path, socket -> transport p50 (ms)"),
        ("outbound_p99_ms", "our path, socket -> transport p99 (ms)"),
        ("bargein_clear_p50_ms", "barge-in: speech_started -> clear written p50 (ms)"),
        ("bargein_clear_max_ms", "barge-in: speech_started -> clear written max (ms)"),
        ("truncation_error_mean_ms", "truncation vs audio played, mean |error| (ms)"),
        ("truncation_error_max_ms", "truncation vs audio played, max |error| (ms)"),
        ("reconnect_p50_ms", "drop mid-answer: socket lost -> session restored p50 (ms)"),
        ("reconnect_gap_ms", "drop mid-answer: silence the caller hears p50 (ms)"),
        ("reconnect_gap_max_ms", "drop mid-answer: silence the caller hears max (ms)"),
    ]
    rows += [
        (k, f"voice-to-voice {k.split('_')[1]} with {k.split('_at_')[1][:-8]} ms model latency (ms)")
        for k in fig
        if k.startswith("v2v_")
    ]
    for key, label in rows:
        print(f"{label:58} {fig[key]:>9.2f}")
    print(f"samples: {fig['frames_inbound']} frames in, {fig['deltas_outbound']} deltas out, ", end="")
    print(f"{fig['bargeins']} barge-ins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
