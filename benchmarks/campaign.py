"""Campaign benchmark: contacts per minute, the dialer's cost per dial, how fast local AMD decides.

1. Throughput: a campaign against the fake Twilio (REST through the twilio SDK,
   signed callbacks, a real Media Stream to our server for every answered call)
   at concurrency 1, 5 and 20. The contacts are a fixed mix per 10: 4 people who
   answer, say "Hello?" (Piper) and hang up after 2 s, 2 busy, 2 no answer, 2 faxes
   (hung up by us on the local detector's decision). The agent is the echo
   pipeline, so the figure is the telephony path's, not speech synthesis's.
   The scheduler's clock is virtual (noon, every callee in its window).
2. Scheduler overhead per dial: the runner's own work between dials (next due
   contact, DNC and calling-hours checks, claiming the attempt), measured around
   those calls, for a campaign of busy lines.
3. AMD decision time (answer → decision, seconds of call audio) of the local
   detector, p50 / p95, on Piper greetings over the 8 kHz mu-law line: short
   human answers, answering-machine greetings (to the machine decision and to
   the end of the beep) and fax tones; and its CPU cost per second of audio.

    .venv/bin/python benchmarks/campaign.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.echo import pipeline as echo_pipeline  # noqa: E402
from voiceflow.commands.serve import serve_in_background  # noqa: E402
from voiceflow.config import Config  # noqa: E402
from voiceflow.core.clock import VirtualClock  # noqa: E402
from voiceflow.server.app import create_app  # noqa: E402
from voiceflow.sim.speech import from_phone_line, synthesize, to_phone_line  # noqa: E402
from voiceflow.telephony.amd import LocalAmd  # noqa: E402
from voiceflow.telephony.campaign.contacts import parse_contacts  # noqa: E402
from voiceflow.telephony.campaign.runner import CampaignRunner  # noqa: E402
from voiceflow.telephony.campaign.store import CampaignSpec, CampaignStore  # noqa: E402
from voiceflow.telephony.pipeline import TelephonyPipeline  # noqa: E402
from voiceflow.telephony.service import TelephonyOptions  # noqa: E402
from voiceflow.testing.campaign_clock import run_on_virtual_clock  # noqa: E402
from voiceflow.testing.fakes.twilio_callee import Callee, fax_tone, tone  # noqa: E402
from voiceflow.testing.fakes.twilio_rest import FakeTwilio  # noqa: E402

ACCOUNT, TOKEN, CALLER_ID = "AC" + "b" * 32, "bench-token", "+12125550199"
NOON_CHICAGO = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)

HUMANS = ["Hello?", "Yes?", "Hi, this is Dana.", "Hello, who is this?", "Good morning.", "Speaking."]
MACHINES = [
    "Hi, you have reached Sam Carter. I can't take your call right now. Please leave a message after the tone.",  # noqa: E501
    "You have reached the Lopez family. We are not home. Leave your name and number and we will call you back.",  # noqa: E501
    "The person you are calling is not available. At the tone, please record your message.",
    "Hey, it's Jordan. Leave a message.",
]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def callee(i: int, hello: bytes) -> Callee:
    kind = i % 10
    if kind < 4:
        return Callee("human", script=(hello,), linger_s=2.0)
    if kind < 6:
        return Callee("busy")
    if kind < 8:
        return Callee("no_answer")
    return Callee("fax")


async def throughput(concurrency: int, contacts: int, hello: bytes) -> dict[str, float]:
    clock = VirtualClock(start=NOON_CHICAGO.timestamp())
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTwilio(ACCOUNT, TOKEN, clock=clock) as twilio:
            options = TelephonyOptions(ACCOUNT, TOKEN, CALLER_ID, "http://127.0.0.1:1", "127.0.0.1:1",
                                       api_url=twilio.url, amd="local")  # fmt: skip
            pipeline = TelephonyPipeline(echo_pipeline(Config()), options, Path(tmp) / "c.db", clock=clock)
            app = create_app(pipeline, Config.from_env({"TWILIO_AUTH_TOKEN": TOKEN}).server)
            async with serve_in_background(app) as server:
                assert pipeline.telephony is not None
                pipeline.telephony.rebase(server.http_url)
                numbers = [f"+1312555{1000 + i:04d}" for i in range(contacts)]
                for i, n in enumerate(numbers):
                    twilio.callees[n] = callee(i, hello)
                store = CampaignStore(pipeline.telephony.db)
                spec = CampaignSpec(f"bench-{concurrency}", CALLER_ID, max_concurrency=concurrency,
                                    calls_per_second=1000.0, max_attempts=1)  # fmt: skip
                campaign = await store.create(spec)
                await store.import_contacts(campaign.id, parse_contacts("phone\n" + "\n".join(numbers)))
                runner = CampaignRunner(campaign, store, pipeline.telephony, clock=clock)
                start = time.perf_counter()
                await run_on_virtual_clock(runner, clock, timeout=1800, step_s=0.005)
                elapsed = time.perf_counter() - start
                settled = sum(1 for c in await store.contacts(campaign.id) if c.status != "pending")
                await twilio.wait_idle()
    return {
        "contacts_per_min": 60 * settled / elapsed,
        "seconds": elapsed,
        "max_in_flight": runner.progress.max_in_flight,
        "fake_max_active": twilio.max_active,
    }


async def scheduler_overhead(contacts: int) -> dict[str, float]:
    """Time inside the runner's own steps per dial (not the REST call, not waiting for slots)."""
    spent: list[float] = []
    clock = VirtualClock(start=NOON_CHICAGO.timestamp())
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTwilio(ACCOUNT, TOKEN, clock=clock) as twilio:
            options = TelephonyOptions(ACCOUNT, TOKEN, CALLER_ID, "http://127.0.0.1:1", "127.0.0.1:1",
                                       api_url=twilio.url)  # fmt: skip
            pipeline = TelephonyPipeline(echo_pipeline(Config()), options, Path(tmp) / "c.db", clock=clock)
            app = create_app(pipeline, Config.from_env({"TWILIO_AUTH_TOKEN": TOKEN}).server)
            async with serve_in_background(app) as server:
                assert pipeline.telephony is not None
                pipeline.telephony.rebase(server.http_url)
                numbers = [f"+1312555{2000 + i:04d}" for i in range(contacts)]
                for n in numbers:
                    twilio.callees[n] = Callee("busy", ring_s=0.0)
                store = CampaignStore(pipeline.telephony.db)
                spec = CampaignSpec(
                    "overhead", CALLER_ID, max_concurrency=50, calls_per_second=1000.0, max_attempts=1
                )
                campaign = await store.create(spec)
                await store.import_contacts(campaign.id, parse_contacts("phone\n" + "\n".join(numbers)))
                runner = CampaignRunner(campaign, store, pipeline.telephony, clock=clock)

                def timed(fn: Any) -> Any:
                    async def wrapper(*args: Any, **kw: Any) -> Any:
                        t = time.perf_counter()
                        try:
                            return await fn(*args, **kw)
                        finally:
                            spent.append(time.perf_counter() - t)

                    return wrapper

                runner._rules = timed(runner._rules)  # type: ignore[method-assign]
                store.next_due = timed(store.next_due)  # type: ignore[method-assign]
                store.claim = timed(store.claim)  # type: ignore[method-assign]
                await run_on_virtual_clock(runner, clock, timeout=600, step_s=0.005)
                await twilio.wait_idle()
    dials = len(runner.progress.events)
    return {"scheduler_ms_per_dial": 1000 * sum(spent) / max(1, dials), "dials": dials}


def amd_times(quick: bool) -> dict[str, Any]:
    def run(pcm: bytes) -> tuple[list[Any], float, float]:
        line = from_phone_line(to_phone_line(pcm), 16000)
        detector = LocalAmd(16000)
        out = []
        t = time.perf_counter()
        for i in range(0, len(line), 640):
            r = detector.feed(line[i : i + 640])
            if r is not None:
                out.append(r)
        return out, time.perf_counter() - t, len(line) / 32000

    silence = bytes(2 * 16000 * 3)
    human, machine, beep_end, fax, cpu, audio = [], [], [], [], 0.0, 0.0
    wrong = 0
    for text in HUMANS[: 3 if quick else None]:
        res, c, a = run(synthesize(text, 16000) + silence)
        cpu, audio = cpu + c, audio + a
        wrong += res[0].answered_by != "human"
        human.append(res[0].after_s)
    for text in MACHINES[: 2 if quick else None]:
        res, c, a = run(synthesize(text, 16000) + tone(1000, 0.5) + silence)
        cpu, audio = cpu + c, audio + a
        if res[0].answered_by != "machine_start":
            wrong += 1  # a short greeting followed by a pause looks like a person
            continue
        machine.append(res[0].after_s)
        if len(res) > 1:
            beep_end.append(res[1].after_s)
    for freq in (2100.0, 1100.0):
        res, c, a = run(tone(freq, 3.0) if freq == 1100.0 else fax_tone(3.0))
        cpu, audio = cpu + c, audio + a
        wrong += res[0].answered_by != "fax"
        fax.append(res[0].after_s)
    return {
        "amd_human_p50_s": pct(human, 0.5),
        "amd_human_p95_s": pct(human, 0.95),
        "amd_machine_p50_s": pct(machine, 0.5),
        "amd_machine_p95_s": pct(machine, 0.95),
        "amd_beep_end_p50_s": pct(beep_end, 0.5),
        "amd_beep_end_p95_s": pct(beep_end, 0.95),
        "amd_fax_p95_s": pct(fax, 0.95),
        "amd_cpu_us_per_audio_s": 1e6 * cpu / audio,
        "amd_wrong": wrong,
        "amd_cases": len(human) + len(MACHINES[: 2 if quick else None]) + len(fax),
    }


async def main(quick: bool) -> dict[str, Any]:
    hello = synthesize("Hello?", 16000)
    results: dict[str, Any] = {}
    contacts = 20 if quick else 40
    for concurrency in (1, 5, 20):
        r = await throughput(concurrency, contacts, hello)
        results[f"c{concurrency}_contacts_per_min"] = r["contacts_per_min"]
        results[f"c{concurrency}_max_in_flight"] = r["max_in_flight"]
    results.update(await scheduler_overhead(50 if quick else 200))
    results.update(amd_times(quick))
    return results


def table(r: dict[str, Any]) -> str:
    rows = [
        ("contacts per minute, concurrency 1 / 5 / 20",
         " / ".join(f"{r[f'c{c}_contacts_per_min']:.1f}" for c in (1, 5, 20))),
        ("most calls in flight at once (limit 1 / 5 / 20)",
         f"{r['c1_max_in_flight']} / {r['c5_max_in_flight']} / {r['c20_max_in_flight']}"),
        ("scheduler work per dial (next contact, DNC, hours, claim)", f"{r['scheduler_ms_per_dial']:.2f} ms"),
        ("local AMD, human: answer -> decision p50 / p95",
         f"{r['amd_human_p50_s']:.2f} / {r['amd_human_p95_s']:.2f} s"),
        ("local AMD, machine: answer -> decision p50 / p95",
         f"{r['amd_machine_p50_s']:.2f} / {r['amd_machine_p95_s']:.2f} s"),
        ("local AMD, machine: answer -> end of beep p50 / p95",
         f"{r['amd_beep_end_p50_s']:.2f} / {r['amd_beep_end_p95_s']:.2f} s"),
        ("local AMD, fax: answer -> decision p95", f"{r['amd_fax_p95_s']:.2f} s"),
        ("local AMD CPU per second of audio", f"{r['amd_cpu_us_per_audio_s']:.0f} µs"),
        ("local AMD wrong answers", f"{r['amd_wrong']} of {r['amd_cases']}"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(main(args.quick))
    print(json.dumps(figures) if args.json else table(figures))
