"""100 connect/disconnect cycles with real aiortc client peers: nothing accumulates on the server.

Each cycle connects (ICE + DTLS + SCTP), sees the call run (the loopback pipeline
plays the caller back, so a "speaking" event arrives on the data channel), then
leaves — half by closing the connection, half by the page's hang-up message.
Peers run ten at a time to keep the test short. Afterwards the server holds no
peer, no call, no extra task, no extra file descriptor (UDP sockets) and no
RTCPeerConnection object.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.webrtc.webrtc_helpers import (
    ClientPeer,
    LiveServer,
    live_peer_connections,
    live_server,
    loopback_factory,
    open_sockets,
)

CYCLES = 100
AT_ONCE = 10


async def _one_call(server: LiveServer, http: httpx.AsyncClient, hang_up: bool) -> None:
    client = ClientPeer()
    try:
        await client.connect(http, server.url)
        await client.wait_connected()
        await client.wait_event(lambda e: e["type"] == "speaking" and e["active"], timeout=10)
        if hang_up:
            client.hang_up()
            deadline = time.monotonic() + 10
            while client.pc.connectionState != "closed":  # the server closes the connection
                assert time.monotonic() < deadline, "server did not close after hang-up"
                await asyncio.sleep(0.01)
    finally:
        await client.close()


async def _settle_sockets(before: dict[str, int], timeout: float = 5.0) -> dict[str, int]:
    """Sockets once the server has seen the HTTP client's keep-alive connections close."""
    deadline = time.monotonic() + timeout
    now = open_sockets()
    while now != before and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        now = open_sockets()
    return now


async def test_100_connect_disconnect_cycles_leave_nothing_behind() -> None:
    async with live_server(loopback_factory) as server:
        async with httpx.AsyncClient(timeout=30) as http:
            await _one_call(server, http, hang_up=False)  # warm-up: lazily created process-wide state
        await server.idle()
        tasks_before = len(asyncio.all_tasks())
        sockets_before = await _settle_sockets(open_sockets(), timeout=0.2)
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as http:
            for batch in range(CYCLES // AT_ONCE):
                calls = (_one_call(server, http, hang_up=(batch + i) % 2 == 1) for i in range(AT_ONCE))
                await asyncio.gather(*calls)
        await server.idle(timeout=20)
        elapsed = time.monotonic() - started
        registry = server.app.state.voiceflow.calls
        transport = server.transport
        assert transport.accepted == CYCLES + 1 and not transport.peers
        assert len(registry) == 0 and registry.finished == CYCLES + 1 and registry.failed == 0
        sockets_after = await _settle_sockets(sockets_before)
        assert sockets_after == sockets_before  # no ICE (UDP) socket, no TCP connection left
        assert len(asyncio.all_tasks()) <= tasks_before, [t.get_name() for t in asyncio.all_tasks()]
        assert live_peer_connections() == 0
        print(f"\n{CYCLES} cycles in {elapsed:.1f} s; sockets {sockets_before} -> {sockets_after}")
