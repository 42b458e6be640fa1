"""``voiceflow serve``: pipeline loading, settings from the environment, the CLI, a real server process."""

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
from voiceflow.calls import CallContext
from voiceflow.cli import build_parser
from voiceflow.commands.serve import PipelineNotFound, load_pipeline, serve_in_background, server_settings
from voiceflow.config import Config
from voiceflow.graphs import Graph
from voiceflow.pipeline import Pipeline, Stateless
from voiceflow.processors import Processor
from voiceflow.server.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def test_pipelines_are_loaded_by_name() -> None:
    config = Config()
    echo = load_pipeline("echo", config)
    assert echo == Stateless(echo_pipeline.build)
    assert load_pipeline("pipelines.echo:pipeline", config) == echo
    offline = load_pipeline("offline", config)  # constructing loads nothing: prepare() does
    assert isinstance(offline, Pipeline) and type(offline).__name__ == "OfflinePipeline"
    assert offline.config is config  # type: ignore[attr-defined]
    available = r"available: (\w+, )*cloud, echo, offline, realtime(, \w+)*$"
    with pytest.raises(PipelineNotFound, match=r"no pipeline 'nope'.*" + available):
        load_pipeline("nope", config)
    with pytest.raises(PipelineNotFound, match=r"pipelines.echo has no missing\(config\)"):
        load_pipeline("pipelines.echo:missing", config)
    with pytest.raises(PipelineNotFound, match=r"not_a_pipeline\(config\) returned str, which lacks"):
        load_pipeline(f"{__name__}:not_a_pipeline", config)


def not_a_pipeline(config: Config) -> str:
    return "a graph, maybe"


def test_serve_takes_its_settings_from_the_environment_and_flags_win() -> None:
    parser = build_parser()
    config = Config.from_env(
        {"VOICEFLOW_HOST": "0.0.0.0", "VOICEFLOW_PORT": "9000", "TWILIO_AUTH_TOKEN": "t"}
    )
    args = parser.parse_args(["serve"])
    assert args.pipeline == "offline"
    settings = server_settings(args, config)
    assert (settings.host, settings.port, settings.twilio_auth_token) == ("0.0.0.0", 9000, "t")
    assert server_settings(args, Config()).port == 8000
    args = parser.parse_args(["serve", "--port", "9100", "--public-host", "agent.example.com"])
    settings = server_settings(args, config)
    assert (settings.host, settings.port, settings.public_host) == ("0.0.0.0", 9100, "agent.example.com")


def test_a_bad_setting_stops_serve_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICEFLOW_PORT", "eighty")
    monkeypatch.setenv("VOICEFLOW_LLM_BASE_URL", "localhost:8080")
    args = build_parser().parse_args(["serve", "--pipeline", "echo"])
    assert args.func(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "voiceflow serve: VOICEFLOW_PORT='eighty' is not an integer",
        "voiceflow serve: VOICEFLOW_LLM_BASE_URL='localhost:8080' is not an http(s):// URL",
    ]


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


class Recording:
    """A pipeline that records its phases (and can fail to prepare)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[str] = []

    async def prepare(self) -> None:
        self.events.append("prepare")
        if self.fail:
            raise RuntimeError("no model")

    def build(self, ctx: CallContext, input: Processor, output: Processor) -> Graph:
        self.events.append(f"build {ctx.call_id}")
        return echo_pipeline.build(ctx, input, output)

    async def shutdown(self) -> None:
        self.events.append("shutdown")


async def test_the_app_lifespan_prepares_the_pipeline_and_shuts_it_down() -> None:
    pipeline = Recording()
    app = create_app(pipeline, routes=("voiceflow.server.health",))
    assert app.state.voiceflow.pipeline is pipeline
    async with serve_in_background(app) as server:
        assert pipeline.events == ["prepare"]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{server.http_url}/healthz")).json()["status"] == "ok"
    assert pipeline.events == ["prepare", "shutdown"]


async def test_a_failed_prepare_stops_startup_and_still_shuts_down() -> None:
    pipeline = Recording(fail=True)
    app = create_app(pipeline, routes=("voiceflow.server.health",))
    with pytest.raises(RuntimeError, match="uvicorn stopped during startup"):
        async with serve_in_background(app):
            pass
    assert pipeline.events == ["prepare", "shutdown"]


def test_a_bare_build_function_is_a_pipeline_without_shared_resources() -> None:
    app = create_app(echo_pipeline.build, routes=())
    assert app.state.voiceflow.pipeline == Stateless(echo_pipeline.build)
