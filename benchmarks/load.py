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
- the same N again with a flood alongside (malformed and abandoned offers, junk on
  ``/ws``, strangers on ``/twilio/media``, slow-header connections): ``flood_ok`` says
  whether every protected call still met the bar.

The caller side runs in this process and competes with the server for the same
cores; on a shared machine say so beside the figures.

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
#: the line each call's transport logs when it ends (voiceflow/transports/websocket/call.py)
ENDED = re.compile(
    r"call (?P<sid>CA\w+) ended: (?P<out>\d+) frames out, (?P<late>\d+) late, worst (?P<worst>\d+) ms"
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


class Server:
    """``voiceflow serve`` in its own process group, with its RSS summed over its processes."""

    def __init__(self, workers: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = os.environ | LIMITS | {"PYTHONPATH": str(ROOT), "VOICEFLOW_WORKERS": str(workers)}
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
        found = {}
        for m in ENDED.finditer(self.log_text()):
            found[m["sid"]] = (int(m["out"]), int(m["late"]), float(m["worst"]))
        return [found[sid] for sid in call_sids if sid in found]

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def rss_mb(self) -> float:
        procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running()) / 1e6

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
    try:
        async with TwilioMediaClient(server.ws, caller=caller) as client, PhoneLine(client) as line:
            out.call_sid = client.call_sid
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
    return out


async def level(server: Server, n: int, lines: list[tuple[bytes, int]], bar_ms: float) -> dict[str, Any]:
    peak = server.rss_mb()

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, server.rss_mb())
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    try:
        calls = await asyncio.gather(
            *(one_call(server, lines, f"+1555020{i:04d}", i * 0.3) for i in range(n))
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
    row["ok"] = row["missing_replies"] == 0 and row["v2v_max_ms"] <= bar_ms and row["max_frame_late_ms"] <= 20
    return row


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
    counts = {"offers": 0, "sockets": 0, "slow": 0, "unanswered_5s": 0}

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
        await flood(Target(port), stop, counts)

    asyncio.run(main())
    print(json.dumps(counts))
    return 0


async def flood(server: Any, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """Hostile traffic until ``stop``: bad and abandoned offers, junk sockets, strangers, slow heads."""
    from websockets.asyncio.client import connect

    async def offers() -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            token = (await http.get(f"{server.url}/token")).json()["token"]
            headers = {"content-type": "application/json", "x-voiceflow-token": token}
            bodies = [b"[" * 20000, b'{"sdp": "v=0\\r\\nbanana", "type": "offer"}', b"{}", b"\xff" * 300]
            while not stop.is_set():
                for body in bodies:
                    try:
                        await http.post(f"{server.url}/webrtc/offer", content=body, headers=headers)
                    except httpx.TimeoutException:
                        counts["unanswered_5s"] += 1  # a flood request the server took over 5 s to answer
                    counts["offers"] += 1
                    await asyncio.sleep(0.002)
                with contextlib.suppress(httpx.TimeoutException):
                    evil = {"origin": "https://evil.example"}
                    await http.post(f"{server.url}/webrtc/offer", content=b"{}", headers=evil)
                counts["offers"] += 1

    async def sockets() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                async with connect(server.ws.replace("/twilio/media", "/ws")) as ws:  # no token: refused
                    await ws.send("x")
            stranger = TwilioMediaClient(server.ws, webhook=False, caller="+15551230001")
            with contextlib.suppress(Exception):
                await stranger.connect()
                for junk in ("[" * 30000, "nope", '{"event": "media"}'):
                    await stranger.send_raw(junk)
                await stranger.wait_closed(timeout=2)
            await stranger.close()
            counts["sockets"] += 2

    async def slow_heads() -> None:
        held = []
        while not stop.is_set():
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(b"POST /twilio/voice HTTP/1.1\r\nHost: x\r\n")
                held.append(writer)
                counts["slow"] += 1
            await asyncio.sleep(0.05)
        for w in held:
            w.close()

    await asyncio.gather(offers(), sockets(), slow_heads())


async def measure(workers: int, max_calls: int, quick: bool) -> dict[str, Any]:
    lines = [(synthesize(t, 16000), 16000) for t in (LINES[:1] if quick else LINES)]
    server = Server(workers)
    fig: dict[str, Any] = {"workers": workers, "cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}
    try:
        await server.ready()
        await one_call(server, lines[:1], "+15550200000", 0)  # warm-up
        idle = server.rss_mb()
        fig["rss_idle_mb"] = idle
        single = [await one_call(server, lines, f"+155503{i:05d}", 0) for i in range(2 if quick else 3)]
        base = [v for c in single for v in c.v2v_ms]
        fig["single_v2v_p50_ms"] = pct(base, 0.5)
        fig["single_v2v_p95_ms"] = pct(base, 0.95)
        bar = 1.5 * fig["single_v2v_p95_ms"]
        fig["reply_bar_ms"] = bar
        rows, best, n = [], 1, 2
        while n <= max_calls:
            row = await level(server, n, lines, bar)
            rows.append(row)
            print(f"  {n} calls: {row}", file=sys.stderr)
            if row["ok"] and best >= n - 2:  # the highest level with every level below it passing too
                best = n
            n += 2
        fig["levels"] = rows
        fig["max_concurrent_calls"] = best
        fig["calls_per_core"] = best / min(workers, os.cpu_count() or 1)
        top = rows[-1]  # memory per call from the most calls measured
        fig["rss_per_live_call_mb"] = (top["rss_peak_mb"] - idle) / top["calls"]
        fig["rss_per_idle_peer_mb"] = await idle_peers(server)
        await asyncio.sleep(16)  # the idle peers time out (15 s connect deadline)
        flooder = start_flood(server.port)
        await asyncio.sleep(2.0)
        try:
            hostile = await level(server, max(best, 2), lines, bar)
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
    print(f"offline agent, {fig['workers']} worker process(es), {fig['cores']} cores, load avg {load:.1f}")
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
    ap.add_argument("--flood-port", type=int, default=None, help=argparse.SUPPRESS)  # the flood process
    a = ap.parse_args()
    if a.flood_port is not None:
        return run_flood(a.flood_port)
    fig = asyncio.run(measure(a.workers, a.max_calls, a.quick))
    if a.json:
        print(json.dumps(fig))
        return 0
    report(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
