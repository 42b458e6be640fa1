"""A caller who pauses between two sentences of one request gets one answer to the whole request.

Real Piper speech over the real Twilio Media Streams path: "I have a question about my
order." then a 1.2 s pause, long enough for the endpointer to judge the turn over and the
agent to start replying, then "It's order one zero zero two." The agent must not answer
the first half on its own: the continuation cancels that reply (``clear``) and the two
sentences become one turn, answered once with the order's status.

"Thanks, goodbye." (the ``voiceflow call`` demo's last line) pauses after "Thanks,": the
reply prepared for that lone "thanks" must be an acknowledgement (not "sorry, I didn't catch
that"), must stop as soon as they go on (its first frames may have left when the window ran
out just before), and the voice-to-voice figure counts from the end of "goodbye" to the
farewell, as the caller hears it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipelines.offline import OfflinePipeline
from voiceflow.commands.serve import RunningServer, serve_in_background
from voiceflow.config import Config
from voiceflow.server.app import create_app
from voiceflow.sim.phone_line import PhoneLine
from voiceflow.sim.scripted_call import CallWatchers
from voiceflow.sim.speech import normalize_words, synthesize
from voiceflow.sim.twilio_client import ReceivedMedia, TwilioMediaClient

PAUSE_S = 1.2


@pytest.fixture
async def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RunningServer, CallWatchers]]:
    monkeypatch.setenv("VOICEFLOW_DATA_DIR", str(tmp_path))
    app = create_app(OfflinePipeline(Config.from_env()))
    watchers = CallWatchers(app.state.voiceflow.calls)
    async with serve_in_background(app, startup_timeout_s=600) as server:
        yield server, watchers


def two_sentences(first: str, second: str, pause_s: float, rate: int = 16000) -> bytes:
    return synthesize(first, rate) + b"\x00\x00" * int(pause_s * rate) + synthesize(second, rate)


async def test_pause_between_two_sentences_of_one_request_gets_one_answer(
    served: tuple[RunningServer, CallWatchers],
) -> None:
    server, watchers = served
    url = server.ws_url("/twilio/media")
    async with TwilioMediaClient(url, caller="+15550100031") as call, PhoneLine(call) as line:
        watcher = await watchers.get(call.call_sid)
        await call.wait_for_reply(timeout=30)
        watcher.take()
        pcm = two_sentences("I have a question about my order.", "It's order one zero zero two.", PAUSE_S)
        spoken = await line.say(pcm, 16000)
        reply = await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
        turn = watcher.take()

    # the request was heard as one turn carrying both sentences
    whole = " ".join(normalize_words(turn.heard[-1]))
    assert "question about my order" in whole and "one zero zero two" in whole, turn.heard
    # answered once, for the whole request: the order was looked up and its status spoken
    assert [t for t in turn.tools if t.startswith("check_order_status(")], turn.tools
    assert reply.frames > 50
    # whatever the agent began saying to the first half alone was cut off by a clear
    early = [m for m in call.media if spoken.voiced_start_at < m.at < spoken.voiced_end_at]
    assert not early or any(spoken.voiced_start_at < c < spoken.voiced_end_at + 0.5 for c in call.clears)
    # and after the caller finished, one reply: no second answer follows it
    assert not [m for m in call.media if m.at > reply.ended_at + 0.5]


async def test_thanks_comma_goodbye_gets_only_the_farewell_counted_from_the_whole_turn(
    served: tuple[RunningServer, CallWatchers],
) -> None:
    server, watchers = served
    url = server.ws_url("/twilio/media")
    async with TwilioMediaClient(url, caller="+15550100032") as call, PhoneLine(call) as line:
        watcher = await watchers.get(call.call_sid)
        await call.wait_for_reply(timeout=30)
        watcher.take()
        spoken = await line.say(synthesize("Thanks, goodbye.", 16000), 16000)
        with contextlib.suppress(ConnectionError):  # the agent hangs up after its farewell
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
        await call.wait_closed(timeout=30)
        turn = watcher.take()

    everything = turn.said + turn.withdrawn
    assert not [t for t in everything if "didn't catch" in t], everything  # "thanks" was understood
    # the farewell alone was said: a reply to "Thanks," alone is withdrawn, never said after it
    assert len(turn.said) == 1 and turn.said[0].endswith("goodbye!"), (turn.said, turn.withdrawn)
    assert [t for t in turn.tools if t.startswith("end_call(")], turn.tools
    # the reply prepared for "Thanks," alone never played on: at most its first frames, when
    # the window after "Thanks," ran out just before the caller went on, and then a clear
    assert_reply_stopped(call, spoken.voiced_start_at, spoken.voiced_end_at)
    # the server's voice-to-voice figure is counted from the end of the whole turn to the
    # farewell: the first agent audio after the caller's end that no clear dropped (the frames
    # of the reply cut above came before it; a stall inside the farewell does not move it)
    latency = watcher.latency.turns[-1]
    after = call.media_after(spoken.voiced_end_at)
    farewell = next(m.at for m in after if not m.cleared)
    client_ms = (farewell - spoken.voiced_end_at) * 1000.0
    seen = [round(t - spoken.voiced_end_at, 3) for t in stretches(after)], call.clears
    assert latency.v2v_ms is not None, latency
    assert abs(latency.v2v_ms - client_ms) < 250, (latency.v2v_ms, client_ms, seen)


async def test_going_on_just_as_the_reply_starts_stops_it_at_once(
    served: tuple[RunningServer, CallWatchers],
) -> None:
    """A comma pause (0.3 s) as long as the end-of-turn window: the reply to "Thanks," may
    start just before the caller goes on; it stops at the first voiced window (BargeIn's early
    stop), not ~0.16 s later when the VAD confirms the onset, and the turn is answered whole."""
    server, watchers = served
    url = server.ws_url("/twilio/media")
    async with TwilioMediaClient(url, caller="+15550100033") as call, PhoneLine(call) as line:
        watcher = await watchers.get(call.call_sid)
        await call.wait_for_reply(timeout=30)
        watcher.take()
        spoken = await line.say(two_sentences("Thanks,", "goodbye.", 0.3), 16000)
        with contextlib.suppress(ConnectionError):
            await call.wait_for_reply(after=spoken.voiced_end_at, timeout=30)
        await call.wait_closed(timeout=30)
        turn = watcher.take()

    assert turn.said and turn.said[-1].endswith("goodbye!"), (turn.said, turn.withdrawn)
    assert [t for t in turn.tools if t.startswith("end_call(")], turn.tools
    assert_reply_stopped(call, spoken.voiced_start_at, spoken.voiced_end_at)


def assert_reply_stopped(call: TwilioMediaClient, start: float, end: float) -> None:
    """Of agent audio that reached the caller while they spoke (``start``..``end``), at most
    0.2 s was heard (what a reply can play in the comma pause before the caller's voice is
    back, plus the first voiced window), and only if a clear followed it at once (a reply cut,
    not one played on)."""
    heard = [m for m in call.media if start < m.at < end and not m.cleared]
    if not heard:
        return
    where = [round(m.at - start, 3) for m in heard]
    assert sum(m.seconds for m in heard) <= 0.2, where
    assert [c for c in call.clears if heard[0].at < c < heard[-1].at + 0.1], (where, call.clears)


def stretches(media: list[ReceivedMedia], gap_s: float = 0.2) -> list[float]:
    """Arrival times of the first frame of each stretch of agent audio (frames less than
    ``gap_s`` apart belong to one stretch)."""
    starts: list[float] = []
    last = float("-inf")
    for m in media:
        if m.at - last > gap_s:
            starts.append(m.at)
        last = m.at
    return starts
