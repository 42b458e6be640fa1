"""A backchannel over the agent stops it at once, then it resumes from where the caller was.

Real Piper speech over the real Twilio Media Streams path into the offline agent: while
the agent reads out its (several-second) hours answer, the caller says "uh-huh". The
agent's audio is cleared at the onset; no words follow, so the utterance resumes from
the position the output reported played at the clear, and no new answer is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipelines.offline import OfflinePipeline
from voiceflow.calls import CallSession
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import Config
from voiceflow.core.observers import PushEvent
from voiceflow.frames import PlayoutReport, ResumeSpeaking, TextToSpeak
from voiceflow.server.app import create_app
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.scripted_call import CallWatchers
from voiceflow.sim.speech import synthesize
from voiceflow.sim.twilio_client import TwilioMediaClient


class Recorder:
    def __init__(self) -> None:
        self.events: list[PushEvent] = []

    async def on_push(self, event: PushEvent) -> None:
        self.events.append(event)

    def of(self, ftype: type, source: str) -> list:  # type: ignore[type-arg]
        """Frames of ``ftype`` as ``source`` pushed them (each hop is an event)."""
        return [e.frame for e in self.events if isinstance(e.frame, ftype) and e.source == source]


@pytest.fixture
async def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RunningServer, CallWatchers, Recorder]]:
    monkeypatch.setenv("VOICEFLOW_DATA_DIR", str(tmp_path))
    app = create_app(OfflinePipeline(Config.from_env()))
    watchers = CallWatchers(app.state.voiceflow.calls)
    recorder = Recorder()

    def attach(session: CallSession) -> None:
        session.run.add_observer(recorder)

    app.state.voiceflow.calls.on_open.append(attach)
    async with serve_in_background(app, startup_timeout_s=600) as server:
        yield server, watchers, recorder


async def test_mm_hmm_over_the_agent_resumes_it_from_the_played_position(
    served: tuple[RunningServer, CallWatchers, Recorder],
) -> None:
    server, watchers, recorder = served
    url = server.ws_url("/twilio/media")
    async with TwilioMediaClient(url, caller="+15550100041") as call, PhoneLine(call) as line:
        watcher = await watchers.get(call.call_sid)
        await call.wait_for_reply(timeout=30)
        watcher.take()
        spoken = await line.say(synthesize("What are your opening hours?", 16000), 16000)
        await call.wait_for_agent_audio(after=spoken.voiced_end_at, timeout=30)
        await asyncio.sleep(1.5)  # the agent is reading out the hours
        said_from = call.clock.now()
        mm = await line.say(synthesize("Uh-huh.", 16000), 16000)
        clear_at = await call.wait_for_clear(after=said_from, timeout=10)
        resumed_at = await call.wait_for_agent_audio(after=clear_at + 0.05, timeout=10)
        await call.wait_for_reply(after=resumed_at, timeout=30)
        turn = watcher.take()

    assert clear_at - mm.voiced_start_at < 0.6  # stopped at the onset
    (resume,) = recorder.of(ResumeSpeaking, "bargein")
    reports = recorder.of(PlayoutReport, "twilio_out")
    cut = [r for r in reports if r.mark == "clear" and r.utterance_id == resume.utterance_id]
    assert cut and resume.from_ms == cut[-1].played_ms > 0  # from exactly where the caller was
    # no new answer was given: the dialogue said nothing after the hours
    assert len(turn.said) == 1 and recorder.of(TextToSpeak, "dialogue")[-1].text == turn.said[0]
