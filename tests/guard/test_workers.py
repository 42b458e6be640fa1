"""``voiceflow serve --workers 2``: two processes on one port, one secret, one one-time token store.

Calls whose webhook lands on one worker and whose media socket lands on the
other are admitted; a token used on one worker is refused on every worker. The
call bound is the server's, not a worker's; a worker killed while holding calls
gives back its slots and its live-call gauge once its replacement starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from tests.server.test_serve_command import free_port
from voiceflow.sim.twilio_client import TwilioMediaClient

ROOT = Path(__file__).resolve().parents[2]


async def test_two_worker_processes_share_the_port_and_the_token_store() -> None:
    port = free_port()
    proc = _start(port)
    try:
        deadline = time.monotonic() + 60
        while len(psutil.Process(proc.pid).children(recursive=True)) < 2 or not _up(port):
            assert proc.poll() is None and time.monotonic() < deadline, "workers did not come up"
            await asyncio.sleep(0.2)
        url = f"ws://127.0.0.1:{port}/twilio/media"
        tokens = []
        for _ in range(8):  # the kernel spreads these over both workers
            async with TwilioMediaClient(url) as call:
                await call.send_silence(0.1, realtime=False)
                assert not call.closed, f"closed with {call.close_code}"
                tokens.append((call.call_sid, call.caller, call.custom_parameters["token"]))
        for call_sid, caller, token in tokens[:4]:
            replay = TwilioMediaClient(url, call_sid=call_sid, caller=caller, webhook=False,
                                       custom_parameters={"token": token})  # fmt: skip
            await replay.connect()
            assert await replay.wait_closed(timeout=5) == 1008, "a used token is refused by every worker"
            await replay.close()
        while _calls_total(port) < 8:  # /metrics, from whichever worker answers, counts every worker's calls
            assert time.monotonic() < deadline + 30, f"metrics count {_calls_total(port)} of 8 calls"
            await asyncio.sleep(0.2)
    finally:
        output = _stop(proc)
    assert "Traceback" not in output, output


async def test_the_call_bound_is_the_server_s_and_a_killed_worker_gives_its_calls_back() -> None:
    port = free_port()
    proc = _start(port, VOICEFLOW_MAX_CALLS="3")
    calls: list[TwilioMediaClient] = []
    try:
        await _until_up(proc, port)
        url = f"ws://127.0.0.1:{port}/twilio/media"
        for _ in range(3):
            calls.append(await _open(url))
            assert not calls[-1].closed
        for _ in range(4):  # wherever the kernel sends them, the server holds 3 calls
            extra = await _open(url)
            assert await extra.wait_closed(timeout=5) == 1013
            await extra.close()
        assert _gauge(port, "voiceflow_calls_active") == 3
        workers = psutil.Process(proc.pid).children(recursive=True)
        ports = {c._ws.local_address[1] for c in calls if c._ws is not None}
        victim = next(w for w in workers if _serves(w, ports))
        victim.kill()  # SIGKILL: nothing of its own cleanup runs
        victim.wait(10)
        deadline = time.monotonic() + 60
        while len(psutil.Process(proc.pid).children(recursive=True)) < 2 or not _up(port):
            assert time.monotonic() < deadline, "the supervisor did not replace the killed worker"
            await asyncio.sleep(0.2)
        for call in calls:
            with contextlib.suppress(TimeoutError):
                await call.wait_closed(timeout=0.5)
        alive = [c for c in calls if not c.closed]
        assert len(alive) < 3
        assert _gauge(port, "voiceflow_calls_active") == len(alive), "the dead worker's calls still count"
        for _ in range(3 - len(alive)):  # its slots are free again ...
            calls.append(await _open(url))
            assert not calls[-1].closed
        extra = await _open(url)  # ... and the bound still holds
        assert await extra.wait_closed(timeout=5) == 1013
        await extra.close()
    finally:
        for call in calls:
            await call.close()
        output = _stop(proc)
    assert "Traceback" not in output, output


async def _open(url: str) -> TwilioMediaClient:
    call = TwilioMediaClient(url)
    await call.connect()
    await call.send_silence(0.1, realtime=False)
    with contextlib.suppress(TimeoutError):
        await call.wait_closed(timeout=0.3)
    return call


def _serves(worker: psutil.Process, client_ports: set[int]) -> bool:
    return any(c.raddr and c.raddr.port in client_ports for c in worker.net_connections("tcp"))


async def _until_up(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while len(psutil.Process(proc.pid).children(recursive=True)) < 2 or not _up(port):
        assert proc.poll() is None and time.monotonic() < deadline, "workers did not come up"
        await asyncio.sleep(0.2)


def _gauge(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def _start(port: int, **env_extra: str) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)} | env_extra
    env.pop("VOICEFLOW_SECRET", None)  # the parent makes one for its workers
    cmd = [sys.executable, "-m", "voiceflow.cli", "serve", "--pipeline", "echo", "--port", str(port),
           "--workers", "2", "--log-level", "warning"]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=30)[0]


def _calls_total(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "voiceflow_calls_total" and sample.labels.get("transport") == "twilio"
    )


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
