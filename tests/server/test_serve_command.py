"""``voiceflow serve``: pipeline lookup, the CLI, and a real server process answering."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipelines import echo as echo_pipeline
from voiceflow.cli import build_parser
from voiceflow.commands.serve import PipelineNotFound, resolve_pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_pipelines_are_found_by_name() -> None:
    assert resolve_pipeline("echo") is echo_pipeline.build
    assert resolve_pipeline("pipelines.echo:build") is echo_pipeline.build
    with pytest.raises(PipelineNotFound, match=r"no pipeline 'nope'.*available: .*echo"):
        resolve_pipeline("nope")
    with pytest.raises(PipelineNotFound, match="has no callable"):
        resolve_pipeline("pipelines.echo:missing")


def test_serve_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.pipeline) == ("127.0.0.1", 8000, "offline")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_a_server_process() -> None:
    port = free_port()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "voiceflow.cli", "serve", "--pipeline", "echo", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not come up: {proc.communicate()[0]}") from None
                time.sleep(0.2)
        assert health["status"] == "ok"
        twiml = httpx.post(f"http://127.0.0.1:{port}/twilio/voice", data={"CallSid": "CA1"}).text
        assert f"wss://127.0.0.1:{port}/twilio/media" in twiml
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0, output


def test_unknown_pipeline_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["serve", "--pipeline", "nope"])
    assert args.func(args) == 2
    assert "no pipeline 'nope'" in capsys.readouterr().out


async def test_app_runs_the_pipeline_startup_and_shutdown_hooks() -> None:
    from pipelines.echo import build
    from voiceflow.commands.serve import serve_in_background
    from voiceflow.server.app import create_app

    events: list[str] = []

    async def startup() -> None:
        events.append("prepared")

    async def shutdown() -> None:
        events.append("shut down")

    app = create_app(build, startup=startup, shutdown=shutdown, routes=("voiceflow.server.health",))
    async with serve_in_background(app):
        assert events == ["prepared"]
    assert events == ["prepared", "shut down"]
