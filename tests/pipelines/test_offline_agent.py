"""The offline agent end to end over the real Twilio Media Streams path.

Real Piper speech goes over a real WebSocket as 8 kHz mu-law at real time into
the running server; the agent hears it with Silero VAD and pocketsphinx,
understands it, acts on a real SQLite file and answers with Piper. The server is
the one the README's "The offline agent and the server" example builds, run as printed.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.scripted_call import CallWatchers
from voiceflow.sim.speech import normalize_words, synthesize
from voiceflow.sim.twilio_client import TwilioMediaClient


@dataclass
class Agent:
    server: RunningServer
    watchers: CallWatchers
    db_path: Path

    @property
    def url(self) -> str:
        return self.server.ws_url("/twilio/media")


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    section = re.search(r"## The offline agent and the server\n(.*?)\n## ", README.read_text(), re.S)
    assert section is not None
    block = re.search(r"```python\n(.*?)```", section.group(1), re.S)
    assert block is not None
    return block.group(1)


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Agent]:
    monkeypatch.setenv("VOICEFLOW_DATA_DIR", str(tmp_path))  # a fresh database per test
    example: dict[str, Any] = {}
    exec(readme_example(), example)
    # a Tuesday noon in the business's time zone: the service desk is open whatever day the test runs
    example["pipeline"].now = lambda: datetime(2026, 11, 24, 12, 0)
    app = example["app"]
    assert app.state.voiceflow.settings == example["config"].server
    watchers = CallWatchers(app.state.voiceflow.calls)
    async with serve_in_background(app, startup_timeout_s=600) as server:  # prepare() loads the models
        assert example["pipeline"].shared is not None
        yield Agent(server, watchers, tmp_path / "voiceflow.db")
    assert example["pipeline"].shared is None  # the lifespan shut the pipeline down


async def test_spoken_request_keypad_rating_and_operator_key(agent: Agent) -> None:
    async with TwilioMediaClient(agent.url, caller="+15550100001") as call, PhoneLine(call) as line:
        watcher = await agent.watchers.get(call.call_sid)
        await call.wait_for_reply(timeout=30)
        assert "thanks for calling" in " ".join(watcher.take().said).lower()

        spoken = await line.say(synthesize("I'd like to leave some feedback.", 16000), 16000)
        reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
        turn = watcher.take()
        # one turn, those words (as pocketsphinx spells them or Whisper writes them: VOICEFLOW_STT)
        heard = [normalize_words(t) for t in turn.heard]
        assert heard == [normalize_words("i'd like to leave some feedback")]
        assert "scale of 1 to 5" in " ".join(turn.said)
        assert reply.frames > 50  # a real spoken answer came back over the line

        pressed = call.clock.now()
        await call.send_dtmf("5")
        await call.wait_for_reply(after=pressed, timeout=30)
        assert "anything you'd like to add" in " ".join(watcher.take().said).lower()

        spoken = await line.say(synthesize("No.", 16000), 16000)
        await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
        assert any(t.startswith("collect_feedback(rating=5") for t in watcher.take().tools)

        pressed = call.clock.now()
        await call.send_dtmf("0")
        await call.wait_for_reply(after=pressed, timeout=30)
        turn = watcher.take()
        assert any(t.startswith("transfer_to_human(") for t in turn.tools)
        assert "transferring you" in " ".join(turn.said).lower()

    with sqlite3.connect(agent.db_path) as db:
        assert db.execute("SELECT rating FROM feedback").fetchall() == [(5,)]
        assert db.execute("SELECT status FROM transfers").fetchall() == [("queued",)]
    latency = watcher.latency.turns
    assert latency and all(t.v2v_ms is not None and t.v2v_ms > 0 for t in latency)


async def test_caller_talking_over_the_agent_clears_its_audio(agent: Agent) -> None:
    async with TwilioMediaClient(agent.url, caller="+15550100002") as call, PhoneLine(call) as line:
        watcher = await agent.watchers.get(call.call_sid)
        await call.wait_for_reply(timeout=30)
        watcher.take()
        spoken = await line.say(synthesize("What time do you close on Saturday?", 16000), 16000)
        await call.wait_for_agent_audio(after=spoken.voiced_end_at, timeout=30)
        assert any(t.startswith("get_business_hours(") for t in watcher.take().tools)
        await asyncio.sleep(1.0)  # real time on the line: the several-second hours answer is playing
        said_from = call.clock.now()
        over = line.say(synthesize("Sorry, can I talk to a person please?", 16000), 16000)
        clear_at = await call.wait_for_clear(after=said_from, timeout=10)
        spoken = await over
        assert clear_at - spoken.voiced_start_at < 1.5  # onset -> clear (speech detection + 0.3 s)
        await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
        assert any(t.startswith("transfer_to_human(") for t in watcher.take().tools)


async def test_agent_hangs_up_after_its_goodbye_is_heard(agent: Agent) -> None:
    async with TwilioMediaClient(agent.url, caller="+15550100003") as call, PhoneLine(call) as line:
        watcher = await agent.watchers.get(call.call_sid)
        await call.wait_for_reply(timeout=30)
        spoken = await line.say(synthesize("Goodbye.", 16000), 16000)
        code = await call.wait_closed(timeout=30)
        closed_at = call.clock.now()
        assert code == 1000
        turn = watcher.take()
        assert any(t.startswith("end_call(") for t in turn.tools)
        assert "goodbye" in " ".join(turn.said).lower()
        farewell = call.media_after(spoken.voiced_end_at)
        assert len(farewell) > 25  # about a second or more of spoken farewell
        # the line closed only after the farewell had played out on the phone
        assert all(m.echoed_at is not None and not m.cleared for m in call.marks)
        assert max(m.play_start + m.seconds for m in farewell) <= closed_at + 0.05
