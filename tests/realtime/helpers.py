"""The realtime agent served for real: the app, the fake Realtime server, a fresh SQLite file per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.realtime import RealtimePipeline
from voiceflow.calls import CallRegistry
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import Config
from voiceflow.processors.realtime import RealtimeProcessor
from voiceflow.server.app import create_app
from voiceflow.sim.scripted_call import CallWatchers
from voiceflow.sim.twilio_client import ReceivedMedia
from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer


@dataclass
class RealtimeAgent:
    server: RunningServer
    watchers: CallWatchers
    fake: FakeRealtimeServer
    pipeline: RealtimePipeline
    db_path: Path
    calls: CallRegistry

    @property
    def url(self) -> str:
        return self.server.ws_url("/twilio/media")

    def realtime(self, call_id: str) -> RealtimeProcessor:
        """The live call's Realtime node."""
        node = self.calls.calls[call_id].run.node("realtime")
        assert isinstance(node, RealtimeProcessor)
        return node


def realtime_pipeline(tmp_path: Path, fake: FakeRealtimeServer) -> RealtimePipeline:
    """The realtime pipeline pointed at ``fake``, its data (SQLite, memory) in ``tmp_path``."""
    env = {
        "VOICEFLOW_DATA_DIR": str(tmp_path),
        "OPENAI_API_KEY": "test-key",
        "VOICEFLOW_OPENAI_URL": fake.base_url,
    }
    return RealtimePipeline(Config.from_env(env))


@asynccontextmanager
async def realtime_agent(
    tmp_path: Path, fake: FakeRealtimeServer, **env: str
) -> AsyncIterator[RealtimeAgent]:
    config = Config.from_env(
        {
            "VOICEFLOW_DATA_DIR": str(tmp_path),
            "OPENAI_API_KEY": fake.api_key or "any-key",
            "VOICEFLOW_OPENAI_URL": fake.base_url,
            **env,
        }
    )
    pipeline = RealtimePipeline(config)
    app = create_app(pipeline, config.server)
    watchers = CallWatchers(app.state.voiceflow.calls)
    async with serve_in_background(app, startup_timeout_s=600) as server:
        registry = app.state.voiceflow.calls
        yield RealtimeAgent(server, watchers, fake, pipeline, tmp_path / "voiceflow.db", registry)


def played_ms(media: list[ReceivedMedia], clear_at: float) -> float:
    """Ms of ``media`` the simulated phone played before a clear at ``clear_at`` (its own play clock)."""
    total = 0.0
    for m in media:
        if m.play_start >= clear_at:
            break
        total += min(m.seconds, clear_at - m.play_start) * 1000
    return total


async def eventually(check: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait (polling the loop) until ``check()`` is truthy; TimeoutError naming ``what`` otherwise."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                if check():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}") from None
