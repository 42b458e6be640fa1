"""Every way a peer ends frees it: server shutdown, a peer that never connects, a closed data channel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from tests.webrtc.webrtc_helpers import (
    ClientPeer,
    LiveServer,
    live_peer_connections,
    live_server,
    loopback_factory,
    offer_headers,
)
from voiceflow.calls import CallContext
from voiceflow.graphs import Graph
from voiceflow.processors import Processor


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def _until_closed(client: ClientPeer) -> None:
    await _until(lambda: client.pc.connectionState == "closed", 5, "the client to see the close")


async def test_server_shutdown_closes_live_peers() -> None:
    client = ClientPeer()
    try:
        async with live_server(loopback_factory) as server, httpx.AsyncClient() as http:
            await client.connect(http, server.url)
            await client.wait_connected()
            kept: LiveServer = server
        # the lifespan closed the call; its processors' cleanup closed the connection
        await _until(lambda: kept.transport.live == 0, 5, "the watcher to release the peer")
        assert kept.live_calls == 0
        await _until_closed(client)
    finally:
        await client.close()
    del client
    assert live_peer_connections() == 0


async def test_peer_that_never_connects_is_dropped() -> None:
    async with live_server(loopback_factory) as server, httpx.AsyncClient() as http:
        server.transport.connect_timeout = 0.3
        client = ClientPeer()
        try:
            response = await http.post(
                f"{server.url}/webrtc/offer",
                json=await client.offer(),
                headers=await offer_headers(http, server.url),
            )
            assert response.status_code == 200
            peer = server.transport.peers[response.json()["peer_id"]]
            # the answer is never applied: ICE cannot complete
            await server.idle(timeout=5)
            assert peer.leave_reason in {"never connected", "connection failed"}
            assert peer.closed
            del peer
        finally:
            await client.close()
        del client
        assert live_peer_connections() == 0


async def test_closing_the_data_channel_ends_the_call() -> None:
    async with live_server(loopback_factory) as server, httpx.AsyncClient() as http:
        client = ClientPeer()
        try:
            answer = await client.connect(http, server.url)
            await client.wait_connected()
            await client.wait_event(lambda e: e["type"] == "speaking")
            peer = server.transport.peers[answer["peer_id"]]
            assert client.channel is not None
            client.channel.close()
            await server.idle(timeout=5)
            assert peer.leave_reason == "data channel closed"
            del peer
        finally:
            await client.close()


async def test_peer_limit_is_503() -> None:
    async with live_server(loopback_factory) as server, httpx.AsyncClient() as http:
        server.transport.max_peers = 1
        first, second = ClientPeer(), ClientPeer()
        try:
            await first.connect(http, server.url)
            await first.wait_connected()
            response = await http.post(
                f"{server.url}/webrtc/offer",
                json=await second.offer(),
                headers=await offer_headers(http, server.url),
            )
            assert response.status_code == 503
            assert response.json()["error"] == "1 peers are live; the limit is 1"
        finally:
            await first.close()
            await second.close()
        await server.idle()


def _broken_factory(ctx: CallContext, input: Processor, output: Processor) -> Graph:
    raise RuntimeError("no such model on disk: /secret/path/model.onnx")


async def test_pipeline_that_fails_to_start_closes_the_peer_and_frees_it() -> None:
    async with live_server(_broken_factory) as server, httpx.AsyncClient() as http:
        client = ClientPeer()
        try:
            answer = await client.connect(http, server.url)  # nothing is built before media flows
            peer = server.transport.peers[answer["peer_id"]]
            assert server.live_calls == 0
            await _until(lambda p=peer: bool(p.closed), 10, "the server to build, fail and close")
            assert peer.leave_reason == "the call's pipeline failed to start"
            assert server.transport.failed_to_start == 1
            del peer
            await _until_closed(client)
        finally:
            await client.close()
        del client
    # the logged traceback (kept by pytest's log capture) references the failed peer's frame
    assert live_peer_connections(open_only=True) == 0
