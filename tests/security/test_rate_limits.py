"""Per-IP rate limits on a real server, timed on a VirtualClock (no sleeping)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.security.guarded_server import guarded_server
from tests.transports.transport_helpers import ws_url
from voiceflow.core.clock import VirtualClock
from voiceflow.security.client_ip import TrustedProxies, client_ip
from voiceflow.security.rate_limit import SlidingWindow


async def test_http_requests_per_ip_get_429_with_retry_after(tmp_path: Path) -> None:
    clock = VirtualClock()
    limited = guarded_server(tmp_path, clock=clock, rate_limit_requests=5, rate_limit_window_s=60.0)
    async with limited as (server, _), httpx.AsyncClient(base_url=server.http_url) as http:
        for _ in range(5):
            assert (await http.get("/healthz")).status_code == 200
            await clock.advance(1.0)
        refused = await http.get("/healthz")
        assert refused.status_code == 429
        assert (
            refused.headers["retry-after"] == "55"
        )  # now t=5; the first of the five leaves the window at t=60
        assert "5 requests per 60 s" in refused.text
        await clock.advance(55.0)
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/healthz")).status_code == 429, "only one slot freed"


async def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    clock = VirtualClock()
    behind_proxy = guarded_server(tmp_path, clock=clock, rate_limit_requests=2, trusted_proxies="127.0.0.1")
    async with behind_proxy as (server, _), httpx.AsyncClient(base_url=server.http_url) as http:
        alice, bob = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2, 127.0.0.1"}
        assert [(await http.get("/healthz", headers=alice)).status_code for _ in range(3)] == [200, 200, 429]
        assert [(await http.get("/healthz", headers=bob)).status_code for _ in range(3)] == [200, 200, 429]


def test_client_ip_rules() -> None:
    trusted = TrustedProxies.parse("10.0.0.0/8, 127.0.0.1")

    def scope(peer: str, xff: str | None) -> dict[str, object]:
        headers = [(b"x-forwarded-for", xff.encode())] if xff is not None else []
        return {"client": (peer, 1234), "headers": headers}

    assert client_ip(scope("203.0.113.5", "1.2.3.4"), trusted) == "203.0.113.5"  # untrusted peer
    assert client_ip(scope("10.1.1.1", "1.2.3.4, 10.2.2.2"), trusted) == "1.2.3.4"  # skips trusted hops
    assert client_ip(scope("10.1.1.1", "spoof, 5.6.7.8"), trusted) == "5.6.7.8"  # rightmost untrusted wins
    assert client_ip(scope("10.1.1.1", "not-an-ip"), trusted) == "10.1.1.1"
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address"):
        TrustedProxies.parse("10.0.0.300")


def test_sliding_window_memory_is_bounded() -> None:
    window = SlidingWindow(limit=3, window=1.0, max_keys=50)
    for k in range(500):
        assert window.hit(f"10.0.{k // 250}.{k % 250}", now=k * 0.01) == 0.0
    assert len(window.logs) <= 50
    assert all(len(log) <= 3 for log in window.logs.values())


async def test_websocket_caps_per_ip(tmp_path: Path) -> None:
    clock = VirtualClock()
    capped = guarded_server(tmp_path, clock=clock, ws_max_per_ip=2, ws_connects_per_s=3)
    async with capped as (server, _):
        url = await ws_url(server)  # the page's token: the socket is refused without one
        first, second = await connect(url), await connect(url)
        with pytest.raises(InvalidStatus) as too_many:
            await connect(url)
        assert too_many.value.response.status_code == 429
        await first.close()
        await second.close()
        await clock.advance(0.5)
        # connects per second: the 3 above used this second's budget
        with pytest.raises(InvalidStatus) as too_fast:
            await connect(url)
        assert too_fast.value.response.status_code == 429
        assert too_fast.value.response.headers["retry-after"] == "1"
        await clock.advance(1.0)
        third = await connect(url)
        await third.close()
