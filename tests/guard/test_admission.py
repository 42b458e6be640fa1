"""Admission on a real server: bounds per address, on pending offers and in total, each a 503/1013
with Retry-After; abandoned offers build nothing and give their memory back; a protected call keeps
answering while another client floods offers, malformed messages and sockets."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable

import httpx
import psutil
from websockets.asyncio.client import connect

from tests.guard.guard_helpers import guarded_server, page_token
from tests.transports.transport_helpers import tone
from tests.webrtc.webrtc_helpers import ClientPeer, live_peer_connections
from voiceflow.config import GuardSettings
from voiceflow.sim.twilio_client import TwilioMediaClient


async def _an_offer() -> dict[str, str]:
    client = ClientPeer()
    try:
        return await client.offer()
    finally:
        await client.close()


async def _post_offers(server_url: str, offer: dict[str, str], n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as http:
        token = (await http.get(f"{server_url}/token")).json()["token"]
        headers = {"x-voiceflow-token": token}
        return [await http.post(f"{server_url}/webrtc/offer", json=offer, headers=headers) for _ in range(n)]


async def test_offers_are_bounded_per_address_and_pending_with_503_and_retry_after() -> None:
    offer = await _an_offer()
    guard = GuardSettings(max_calls_per_address=2, max_pending_offers=10, retry_after_s=7)
    async with guarded_server(guard=guard) as (server, echo, state):
        answers = await _post_offers(server.http_url, offer, 3)
        assert [r.status_code for r in answers] == [200, 200, 503]
        assert answers[2].headers["retry-after"] == "7"
        assert "your address holds its limit of 2 calls" in answers[2].json()["error"]
        assert echo.calls == {}, "an answered offer builds no call until media flows"
        assert state.webrtc is not None and len(state.webrtc.peers) == 2
    guard = GuardSettings(max_calls_per_address=10, max_pending_offers=2)
    async with guarded_server(guard=guard) as (server, _echo, state):
        answers = await _post_offers(server.http_url, offer, 3)
        assert [r.status_code for r in answers] == [200, 200, 503]
        assert "2 offers are waiting to connect (limit 2)" in answers[2].json()["error"]


async def test_sockets_beyond_the_bounds_close_with_1013() -> None:
    guard = GuardSettings(max_calls=2, max_calls_per_address=1)
    async with guarded_server(guard=guard) as (server, _echo, state):
        token = await page_token(server)
        async with connect(server.ws_url(f"/ws?token={token}")) as first:
            await first.send(json.dumps({"type": "start"}))
            assert json.loads(await first.recv())["type"] == "started"
            async with connect(server.ws_url(f"/ws?token={token}")) as second:
                await second.send(json.dumps({"type": "start"}))
                await second.wait_closed()
                assert second.close_code == 1013 and "retry after 5 s" in (second.close_reason or "")
            url = server.ws_url("/twilio/media")
            async with TwilioMediaClient(url) as call:  # Twilio takes no per-address share ...
                assert not call.closed
                extra = TwilioMediaClient(url)
                await extra.connect()  # ... but the total bound holds
                assert await extra.wait_closed(timeout=5) == 1013
                await extra.close()
        assert state.edge.admission.refused == 2


async def test_a_hundred_abandoned_offers_build_nothing_and_give_memory_back() -> None:
    offer = await _an_offer()
    guard = GuardSettings(max_calls=200, max_calls_per_address=200, max_pending_offers=200)
    async with guarded_server(guard=guard) as (server, echo, state):
        transport = state.webrtc
        assert transport is not None
        transport.connect_timeout, transport.max_peers = 0.5, 200
        await _post_offers(server.http_url, offer, 5)  # warm-up: aiortc's process-wide state
        await _until(lambda: transport.live == 0)
        gc.collect()
        before = psutil.Process().memory_info().rss
        answers = await _post_offers(server.http_url, offer, 100)
        assert {r.status_code for r in answers} == {200}
        peak_peers = transport.live
        await _until(lambda: transport.live == 0, timeout=20)
        gc.collect()
        grown_mb = (psutil.Process().memory_info().rss - before) / 1e6
        assert echo.calls == {}, "no pipeline was built for an offer that never connected"
        assert state.edge.admission.held == 0 and state.edge.admission.pending == 0
        assert live_peer_connections() == 0
        print(f"\n100 abandoned offers: up to {peak_peers} live peers, RSS +{grown_mb:.1f} MB after release")
        assert grown_mb < 40, f"RSS grew {grown_mb:.1f} MB and stayed (bound: 40 MB, 0.4 MB an offer)"


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_protected_call_keeps_answering_through_a_flood() -> None:
    offer = await _an_offer()
    async with guarded_server() as (server, _echo, _state):
        token = await page_token(server)
        url = server.ws_url("/twilio/media")
        stop = asyncio.Event()
        sent = {"offers": 0, "junk": 0, "sockets": 0}

        async def flood_offers() -> None:
            async with httpx.AsyncClient(timeout=30) as http:
                bodies = [
                    b"{" * 5000,
                    b'{"sdp": "v=0", "type": "offer"}',
                    json.dumps(offer).encode(),
                    b"\xff",
                ]
                headers = {"content-type": "application/json", "x-voiceflow-token": token}
                while not stop.is_set():
                    for body in bodies:
                        await http.post(f"{server.http_url}/webrtc/offer", content=body, headers=headers)
                        sent["offers"] += 1

        async def flood_sockets() -> None:
            while not stop.is_set():
                async with connect(server.ws_url(f"/ws?token={token}")) as ws:
                    for junk in (
                        "[" * 9000,
                        "nope",
                        json.dumps({"type": "dtmf", "digit": "Z"}),
                        b"\x00" * 64,
                    ):
                        await ws.send(junk)
                        sent["junk"] += 1
                sent["sockets"] += 1
                stranger = TwilioMediaClient(url, webhook=False)
                await stranger.connect()
                await stranger.wait_closed(timeout=5)
                await stranger.close()

        async with TwilioMediaClient(url, caller="+15551230001") as protected:
            floods = [asyncio.create_task(flood_offers()), asyncio.create_task(flood_sockets())]
            delays = []
            try:
                for _ in range(4):
                    spoke_until = await protected.send_audio(tone(0.5), sample_rate=16000)
                    await protected.send_silence(0.4)
                    reply = await protected.wait_for_reply(after=spoke_until, timeout=10, quiet_s=0.3)
                    delays.append(reply.started_at - spoke_until)
            finally:
                stop.set()
                await asyncio.gather(*floods)
            assert not protected.closed
        print(f"\nprotected call reply delays under flood: {[round(d, 2) for d in delays]} s; flood {sent}")
        assert len(delays) == 4 and max(delays) < 3.0
        assert sent["offers"] > 20 and sent["sockets"] > 2
