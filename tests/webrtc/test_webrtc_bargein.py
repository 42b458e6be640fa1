"""Barge-in over WebRTC with the shared echo pipeline: talking over the agent cuts its audio at once.

``pipelines.echo`` echoes each caller turn back (22.05 kHz
TTSAudio) behind the production ``BargeIn``. The client speaks, the echo starts
playing, the client speaks again over it: the output transport empties its
track, tells the page (``{"type": "interrupt"}``), and reports upstream how much
of the echo was actually played.
"""

from __future__ import annotations

import asyncio

import httpx

from pipelines.echo import build as echo_pipeline
from tests.webrtc.webrtc_helpers import ClientPeer, live_server, speech_48k
from voiceflow.frames import PlayoutReport
from voiceflow.graphs import FrameLog


async def test_talking_over_the_echo_interrupts_it() -> None:
    first = speech_48k("hello there this is a test of the echo")  # no pause: one caller turn
    second = speech_48k("Stop, please.")
    async with live_server(echo_pipeline) as server, httpx.AsyncClient(timeout=30) as http:
        client = ClientPeer(first)
        try:
            await client.connect(http, server.url)
            await client.wait_connected()
            session = await server.session(client.peer_id)
            log = FrameLog()
            session.run.add_observer(log)

            echo = await client.wait_event(lambda e: e["type"] == "transcript" and e["role"] == "agent")
            assert echo["text"].startswith("echo 1:") and client.mic.done
            echo_s = float(echo["text"].split()[2])
            await client.wait_event(lambda e: e["type"] == "speaking" and e["active"])
            await asyncio.sleep(0.6)  # let part of the echo play, then talk over it
            assert not any(e["type"] == "interrupt" for e in client.events)
            client.mic.say(second)
            interrupt = await client.wait_event(lambda e: e["type"] == "interrupt", timeout=10)
            assert client.mic.said_at is not None
            barge_in_ms = (interrupt["received_at"] - client.mic.said_at) * 1000
            stop = await client.wait_event(
                lambda e: (
                    e["type"] == "speaking"
                    and not e["active"]
                    and e["received_at"] >= interrupt["received_at"]
                )
            )
            assert stop["received_at"] - interrupt["received_at"] < 0.5

            reports = [
                e.frame
                for e in log.events
                if e.upstream and isinstance(e.frame, PlayoutReport) and e.frame.utterance_id == 1
            ]
            last = reports[-1]
            assert not last.finished and 400 <= last.played_ms < echo_s * 1000 - 500
            # the client hears the echo stop: from shortly after the cut until the next echo, silence
            echo2 = await client.wait_event(
                lambda e: e["type"] == "transcript" and e["text"].startswith("echo 2:")
            )
            cut = interrupt["received_at"]
            heard_before = [level for t, level in client.agent_levels if cut - 0.3 < t < cut]
            # (frames already in flight on the loopback network may still land just after the cut)
            heard_after = [level for t, level in client.agent_levels if cut + 0.3 < t < echo2["received_at"]]
            assert max(heard_before) > 0.02 and heard_after and max(heard_after) < 0.002
            print(f"\nbarge-in: caller onset -> interrupt event on the page {barge_in_ms:.0f} ms")
            client.hang_up()
            await server.idle()
        finally:
            await client.close()
    del session, log
