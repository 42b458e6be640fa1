"""The realtime agent over WebRTC: a real aiortc peer speaks, the fake Realtime model answers in 24 kHz PCM.

Speech in (Opus → 48 kHz → 16 kHz → 24 kHz ``audio/pcm`` on the socket), the tool run,
the answer out (24 kHz PCM → 48 kHz → the paced track → Opus → the client), both sides'
transcripts on the data channel, and a clean teardown: no peer, socket or Realtime
session left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.realtime.helpers import realtime_pipeline
from tests.webrtc.webrtc_helpers import ClientPeer, live_peer_connections, live_server, speech_48k
from voiceflow.testing.fakes.openai_realtime import FakeRealtimeServer


def _transcript(role: str, contains: str) -> Any:
    return lambda e: e.get("type") == "transcript" and e.get("role") == role and contains in e.get("text", "")


async def test_webrtc_peer_speech_in_tool_and_spoken_answer_out(tmp_path: Path) -> None:
    async with FakeRealtimeServer(api_key="test-key") as fake:
        pipeline = realtime_pipeline(tmp_path, fake)
        async with live_server(pipeline) as server, httpx.AsyncClient(timeout=600) as http:  # type: ignore[arg-type]
            client = ClientPeer()
            try:
                await client.connect(http, server.url)
                await client.wait_connected()
                await client.wait_event(_transcript("agent", "Thanks for calling"), timeout=30)
                await client.wait_event(lambda e: e.get("type") == "speaking" and not e["active"], timeout=30)
                client.mic.say(speech_48k("What time do you close on Saturday?"))
                user = await client.wait_event(_transcript("user", "saturday"), timeout=60)
                assert "close" in user["text"]
                await client.wait_event(_transcript("agent", "Saturday 9 AM to 5 PM"), timeout=60)
                session = server.app.state.voiceflow.calls.calls[f"webrtc-{client.peer_id}"]
                realtime = session.run.node("realtime")
                assert realtime.tracker.executed == 1  # type: ignore[attr-defined]
                # the answer was heard by the client: Opus-decoded audio well above silence
                levels = [float(np.sqrt(np.mean(f * f))) for f in client.agent_audio]
                assert max(levels) > 0.02
                update = fake.of_type("session.update")[0]["session"]
                assert update["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
                assert not [e for e in realtime.errors]  # type: ignore[attr-defined]
                client.hang_up()
                await server.idle(timeout=15)
            finally:
                await client.close()
            del client, session, realtime
        assert live_peer_connections() == 0
        assert fake.sessions == []  # the Realtime socket of the call was closed
