"""A running agent with telephony, and a fake Twilio that plays its calls (see ``LineEnv``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from voiceflow.calls import CallRegistry
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import Config
from voiceflow.core.clock import Clock
from voiceflow.pipeline import Pipeline
from voiceflow.server.app import create_app
from voiceflow.sim.scripted_call import CallWatchers
from voiceflow.telephony.pipeline import TelephonyPipeline
from voiceflow.telephony.service import Telephony, TelephonyOptions
from voiceflow.testing.fakes.twilio_rest import FakeTwilio

ACCOUNT = "AC" + "1" * 32
TOKEN = "fake-twilio-token"
CALLER_ID = "+12125550199"
BILLING = "+12125550142"
SUPPORT = "+12125550143"


@dataclass
class LineEnv:
    twilio: FakeTwilio
    server: RunningServer
    pipeline: TelephonyPipeline
    watchers: CallWatchers
    tmp: Path
    calls: CallRegistry

    @property
    def telephony(self) -> Telephony:
        assert self.pipeline.telephony is not None
        return self.pipeline.telephony


def options(**changes: object) -> TelephonyOptions:
    base = TelephonyOptions(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        caller_id=CALLER_ID,
        callback_url="http://127.0.0.1:1",  # rebased once the server listens
        media_host="127.0.0.1:1",
        transfer_numbers={"billing": BILLING, "customer_service": SUPPORT, "technical_support": SUPPORT},
        transfer_timeout=5,
    )
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


@asynccontextmanager
async def line_env(
    tmp: Path,
    inner: Pipeline,
    *,
    clock: Clock | None = None,
    admin_token: str | None = None,
    **option_changes: object,
) -> AsyncIterator[LineEnv]:
    async with FakeTwilio(ACCOUNT, TOKEN, clock=clock) as twilio:
        pipeline = TelephonyPipeline(
            inner,
            options(api_url=twilio.url, **option_changes),
            tmp / "campaigns.db",
            clock=clock,
            admin_token=admin_token,
        )
        config = Config.from_env({"VOICEFLOW_DATA_DIR": str(tmp), "TWILIO_AUTH_TOKEN": TOKEN})
        app = create_app(pipeline, config.server)
        watchers = CallWatchers(app.state.voiceflow.calls)
        async with serve_in_background(app, startup_timeout_s=600) as server:
            assert pipeline.telephony is not None
            pipeline.telephony.rebase(f"http://127.0.0.1:{server.port}")
            yield LineEnv(twilio, server, pipeline, watchers, tmp, app.state.voiceflow.calls)
            await twilio.wait_idle(timeout=60)


@pytest.fixture
def offline_pipeline(tmp_path: Path) -> Callable[[], Pipeline]:
    def make() -> Pipeline:
        from pipelines.offline import OfflinePipeline

        return OfflinePipeline(Config.from_env({"VOICEFLOW_DATA_DIR": str(tmp_path)}))

    return make
