"""How many simultaneous offline-agent calls one machine holds, and what a hostile flood does to them.

Starts ``voiceflow serve --pipeline offline --workers W`` as a separate process
(W defaults to the number of cores), then places real Twilio-style calls from
this process: the webhook (one-time stream token), the Media Streams socket, a
greeting, then scripted Piper lines at real time over the phone line. For each
level of N simultaneous calls it records, as the caller hears it, every reply's
voice-to-voice delay (last voiced frame sent -> first reply frame received) and
how late each agent frame arrived against its 20 ms schedule.

- ``max_concurrent_calls``: the highest N at which every reply came, within 1.5x
  the single-call voice-to-voice p95, and no agent frame was late by more than 20 ms;
- ``calls_per_core``: that over the cores the server may use;
- ``rss_per_live_call_mb``: the server's RSS (all its processes) at that level minus idle, per call;
- ``rss_per_idle_peer_mb``: the same for answered WebRTC offers that never connect;
- ``cpu_ms_per_call_second``: the server's CPU time (all its processes, from /proc
  through psutil) per second of live call, at each level: the load-independent cost
  of a call, so ``2000 / cpu_ms_per_call_second`` bounds the calls 2 cores can carry;
  ``caller_cpu_ms_per_call_second`` is the same for this process (the callers);
- ``loop_lag_p99_ms``: the server's event-loop lag p99 at each level (its
  ``voiceflow_event_loop_lag_seconds`` histogram), and ``stage_mean_ms``, where each
  turn's time went (``voiceflow_stage_seconds``);
- the same N again with a flood alongside (malformed and abandoned offers, junk on
  ``/ws``, strangers on ``/twilio/media``, slow-header connections): ``flood_ok`` says
  whether every protected call still met the bar; ``flood.sent.unanswered_5s`` counts
  flood requests the server took over 5 s to answer, and ``flood.sent.cpu_ms_per_s`` the flood
  sender's own CPU (1000 is a whole core: on one machine it competes with the server for it).

The callers send pre-synthesized mu-law (synthesized and encoded once, before the
first level) and only parse what they receive; they still run on the same cores
as the server, so on a shared machine say so beside the figures. ``--profile``
samples the workers with py-spy during the highest level and splits their busy
time by component (``cpu_split``). The agent's replies repeat across calls (seven
orders, one hours answer), so after the first calls most come from the server's
synthesis cache, as set answers would in a call centre; ``--no-tts-cache`` makes the
server synthesize every reply.

    PYTHONPATH=. .venv/bin/python benchmarks/load.py [--workers W] [--max-calls N] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voiceflow.sim.phone_line import PhoneLine  # noqa: E402
from voiceflow.sim.speech import synthesize  # noqa: E402
from voiceflow.sim.twilio_client import TwilioMediaClient  # noqa: E402

LINES = ["Hi, where is my order one zero zero two?", "What time do you close on Saturday?"]
DIGITS = "zero one two three four five six seven eight nine".split()
#: callers ask about different orders, so the agent's replies differ from call to call (no cached
#: answer); these are the orders whose spoken number pocketsphinx hears at once on the phone line
#: (others, e.g. 1006, send the agent asking again: a recognition delay, not a load one); the
#: single-call bar is measured over all of them
ORDER_IDS = (1003, 1004, 1005, 1007, 1009, 1010, 1011)
ORDERS = len(ORDER_IDS)


def order_line(i: int) -> str:
    n = ORDER_IDS[i % ORDERS]
    return f"Hi, where is my order {' '.join(DIGITS[int(d)] for d in str(n))}?"


Script = list[tuple[bytes, int]]
#: the line each call's transport logs when it ends (voiceflow/transports/websocket/call.py)
ENDED = re.compile(
    r"call (?P<sid>CA[\w\[\]]+) ended: (?P<out>\d+) frames out, (?P<late>\d+) late, worst (?P<worst>\d+) ms"
)
LIMITS = {  # every benchmark call comes from 127.0.0.1: lift the per-address bounds, keep a total
    "VOICEFLOW_MAX_CALLS": "64",
    "VOICEFLOW_MAX_CALLS_PER_ADDRESS": "64",
    "VOICEFLOW_MAX_PENDING_OFFERS": "64",
}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def lateness_ms(arrivals: list[float], gap_s: float = 0.2) -> list[float]:
    """How late each agent frame arrived against a 20 ms schedule set by its burst's first frame."""
    late, start, prev, i = [], 0.0, None, 0
    for at in arrivals:
        if prev is None or at - prev > gap_s:
            start, i = at, 0
        late.append(max(0.0, (at - (start + i * 0.02)) * 1000.0))
        prev, i = at, i + 1
    return late


@dataclass
class CallOutcome:
    v2v_ms: list[float] = field(default_factory=list)
    late_ms: list[float] = field(default_factory=list)
    missing: int = 0
    error: str | None = None
    call_sid: str = ""
    seconds: float = 0.0  # socket open to closed


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def lag_p99_ms(before: dict[Any, float], after: dict[Any, float]) -> float:
    """p99 of the event-loop lag between two scrapes (interpolated within its histogram bucket)."""
    name = "voiceflow_event_loop_lag_seconds_bucket"
    buckets = sorted(
        (float(dict(labels)["le"]), after[(n, labels)] - before.get((n, labels), 0.0))
        for (n, labels) in after
        if n == name
    )
    if not buckets or buckets[-1][1] <= 0:
        return float("nan")
    target, lo_edge, lo_count = 0.99 * buckets[-1][1], 0.0, 0.0
    for edge, count in buckets:
        if count >= target:
            if edge == float("inf"):
                return lo_edge * 1000
            return (lo_edge + (edge - lo_edge) * (target - lo_count) / max(count - lo_count, 1e-9)) * 1000
        lo_edge, lo_count = edge, count
    return float("nan")


def stage_means_ms(before: dict[Any, float], after: dict[Any, float]) -> dict[str, float]:
    """Mean milliseconds of each turn stage between two scrapes."""
    out = {}
    for (name, labels), total in after.items():
        if name != "voiceflow_stage_seconds_sum":
            continue
        count_key = ("voiceflow_stage_seconds_count", labels)
        n = after.get(count_key, 0.0) - before.get(count_key, 0.0)
        if n > 0:
            out[dict(labels)["stage"]] = round((total - before.get((name, labels), 0.0)) / n * 1000, 1)
    return out


class Server:
    """``voiceflow serve`` in its own process group, with its RSS summed over its processes."""

    def __init__(self, workers: int, max_calls: int = 24, tts_cache: bool = True) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = os.environ | LIMITS | {"PYTHONPATH": str(ROOT), "VOICEFLOW_WORKERS": str(workers)}
        # as an operator would: each worker builds its share of the recognizers before the first call
        env["VOICEFLOW_PREWARM_CALLS"] = str(-(-max_calls // workers) + 1)
        if not tts_cache:  # every reply synthesized, even one said before
            env["VOICEFLOW_TTS_CACHE_MB"] = "0"
        cmd = [sys.executable, "-m", "voiceflow.cli", "serve", "--pipeline", "offline",
               "--port", str(self.port), "--log-level", "info"]  # fmt: skip
        self.log = tempfile.NamedTemporaryFile(prefix="voiceflow-load-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=self.log)  # fmt: skip
        self.workers = workers
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/twilio/media"

    async def ready(self, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log_text()[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{self.url}/healthz", timeout=2)).status_code == 200:
                        kids = psutil.Process(self.proc.pid).children(recursive=True)
                        if self.workers == 1 or len(kids) >= self.workers:
                            await asyncio.sleep(3 if self.workers > 1 else 0)  # the other workers' prepare
                            return
                if time.monotonic() > deadline:
                    raise TimeoutError("server did not come up")
                await asyncio.sleep(0.5)

    def lateness(self, call_sids: set[str]) -> list[tuple[int, int, float]]:
        """(frames out, frames late, worst ms late) each of these calls logged at its end (server side)."""
        from voiceflow.security.redaction import Redactor

        found = {}
        for m in ENDED.finditer(self.log_text()):
            found[m["sid"]] = (int(m["out"]), int(m["late"]), float(m["worst"]))
        redact = Redactor().redact  # the log redacts digit runs that look like phone numbers, SIDs too
        return [found[s] for sid in call_sids if (s := sid if sid in found else redact(sid)) in found]

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def procs(self) -> list[psutil.Process]:
        return [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]

    def rss_mb(self) -> float:
        return sum(p.memory_info().rss for p in self.procs() if p.is_running()) / 1e6

    def cpu_s(self) -> float:
        """CPU seconds (user + system, every thread) the server's processes have used so far."""
        total = 0.0
        for p in self.procs():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    async def metrics(self) -> dict[Any, float]:
        """The server's metrics (empty when it will not say: under a flood from this address, a 429)."""
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(10):
                with contextlib.suppress(httpx.TransportError):
                    r = await http.get(f"{self.url}/metrics")
                    if r.status_code == 200:
                        return metric_samples(r.text)
                await asyncio.sleep(0.5)
        return {}

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


async def one_call(server: Server, lines: list[tuple[bytes, int]], caller: str, delay: float) -> CallOutcome:
    out = CallOutcome()
    await asyncio.sleep(delay)
    opened = time.monotonic()
    try:
        async with TwilioMediaClient(server.ws, caller=caller) as client, PhoneLine(client) as line:
            out.call_sid = client.call_sid
            opened = time.monotonic()
            await client.wait_for_reply(timeout=30)  # the greeting
            for pcm, rate in lines:
                spoken = await line.say(pcm, rate)
                try:
                    reply = await client.wait_for_reply(after=spoken.voiced_end_at, timeout=20)
                    out.v2v_ms.append((reply.started_at - spoken.voiced_end_at) * 1000)
                except TimeoutError:
                    out.missing += 1
            out.late_ms = lateness_ms([m.at for m in client.media])
    except Exception as exc:  # a refused or dropped call is a result, not a crash
        out.error = f"{type(exc).__name__}: {exc}"[:200]
        out.missing += len(lines)
    out.seconds = time.monotonic() - opened
    return out


async def level(server: Server, n: int, scripts: list[Script], bar_ms: float) -> dict[str, Any]:
    """``n`` calls at once, call ``i`` speaking ``scripts[i % len(scripts)]``."""
    peak = server.rss_mb()

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, server.rss_mb())
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    scrape0, cpu0, me0 = await server.metrics(), server.cpu_s(), _own_cpu_s()
    try:
        calls = await asyncio.gather(
            *(one_call(server, scripts[i % len(scripts)], f"+1555020{i:04d}", i * 0.3) for i in range(n))
        )
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    v2v = [v for c in calls for v in c.v2v_ms]
    late = [v for c in calls for v in c.late_ms]
    sids = {c.call_sid for c in calls if c.call_sid}
    for _ in range(40):  # each call logs its line once its run has drained
        server_late = server.lateness(sids)
        if len(server_late) == len(sids):
            break
        await asyncio.sleep(0.5)
    row: dict[str, Any] = {
        "calls": n,
        "v2v_p50_ms": pct(v2v, 0.5),
        "v2v_max_ms": max(v2v) if v2v else float("nan"),
        "max_frame_late_ms": max(w for _, _, w in server_late) if len(server_late) == n else float("nan"),
        "late_frames": sum(late for _, late, _ in server_late),
        "frames_out": sum(out for out, _, _ in server_late),
        "client_max_frame_late_ms": max(late) if late else float("nan"),
        "missing_replies": sum(c.missing for c in calls),
        "errors": [c.error for c in calls if c.error][:3],
        "rss_peak_mb": peak,
    }
    call_s = sum(c.seconds for c in calls)
    scrape1, cpu1, me1 = await server.metrics(), server.cpu_s(), _own_cpu_s()
    row["call_seconds"] = round(call_s, 1)
    row["cpu_ms_per_call_second"] = (cpu1 - cpu0) * 1000 / call_s if call_s else float("nan")
    row["caller_cpu_ms_per_call_second"] = (me1 - me0) * 1000 / call_s if call_s else float("nan")
    row["loop_lag_p99_ms"] = lag_p99_ms(scrape0, scrape1)
    row["stage_mean_ms"] = stage_means_ms(scrape0, scrape1)
    row["ok"] = row["missing_replies"] == 0 and row["v2v_max_ms"] <= bar_ms and row["max_frame_late_ms"] <= 20
    return row


#: where a sampled stack's time goes, by the first frame that names a component (else the event loop)
COMPONENTS = (
    ("tts (piper)", ("piper",)),
    ("turn model", ("smart_turn", "turn_audio")),
    ("stt (pocketsphinx/whisper)", ("pocketsphinx", "sphinx_", "whisper", "ctranslate2")),
    ("vad (silero)", ("silero",)),
    ("nlu", ("setfit", "/nlu/", "sentence_transformers")),
    ("resample/codecs", ("resample", "codecs", "soxr")),
    ("websocket + json", ("websockets", "json", "media_stream", "transports/twilio")),
)
IDLE = ("select (selectors", "wait (threading", "_worker (concurrent", "get (queue", "sleep")


async def profiled(server: Server, n: int, lines: list[Script], bar: float) -> dict[str, float]:
    """Share of the workers' busy samples per component while ``n`` calls talk (py-spy, 50 Hz)."""
    import collections

    workers = [p for p in server.procs() if p.pid != server.proc.pid] or server.procs()[:1]
    outs = [Path(tempfile.gettempdir()) / f"voiceflow-load-spy-{w.pid}.txt" for w in workers]
    spies = [start_spy(w.pid, out) for w, out in zip(workers, outs, strict=True)]
    await level(server, n, lines, bar)
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    shares: collections.Counter[str] = collections.Counter()
    for out in outs:
        for line in out.read_text().splitlines() if out.exists() else []:
            stack, _, count = line.rpartition(" ")
            if any(i in stack.rsplit(";", 1)[-1] for i in IDLE):
                continue
            where = next(
                (name for name, keys in COMPONENTS if any(k in stack for k in keys)), "event loop, other"
            )
            shares[where] += int(count)
    total = sum(shares.values()) or 1
    return {k: round(v / total, 3) for k, v in shares.most_common()}


def start_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    spy = str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "--pid", str(pid), "-r", "50", "-f", "raw", "-o", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _own_cpu_s() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


async def idle_peers(server: Server, k: int = 20) -> float:
    """RSS per answered-but-never-connected WebRTC offer (MB)."""
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    pc.createDataChannel("events")
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
    await pc.close()
    before = server.rss_mb()
    async with httpx.AsyncClient(timeout=30) as http:
        token = (await http.get(f"{server.url}/token")).json()["token"]
        for _ in range(k):
            r = await http.post(
                f"{server.url}/webrtc/offer", json=offer, headers={"x-voiceflow-token": token}
            )
            r.raise_for_status()
    await asyncio.sleep(1.0)
    return (server.rss_mb() - before) / k


@dataclass
class Target:
    """Where the flood process aims (the server's port)."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/twilio/media"


def start_flood(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, "--flood-port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip


def run_flood(port: int) -> int:
    """The flood as its own process (so it does not starve the callers' loop): until SIGINT, then counts."""
    counts = {"offers": 0, "sockets": 0, "slow": 0, "unanswered_5s": 0, "dropped": 0}

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
        await flood(Target(port), stop, counts)

    started = time.monotonic()
    asyncio.run(main())
    # the flood shares the cores with the server and the callers: what it took of them
    counts["cpu_ms_per_s"] = int(1000 * time.process_time() / (time.monotonic() - started))  # 1000: a core
    print(json.dumps(counts))
    return 0


#: the flood comes from its own address, as an attacker's would: the protected calls' webhook
#: and socket (127.0.0.1, standing in for Twilio) keep their own per-address rate limit
FLOOD_ADDRESS = "127.0.0.2"


async def flood(server: Any, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """Hostile traffic until ``stop``: bad and abandoned offers, junk sockets, strangers, slow heads."""
    from websockets.asyncio.client import connect

    src = (FLOOD_ADDRESS, 0)

    async def offers() -> None:
        transport = httpx.AsyncHTTPTransport(local_address=FLOOD_ADDRESS)
        async with httpx.AsyncClient(timeout=5, transport=transport) as http:
            token = (await http.get(f"{server.url}/token")).json()["token"]
            headers = {"content-type": "application/json", "x-voiceflow-token": token}
            bodies = [b"[" * 20000, b'{"sdp": "v=0\\r\\nbanana", "type": "offer"}', b"{}", b"\xff" * 300]
            while not stop.is_set():
                for body in bodies:
                    try:
                        r = await http.post(f"{server.url}/webrtc/offer", content=body, headers=headers)
                        counts[f"http_{r.status_code}"] = counts.get(f"http_{r.status_code}", 0) + 1
                    except httpx.TimeoutException:
                        counts["unanswered_5s"] += 1  # a flood request the server took over 5 s to answer
                    except httpx.TransportError:
                        counts["dropped"] += 1
                    counts["offers"] += 1
                    await asyncio.sleep(0.002)
                with contextlib.suppress(httpx.TimeoutException):
                    evil = {"origin": "https://evil.example"}
                    await http.post(f"{server.url}/webrtc/offer", content=b"{}", headers=evil)
                counts["offers"] += 1

    async def sockets() -> None:
        stranger_start = json.dumps({"event": "start", "start": {
            "streamSid": "MZ" + "0" * 32, "callSid": "CA" + "0" * 32, "accountSid": "AC" + "0" * 32,
            "customParameters": {"caller": "+15551230001"}, "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})  # fmt: skip
        while not stop.is_set():
            with contextlib.suppress(Exception):
                async with connect(server.ws.replace("/twilio/media", "/ws"), local_addr=src) as ws:
                    await ws.send("x")  # no token: refused
            with contextlib.suppress(Exception):  # a stranger claiming a customer's number, no token
                async with connect(server.ws, local_addr=src) as ws:
                    for junk in (stranger_start, "[" * 30000, "nope", '{"event": "media"}'):
                        await ws.send(junk)
                    await asyncio.wait_for(ws.wait_closed(), 2)
            counts["sockets"] += 2

    async def slow_heads() -> None:
        held = []
        while not stop.is_set():
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=src)
                writer.write(b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\n")
                held.append(writer)
                counts["slow"] += 1
            await asyncio.sleep(0.05)
        for w in held:
            w.close()

    await asyncio.gather(offers(), sockets(), slow_heads())


async def measure(
    workers: int, max_calls: int, quick: bool, profile: bool = False, tts_cache: bool = True
) -> dict[str, Any]:
    # every line synthesized once, before the server starts: the callers only send mu-law
    rest = [(synthesize(t, 16000), 16000) for t in LINES[1 : 2 if not quick else 1]]
    scripts = [[(synthesize(order_line(i), 16000), 16000), *rest] for i in range(ORDERS)]
    server = Server(workers, max_calls, tts_cache)
    fig: dict[str, Any] = {"workers": workers, "cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
                           "tts_cache": tts_cache}  # fmt: skip
    try:
        await server.ready()
        await one_call(server, scripts[-1][:1], "+15550200000", 0)  # warm-up
        idle = server.rss_mb()
        fig["rss_idle_mb"] = idle
        # the bar: one call at a time over every script (replies to some orders take longer anyway)
        solo = range(2 if quick else ORDERS)
        single = [await one_call(server, scripts[i], f"+155503{i:05d}", 0) for i in solo]
        base = [v for c in single for v in c.v2v_ms]
        fig["single_v2v_p50_ms"] = pct(base, 0.5)
        fig["single_v2v_p95_ms"] = pct(base, 0.95)
        bar = 1.5 * fig["single_v2v_p95_ms"]
        fig["reply_bar_ms"] = bar
        rows, best, n = [], 1, 2
        while n <= max_calls:
            row = await level(server, n, scripts, bar)
            rows.append(row)
            print(f"  {n} calls: {row}", file=sys.stderr)
            if row["ok"] and best >= n - 2:  # the highest level with every level below it passing too
                best = n
            n += 2
        fig["levels"] = rows
        fig["max_concurrent_calls"] = best
        fig["calls_per_core"] = best / min(workers, os.cpu_count() or 1)
        top = rows[-1]  # memory and CPU per call from the most calls measured
        fig["rss_per_live_call_mb"] = (top["rss_peak_mb"] - idle) / top["calls"]
        fig["cpu_ms_per_call_second"] = top["cpu_ms_per_call_second"]
        fig["caller_cpu_ms_per_call_second"] = top["caller_cpu_ms_per_call_second"]
        fig["loop_lag_p99_ms"] = top["loop_lag_p99_ms"]
        if profile:
            fig["cpu_split"] = await profiled(server, top["calls"], scripts, bar)
        fig["rss_per_idle_peer_mb"] = await idle_peers(server)
        await asyncio.sleep(16)  # the idle peers time out (15 s connect deadline)
        flooder = start_flood(server.port)
        await asyncio.sleep(2.0)
        try:
            hostile = await level(server, max(best, 2), scripts, bar)
        finally:
            flooder.send_signal(signal.SIGINT)
            counts = json.loads(flooder.communicate(timeout=60)[0] or "{}")
        fig["flood"] = hostile | {"sent": counts}
        fig["flood_ok"] = hostile["ok"]
        fig["flood_v2v_max_ms"] = hostile["v2v_max_ms"]
    finally:
        server.stop()
    return fig


def report(fig: dict[str, Any]) -> None:
    """The table (the --json object holds the same figures)."""
    load = fig["load_avg_1m"]
    cache = "on" if fig["tts_cache"] else "off"
    print(f"offline agent, {fig['workers']} worker process(es), {fig['cores']} cores, load avg {load:.1f},",
          f"TTS cache {cache}")  # fmt: skip
    p50, p95, bar = fig["single_v2v_p50_ms"], fig["single_v2v_p95_ms"], fig["reply_bar_ms"]
    print(
        f"single call voice-to-voice p50/p95 {p50:.0f} / {p95:.0f} ms; every reply must come within {bar:.0f}"
    )
    heads = ("calls", "v2v p50", "v2v max", "late max", "late/out", "missing", "RSS MB")
    print("{:>6} {:>8} {:>8} {:>9} {:>12} {:>8} {:>8}  ok".format(*heads))
    for r in fig["levels"]:
        cells = (r["calls"], r["v2v_p50_ms"], r["v2v_max_ms"], r["max_frame_late_ms"])
        frames = f"{r['late_frames']}/{r['frames_out']}"
        print("{:>6} {:>8.0f} {:>8.0f} {:>9.1f}".format(*cells), f"{frames:>12} {r['missing_replies']:>8}",
              f"{r['rss_peak_mb']:>8.0f}  {r['ok']}")  # fmt: skip
    print(f"max_concurrent_calls {fig['max_concurrent_calls']}, calls per core {fig['calls_per_core']:.1f}")
    for r in fig["levels"]:
        cpu, caller = r["cpu_ms_per_call_second"], r["caller_cpu_ms_per_call_second"]
        print(f"  {r['calls']:>3} calls: server CPU {cpu:.0f} ms per call-second (callers {caller:.0f}),",
              f"loop lag p99 {r['loop_lag_p99_ms']:.1f} ms, stage means {r['stage_mean_ms']}")  # fmt: skip
    if fig.get("cpu_split"):
        print("where the workers' busy time went:", fig["cpu_split"])
    live, idle = fig["rss_per_live_call_mb"], fig["rss_per_idle_peer_mb"]
    print(f"RSS idle {fig['rss_idle_mb']:.0f} MB, per live call {live:.1f} MB, per idle peer {idle:.2f} MB")
    f = fig["flood"]
    print(
        f"with a flood {f['sent']}: {f['calls']} calls, v2v max {f['v2v_max_ms']:.0f} ms,",
        f"late max {f['max_frame_late_ms']:.1f} ms, missing {f['missing_replies']}, ok {fig['flood_ok']}",
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server processes (cores)")
    ap.add_argument("--max-calls", type=int, default=24, help="highest level to try")
    ap.add_argument("--quick", action="store_true", help="one line per call, fewer single-call runs")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", action="store_true", help="py-spy the workers at the top level (cpu_split)")
    ap.add_argument("--no-tts-cache", action="store_true", help="synthesize every reply")
    ap.add_argument("--flood-port", type=int, default=None, help=argparse.SUPPRESS)  # the flood process
    a = ap.parse_args()
    if a.flood_port is not None:
        return run_flood(a.flood_port)
    fig = asyncio.run(measure(a.workers, a.max_calls, a.quick, a.profile, not a.no_tts_cache))
    if a.json:
        print(json.dumps(fig))
        return 0
    report(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
