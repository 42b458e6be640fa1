"""Scale-out: the session store on a real redis-server, and calls on one or two instances behind nginx.

Figures:

- session write / read latency p50 / p99 (``SessionStore.put`` / ``get``) to Redis;
- fallback switch time: Redis is SIGKILLed while a call writes every 5 ms; time from the
  kill to the store running from memory, the longest single write in that window, and
  the time from Redis's restart to every record written back;
- calls per instance, and through nginx (the shipped config) across two instances, for
  the echo pipeline and the offline agent: at each level all calls run at once over
  ``/ws`` (speech, then silence flowing like a phone line); voice-to-voice as the client
  sees it (last speech sent → first reply audio received, so it includes the pipeline's
  end-of-turn wait); "real time" = no outbound frame later than 40 ms behind its 20 ms
  pacing schedule, in any call.

    .venv/bin/python benchmarks/scale.py [--quick] [--json] [--no-offline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceflow.sessions import RedisBackend, SessionRecord, SessionStore  # noqa: E402
from voiceflow.testing.processes import (  # noqa: E402
    NginxServer,
    RedisServer,
    VoiceflowServer,
    free_port,
    local_nginx_config,
)

RATE = 16000
FRAME_S = 0.02
LATE_LIMIT_MS = 40.0


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# -- the store -----------------------------------------------------------------------------------
async def store_latency(n: int) -> dict[str, float]:
    with RedisServer() as redis_server:
        store = SessionStore("bench", RedisBackend(redis_server.url))
        await store.start()
        try:
            record = SessionRecord("c0", "bench", "websocket", "+15550100", started_at=time.time(), version=1)
            writes, reads = [], []
            for i in range(n):
                record = record.changed(time.time(), summary=f"{record.summary}caller: turn {i}\n")
                t0 = time.perf_counter()
                await store.put(record)
                writes.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                await store.get("c0")
                reads.append((time.perf_counter() - t0) * 1000)
            assert not store.degraded
        finally:
            await store.aclose()
    return {
        "session_write_p50_ms": pct(writes, 0.5), "session_write_p99_ms": pct(writes, 0.99),
        "session_read_p50_ms": pct(reads, 0.5), "session_read_p99_ms": pct(reads, 0.99),
    }  # fmt: skip


async def fallback_switch(rounds: int) -> dict[str, float]:
    switches, stalls, resyncs = [], [], []
    for _ in range(rounds):
        with RedisServer() as redis_server:
            store = SessionStore("bench", RedisBackend(redis_server.url))
            await store.start()
            record = SessionRecord("c0", "bench", "websocket", None, started_at=time.time(), version=1)
            worst = 0.0
            try:
                for _ in range(20):  # warm
                    record = record.changed(time.time(), summary="x")
                    await store.put(record)
                killed = time.perf_counter()
                redis_server.kill()
                while not store.degraded:
                    record = record.changed(time.time(), summary="y")
                    t0 = time.perf_counter()
                    await store.put(record)
                    worst = max(worst, time.perf_counter() - t0)
                    await asyncio.sleep(0.005)
                switches.append((time.perf_counter() - killed) * 1000)
                stalls.append(worst * 1000)
                for i in range(50):  # calls go on meanwhile
                    await store.put(SessionRecord(f"d{i}", "bench", "websocket", None, version=1))
                restarted = time.perf_counter()
                redis_server.start()
                while store.degraded:  # noqa: ASYNC110 (polls a real process's effect)
                    await asyncio.sleep(0.002)
                resyncs.append((time.perf_counter() - restarted) * 1000)
            finally:
                await store.aclose()
    return {
        "fallback_switch_ms": statistics.median(switches),
        "fallback_worst_write_ms": max(stalls),
        "resync_after_restart_ms": statistics.median(resyncs),
    }


# -- calls -----------------------------------------------------------------------------------------
@dataclass
class CallOutcome:
    late_ms: float = 0.0  # the worst frame's lateness behind its pacing schedule
    frames: int = 0
    v2v_ms: list[float] = field(default_factory=list)
    instance: str = ""
    ok: bool = False


def lateness(arrivals: list[float]) -> float:
    """Worst lag (ms) of any frame behind ``first + i * 20 ms`` within each burst of audio."""
    worst, start, index, last = 0.0, None, 0, None
    for t in arrivals:
        if start is None or last is None or t - last > 0.3:  # a new reply
            start, index = t, 0
        worst = max(worst, (t - (start + index * FRAME_S)) * 1000)
        index += 1
        last = t
    return worst


async def one_call(url: str, source: str, speech: bytes, greeting: bool) -> CallOutcome:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    out = CallOutcome()
    arrivals: list[float] = []
    events: list[dict[str, Any]] = []

    async def read(ws: Any) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    arrivals.append(time.monotonic())
                else:
                    events.append(json.loads(message))
        except ConnectionClosed:
            pass

    async def quiet(after_s: float, limit_s: float) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if arrivals and time.monotonic() - arrivals[-1] > after_s:
                return
            await asyncio.sleep(0.05)

    async with connect(url, local_addr=(source, 0), open_timeout=30) as ws:
        reader = asyncio.create_task(read(ws))
        try:
            await ws.send(json.dumps({"type": "start", "caller": source}))
            if greeting:
                await quiet(0.6, 20)
            spoken = asyncio.Event()
            line = asyncio.create_task(talk(ws, speech, spoken))  # like a phone line: silence keeps flowing
            try:
                await spoken.wait()
                ended = time.monotonic()  # the last piece of speech has left
                deadline = ended + 30
                while not (arrivals and arrivals[-1] > ended) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
                reply = [t for t in arrivals if t > ended]
                if reply:
                    out.v2v_ms.append((reply[0] - ended) * 1000)
                await quiet(0.6, 20)
            finally:
                line.cancel()
                await asyncio.gather(line, return_exceptions=True)
            await ws.send(json.dumps({"type": "stop"}))
        finally:
            await asyncio.wait_for(reader, 10)
    out.frames = len(arrivals)
    out.late_ms = lateness(arrivals)
    out.ok = bool(out.v2v_ms) and out.frames > 0
    return out


async def talk(ws: Any, speech: bytes, spoken: asyncio.Event) -> None:
    """Send ``speech`` then silence at real time, 20 ms per message, until cancelled."""
    silence = bytes(640)
    start = time.monotonic()
    sent = 0
    while True:
        piece = speech[sent : sent + 640] or silence
        await asyncio.sleep(max(0.0, start + sent / (2 * RATE) - time.monotonic()))
        await ws.send(piece)
        sent += 640
        if sent >= len(speech):
            spoken.set()


def tone_speech(seconds: float = 0.8) -> bytes:
    import numpy as np

    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * 440 * t) * 9000).astype("<i2").tobytes()


async def run_level(url: str, n: int, speech: bytes, greeting: bool) -> dict[str, Any]:
    # distinct /24s so ip_hash spreads the clients (it keys on the first three octets)
    results = await asyncio.gather(
        *(one_call(url, f"127.0.{i + 1}.1", speech, greeting) for i in range(n)), return_exceptions=True
    )
    done = [r for r in results if isinstance(r, CallOutcome) and r.ok]
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    v2v = [v for r in done for v in r.v2v_ms]
    worst = max((r.late_ms for r in done), default=float("nan"))
    return {
        "calls": n, "completed": len(done), "errors": errors[:3],
        "v2v_p50_ms": pct(v2v, 0.5), "v2v_p95_ms": pct(v2v, 0.95),
        "worst_late_ms": worst, "real_time": len(done) == n and worst <= LATE_LIMIT_MS,
    }  # fmt: skip


async def calls_section(pipeline: str, direct_levels: list[int], nginx_levels: list[int]) -> dict[str, Any]:
    greeting = pipeline != "echo"
    speech = tone_speech() if pipeline == "echo" else _offline_speech()
    out: dict[str, Any] = {"one_instance": [], "nginx_two_instances": []}
    with RedisServer() as redis_server:
        env = {"VOICEFLOW_REDIS_URL": redis_server.url}
        agents = [VoiceflowServer(pipeline=pipeline, env=env | {"VOICEFLOW_INSTANCE_ID": f"i{i}"}, cwd=ROOT)
                  for i in range(2)]  # fmt: skip
        try:
            for agent in agents:
                agent.start(timeout_s=300)
            for n in direct_levels:
                out["one_instance"].append(
                    await run_level(f"ws://127.0.0.1:{agents[0].port}/ws", n, speech, greeting)
                )
            port = free_port()
            with NginxServer(
                local_nginx_config(
                    (ROOT / "deploy/nginx/nginx.conf").read_text(), port, [a.port for a in agents]
                )
            ) as nginx:
                nginx.start(port)
                for n in nginx_levels:
                    out["nginx_two_instances"].append(
                        await run_level(f"ws://127.0.0.1:{port}/ws", n, speech, greeting)
                    )
        finally:
            for agent in agents:
                agent.__exit__()
    for key in ("one_instance", "nginx_two_instances"):
        ok = [row["calls"] for row in out[key] if row["real_time"]]
        out[f"{key}_max_real_time_calls"] = max(ok, default=0)
    return out


def _offline_speech() -> bytes:
    import numpy as np

    from voiceflow.sim.speech import synthesize

    pcm = np.frombuffer(synthesize("Hi, where is my order one zero zero two?", RATE), dtype="<i2")
    voiced = np.flatnonzero(np.abs(pcm) > 300)
    return pcm[: voiced[-1] + 1].tobytes()  # trailing silence off: "speech sent" = voice ended


# -- report ------------------------------------------------------------------------------------------
def table(result: dict[str, Any]) -> str:
    lines = ["| measure | figure |", "| --- | --- |"]
    s = result["store"]
    w, r = (f"{s[f'session_{k}_p50_ms']:.3f} / {s[f'session_{k}_p99_ms']:.3f}" for k in ("write", "read"))
    lines.append(f"| session write p50 / p99 (ms) | {w} |")
    lines.append(f"| session read p50 / p99 (ms) | {r} |")
    f = result["fallback"]
    lines.append(f"| fallback switch after redis SIGKILL, median (ms) | {f['fallback_switch_ms']:.1f} |")
    lines.append(f"| longest write while switching (ms) | {f['fallback_worst_write_ms']:.1f} |")
    lines.append(f"| resync after redis restart, median (ms) | {f['resync_after_restart_ms']:.0f} |")
    for pipeline, section in result["calls"].items():
        for key, label in (("one_instance", "one instance"), ("nginx_two_instances", "nginx, two instances")):
            for row in section[key]:
                lines.append(
                    f"| {pipeline}, {label}, {row['calls']} calls: done, v2v p50/p95 (ms), worst late (ms) "
                    f"| {row['completed']}/{row['calls']}, {row['v2v_p50_ms']:.0f}/{row['v2v_p95_ms']:.0f}, "
                    f"{row['worst_late_ms']:.0f}{'' if row['real_time'] else ' (not real time)'} |"
                )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "store": await store_latency(300 if args.quick else 2000),
        "fallback": await fallback_switch(2 if args.quick else 5),
        "calls": {},
    }
    echo = ([2, 4], [4]) if args.quick else ([5, 10, 20, 40], [10, 20, 40, 80])
    result["calls"]["echo"] = await calls_section("echo", *echo)
    if not args.no_offline:
        offline = ([1], [2]) if args.quick else ([1, 2, 3, 4], [2, 4, 6])
        result["calls"]["offline"] = await calls_section("offline", *offline)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples and levels")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    parser.add_argument("--no-offline", action="store_true", help="echo pipeline only (no models)")
    args = parser.parse_args()
    result = asyncio.run(main(args))
    flat = {**result["store"], **result["fallback"]}
    for pipeline, section in result["calls"].items():
        for key in ("one_instance", "nginx_two_instances"):
            flat[f"{pipeline}_{key}_max_real_time_calls"] = section[f"{key}_max_real_time_calls"]
    print(json.dumps(flat | {"detail": result}, default=str) if args.json else table(result))
