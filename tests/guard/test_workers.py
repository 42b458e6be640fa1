"""``voiceflow serve --workers 2``: two processes on one port, one secret, one one-time token store.

Calls whose webhook lands on one worker and whose media socket lands on the
other are admitted; a token used on one worker is refused on every worker.
"""

from __future__ import annotations

import asyncio
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


def _start(port: int) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
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
