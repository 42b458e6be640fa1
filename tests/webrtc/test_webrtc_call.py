"""A real call: an aiortc client peer speaks Piper audio to the live server's offline mini-agent.

Speech in (Opus → 48 kHz → 16 kHz → Silero VAD → pocketsphinx), the reply out
(Piper → 48 kHz → the paced outbound track → Opus → the client), the transcript,
speaking state and latency on the data channel, playout reports upstream, and a
clean teardown when the client hangs up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from tests.webrtc.webrtc_helpers import (
    ClientPeer,
    agent_factory,
    live_peer_connections,
    live_server,
    open_sockets,
    speech_48k,
)
from voiceflow.frames import BotStartedSpeaking, BotStoppedSpeaking, PlayoutReport, TTSAudio
from voiceflow.graphs import FrameLog
from voiceflow.transports.webrtc import WebRTCOutput


def _is(kind: str, **fields: object) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("type") == kind and all(e.get(k) == v for k, v in fields.items())


async def test_call_speech_in_reply_out_events_and_teardown() -> None:
    speech = speech_48k("I want to check the status of my order.")
    sockets_before = open_sockets()
    async with live_server(agent_factory) as server, httpx.AsyncClient(timeout=120) as http:
        client = ClientPeer(speech)
        try:
            await client.connect(http, server.url)
            await client.wait_connected()
            session = await server.session(client.peer_id)
            assert session.ctx.transport == "webrtc"
            log = FrameLog()
            session.run.add_observer(log)

            user = await client.wait_event(_is("transcript", role="user", final=True), timeout=60)
            assert "order" in user["text"].lower()
            agent = await client.wait_event(_is("transcript", role="agent", final=True))
            assert agent["text"] == f"You said {user['text']}."
            await client.wait_event(_is("speaking", active=True))
            latency = await client.wait_event(_is("latency"))
            assert latency["turn"] == 1 and 0 < latency["v2v_ms"] < 20_000
            await client.wait_event(_is("speaking", active=False), timeout=30)

            # the reply was heard by the client: Opus-decoded audio well above silence
            frames = [np.sqrt(np.mean(f * f)) for f in client.agent_audio]
            assert max(frames) > 0.02, f"agent audio too quiet (max frame RMS {max(frames):.4f})"

            output = session.run.node("webrtc_out")
            assert isinstance(output, WebRTCOutput)
            assert output.playout.utterances_played == 1 and len(output.v2v.samples_ms) == 1
            upstream = [e.frame for e in log.events if e.upstream and e.source == "webrtc_out"]
            kinds = [type(f) for f in upstream if isinstance(f, BotStartedSpeaking | BotStoppedSpeaking)]
            assert kinds == [BotStartedSpeaking, BotStoppedSpeaking]
            reports = [f for f in upstream if isinstance(f, PlayoutReport)]
            assert reports and reports[-1].finished
            # played position: the whole reply (Piper audio at 22.05 kHz) minus nothing
            spoken_ms = sum(e.frame.duration * 1000 for e in log.events if isinstance(e.frame, TTSAudio))
            assert abs(reports[-1].played_ms - spoken_ms) < 40
            assert not session.run.errors, session.run.errors

            client.hang_up()  # the page's hang-up message: the server ends the call and closes
            await server.idle(timeout=15)
        finally:
            await client.close()
        del client, session, output, log
    assert live_peer_connections() == 0
    assert open_sockets() == sockets_before  # no ICE socket, no HTTP connection, no listener
