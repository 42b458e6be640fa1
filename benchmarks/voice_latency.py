"""Voice-to-voice latency of the offline agent over the real Twilio Media Streams path.

Scripted multi-turn calls (Piper caller audio, 8 kHz mu-law at real time) go to an
in-process server running ``pipelines/offline.py``. Figures:

- voice-to-voice p50/p95: caller's last voiced frame received by the transport → first
  agent audio frame sent by the transport (server clock), and the same seen by the caller;
- per-stage breakdown (medians): STT final, endpointing wait, intent, reply text,
  TTS first audio, transport;
- barge-in: caller speech onset on the wire → ``clear`` received (``bargein_p50_ms``);
- backchannels and noises over the agent: stop, resume, false-interruption rate;
- requests spoken in two parts (a pause between sentences), Piper and espeak-ng callers:
  turns answered before the caller finished, continuations (benchmarks/_turn_taking.py);
- SetFit p50 on the script's sentences, in the same process (``setfit_p50_ms``);
- concurrency: the most simultaneous calls one process sustains with outbound audio in
  real time (no frame later than 20 ms behind its playout schedule) and p95
  voice-to-voice within 1.5x the single-call figure.

    .venv/bin/python benchmarks/voice_latency.py [--quick] [--json] [--max-calls N] [--runs N]

The machine's load average is reported beside the figures (``loadavg_1m``): on a shared
machine latency figures are pessimistic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCRIPT = [
    "Hi, where is my order one zero zero two?",
    "What time do you close on Saturday?",
    "I'd like to book an appointment for next Tuesday at three pm.",
    "Thanks, that's all. Goodbye.",
]
BARGE_SCRIPT = [
    "What is your return policy?",
    "Sorry, what are your opening hours?",
    "Hold on, what about the warranty?",
    "Sorry, where is my order one zero zero three?",
]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


async def _setfit_p50_ms(sentences: list[str], repeats: int = 20) -> float:
    import time

    from voiceflow.processors.nlu.setfit_tier import SetFitTier
    from voiceflow.processors.nlu.setfit_training import ensure_trained

    model_dir, _ = await asyncio.to_thread(ensure_trained)
    tier = SetFitTier(model_dir=model_dir)
    await tier.start()
    try:
        await tier.classify("warm up")
        times = []
        for _ in range(repeats):
            for text in sentences:
                started = time.perf_counter()
                await tier.classify(text)
                times.append((time.perf_counter() - started) * 1000)
        return pct(times, 0.5)
    finally:
        await tier.aclose()


async def _measure(quick: bool, max_calls: int, runs: int) -> dict[str, Any]:
    from benchmarks._turn_taking import Sessions, backchannel_trials, early_answer_trials
    from pipelines.offline import OfflinePipeline
    from voiceflow.commands.serve import serve_in_background
    from voiceflow.config import Config
    from voiceflow.server.app import create_app
    from voiceflow.sim.scripted_call import CallResult, CallWatchers, run_scripted_call
    from voiceflow.sim.speech import synthesize

    pipeline = OfflinePipeline(Config.from_env())
    script = SCRIPT[:2] + SCRIPT[-1:] if quick else SCRIPT
    lines = [(t, synthesize(t, 16000), 16000) for t in script]
    barge = [(t, synthesize(t, 16000), 16000) for t in BARGE_SCRIPT]
    app = create_app(pipeline)  # the server's lifespan prepares the pipeline and shuts it down
    watchers = CallWatchers(app.state.voiceflow.calls)
    sessions = Sessions(app.state.voiceflow.calls)
    fig: dict[str, Any] = {"stt": pipeline.config.stt.engine, "turn_model": pipeline.config.stt.turn_model}

    def v2v(results: list[CallResult]) -> tuple[list[float], list[float]]:
        server = [t.latency.v2v_ms for r in results for t in r.turns if t.latency and t.latency.v2v_ms]
        client = [t.client_v2v_ms for r in results for t in r.turns if t.client_v2v_ms is not None]
        return server, client

    async with serve_in_background(app, startup_timeout_s=600) as srv:
        url = srv.ws_url("/twilio/media")

        async def calls(n: int, script_lines: list[tuple[str, bytes, int]], **kw: Any) -> list[CallResult]:
            return list(
                await asyncio.gather(
                    *(
                        run_scripted_call(url, script_lines, watchers, caller=f"+1555010{i:04d}", **kw)
                        for i in range(n)
                    )
                )
            )

        # warm-up call (first-call effects: decoder pools, caches)
        await calls(1, lines[:1])

        single: list[CallResult] = []
        per_run = []
        for _ in range(runs):  # several runs: on a shared machine one run can be unlucky
            this = await calls(1 if quick else 2, lines)
            single += this
            s, _c = v2v(this)
            per_run.append({"v2v_p50_ms": pct(s, 0.5), "v2v_p95_ms": pct(s, 0.95), "turns": len(s)})
        fig["v2v_runs"] = per_run
        server, client = v2v(single)
        fig["turns"] = len(server)
        fig["v2v_p50_ms"] = pct(server, 0.5)
        fig["v2v_p95_ms"] = pct(server, 0.95)
        fig["client_v2v_p50_ms"] = pct(client, 0.5)
        fig["client_v2v_p95_ms"] = pct(client, 0.95)
        stages: dict[str, list[float]] = {}
        for r in single:
            for t in r.turns:
                if t.latency is not None:
                    for k, v in t.latency.breakdown().items():
                        stages.setdefault(k, []).append(v)
        for k, vals in stages.items():
            fig[f"stage_{k}_p50_ms"] = statistics.median(vals)
        late = [x for r in single for x in r.pacing_lateness_ms()]
        fig["single_max_frame_late_ms"] = max(late) if late else float("nan")

        clears: list[float] = []
        for _ in range(1 if quick else 2):
            barged = await calls(1, barge, barge_in=True)
            clears += [t.clear_ms for r in barged for t in r.turns if t.clear_ms is not None]
        fig["barge_in_clear_p50_ms"] = pct(clears, 0.5)
        fig["bargein_p50_ms"] = fig["barge_in_clear_p50_ms"]
        fig["bargein_p95_ms"] = pct(clears, 0.95)
        fig["barge_in_samples"] = len(clears)

        fig |= await backchannel_trials(url, watchers, sessions)
        for voice, caller in (("piper", "+15550300001"), ("espeak", "+15550300002")):
            fig |= await early_answer_trials(url, watchers, sessions, voice, caller)
        fig["setfit_p50_ms"] = await _setfit_p50_ms([t for t, _, _ in lines])

        levels = []
        base_p95 = fig["v2v_p95_ms"]
        sustained = 1
        n = 2
        while n <= max_calls:
            res = await calls(n, lines)
            s_v2v, _ = v2v(res)
            lateness = [x for r in res for x in r.pacing_lateness_ms()]
            answered = sum(1 for r in res for t in r.turns if t.reply is not None)
            row = {
                "calls": n,
                "v2v_p50_ms": pct(s_v2v, 0.5),
                "v2v_p95_ms": pct(s_v2v, 0.95),
                "max_frame_late_ms": max(lateness) if lateness else float("nan"),
                "answered_turns": answered,
                "turns": sum(len(r.turns) for r in res),
            }
            ok = (
                row["max_frame_late_ms"] <= 20.0
                and row["v2v_p95_ms"] <= 1.5 * base_p95
                and answered == row["turns"]
            )
            row["ok"] = ok
            levels.append(row)
            if not ok:
                break
            sustained = n
            n += 1 if n < 4 else 2
        fig["concurrency"] = levels
        fig["max_concurrent_calls"] = sustained
    return fig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer turns and concurrency levels")
    ap.add_argument("--max-calls", type=int, default=None, help="highest concurrency level to try")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=2, help="single-call voice-to-voice runs (reported each)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    max_calls = a.max_calls or (3 if a.quick else 8)
    load_before = os.getloadavg()[0]
    fig = asyncio.run(_measure(a.quick, max_calls, a.runs))
    fig["loadavg_1m_before"] = round(load_before, 2)
    fig["loadavg_1m"] = round(os.getloadavg()[0], 2)
    fig["cpus"] = os.cpu_count()
    if a.json:
        print(json.dumps(fig))
        return 0
    print(
        f"offline agent over /twilio/media (STT {fig['stt']}, turn model {fig['turn_model']}; "
        f"load {fig['loadavg_1m_before']} -> {fig['loadavg_1m']} on {fig['cpus']} CPUs)"
    )
    for i, run in enumerate(fig["v2v_runs"], 1):
        print(
            f"  run {i}: v2v p50 {run['v2v_p50_ms']:.0f} ms, "
            f"p95 {run['v2v_p95_ms']:.0f} ms ({run['turns']} turns)"
        )
    for row in fig["backchannel_rows"]:
        print(
            f"  {row['sound']:>10}: stopped {row['stopped']}, resumed {row['resumed']}, "
            f"answered {row['answered']}"
        )
    print(f"{'measure':44} {'value':>10}")
    for key, label in (
        ("v2v_p50_ms", "voice-to-voice p50 (ms, transport)"),
        ("v2v_p95_ms", "voice-to-voice p95 (ms, transport)"),
        ("client_v2v_p50_ms", "voice-to-voice p50 (ms, as the caller hears)"),
        ("client_v2v_p95_ms", "voice-to-voice p95 (ms, as the caller hears)"),
        ("bargein_p50_ms", "barge-in: speech onset -> clear p50 (ms)"),
        ("bargein_p95_ms", "barge-in: speech onset -> clear p95 (ms)"),
        ("false_interruption_rate", "backchannels/noises: utterance lost (share)"),
        ("backchannel_stop_rate", "backchannels/noises: agent stopped (share)"),
        ("backchannel_resume_rate", "  of those, resumed where cut (share)"),
        ("turns_answered_early_piper", "answered before the caller finished, Piper"),
        ("turns_answered_early_espeak", "answered before the caller finished, espeak"),
        ("continuations_piper", "continuations (reply cancelled), Piper"),
        ("continuations_espeak", "continuations (reply cancelled), espeak"),
        ("speculations_discarded_piper", "speculative replies discarded, Piper"),
        ("speculations_discarded_espeak", "speculative replies discarded, espeak"),
        ("replies_held_for_an_onset_piper", "replies held for an onset, Piper"),
        ("replies_held_for_an_onset_espeak", "replies held for an onset, espeak"),
        ("setfit_p50_ms", "SetFit p50 (ms, same process)"),
        ("single_max_frame_late_ms", "single call: latest outbound frame (ms)"),
    ):
        print(f"{label:44} {fig[key]:>10.0f}")
    for voice in ("piper", "espeak"):
        if fig.get(f"call_ended_by_agent_{voice}"):
            print(f"  {voice} two-part call ended by the agent {fig[f'call_ended_by_agent_{voice}']}")
    print("per-stage medians (ms, each from the previous stage):")
    for key in sorted(k for k in fig if k.startswith("stage_")):
        print(f"  {key[6:-7]:42} {fig[key]:>10.0f}")
    print(f"{'calls':>6} {'v2v p50':>9} {'v2v p95':>9} {'max late':>9} {'answered':>9}  ok")
    for row in fig["concurrency"]:
        print(
            f"{row['calls']:>6} {row['v2v_p50_ms']:>9.0f} {row['v2v_p95_ms']:>9.0f} "
            f"{row['max_frame_late_ms']:>9.1f} {row['answered_turns']:>4}/{row['turns']:<4}  {row['ok']}"
        )
    print(f"max concurrent calls sustained: {fig['max_concurrent_calls']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
