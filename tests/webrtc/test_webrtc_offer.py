"""POST /webrtc/offer against the live server: the answer, and bad offers → 400 with a precise message."""

from __future__ import annotations

import httpx
import pytest

from tests.webrtc.webrtc_helpers import (
    ClientPeer,
    live_peer_connections,
    live_server,
    loopback_factory,
    offer_headers,
)

GOOD_SDP_HEAD = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"


async def test_answer_shape_and_teardown() -> None:
    async with live_server(loopback_factory) as server, httpx.AsyncClient() as http:
        client = ClientPeer()
        try:
            answer = await client.connect(http, server.url)
            assert answer["type"] == "answer"
            assert answer["sdp"].startswith("v=0")
            assert "m=audio" in answer["sdp"] and "a=candidate:" in answer["sdp"]
            assert "m=application" in answer["sdp"]  # the events data channel
            assert server.transport.peers.keys() == {answer["peer_id"]}
            await client.wait_connected()
            await server.session(answer["peer_id"])  # the call is built once media flows
            health = (await http.get(f"{server.url}/healthz")).json()
            assert health["calls"] == 1
        finally:
            await client.close()
        await server.idle()
        assert server.live_calls == 0
        del client
    assert live_peer_connections() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body is not valid JSON"),
        (b"", "body is empty"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"type": "offer"}', "missing field(s): sdp"),
        (b"{}", "missing field(s): sdp, type"),
        (b'{"sdp": "v=0", "type": "answer"}', "'type' must be 'offer', got 'answer'"),
        (b'{"sdp": 42, "type": "offer"}', "'sdp' must be a string, got int"),
        (b'{"sdp": "hello", "type": "offer"}', "not a session description"),
        (
            ('{"sdp": "' + GOOD_SDP_HEAD.replace("\r\n", "\\r\\n") + '", "type": "offer"}').encode(),
            "no audio section",
        ),
    ],
)
async def test_malformed_offer_is_400(body: bytes, message: str) -> None:
    async with live_server(loopback_factory) as server, httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.url}/webrtc/offer", content=body, headers=await offer_headers(http, server.url)
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert message in error
        assert "Traceback" not in error and "/" not in error.replace("'v=0'", "")
        assert server.transport.live == 0 and server.live_calls == 0


async def test_sdp_that_aiortc_cannot_use_is_400_and_frees_the_connection() -> None:
    """Passes the quick checks, fails inside aiortc: still a clean 400, no peer left."""
    sdp = (
        GOOD_SDP_HEAD
        + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"
        + "a=rtpmap:111 opus/48000/2\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n"
        + "a=fingerprint:sha-256 ZZ\r\na=setup:banana\r\n"
    )
    async with live_server(loopback_factory) as server, httpx.AsyncClient() as http:
        headers = await offer_headers(http, server.url)
        response = await http.post(
            f"{server.url}/webrtc/offer", json={"sdp": sdp, "type": "offer"}, headers=headers
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error == "the SDP offer was rejected: unsupported or malformed value 'banana'"
        assert server.transport.live == 0 and server.live_calls == 0
    assert live_peer_connections() == 0


async def test_oversized_body_is_413() -> None:
    async with live_server(loopback_factory) as server, httpx.AsyncClient() as http:
        huge = b'{"type": "offer", "sdp": "' + b"a" * 200_000 + b'"}'
        response = await http.post(
            f"{server.url}/webrtc/offer", content=huge, headers=await offer_headers(http, server.url)
        )
        assert response.status_code == 413
        assert "over 69632 bytes" in response.json()["error"]
