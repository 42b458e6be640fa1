"""The client's IP: the socket peer, or ``X-Forwarded-For`` only when the peer is a trusted proxy.

Anyone can send ``X-Forwarded-For``; believing it from everyone would let a client
pick the IP it is rate-limited under. So the header is read only when the direct
peer is in ``VOICEFLOW_TRUSTED_PROXIES``, right to left, skipping further trusted
proxies: the first untrusted address is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TrustedProxies", "client_ip"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = list(networks)

    @classmethod
    def parse(cls, spec: str | None) -> TrustedProxies:
        """``"10.0.0.1, 172.16.0.0/12"``; ValueError names a bad entry."""
        networks = []
        for raw in (spec or "").split(","):
            raw = raw.strip()
            if raw:
                try:
                    networks.append(ipaddress.ip_network(raw, strict=False))
                except ValueError:
                    raise ValueError(
                        f"VOICEFLOW_TRUSTED_PROXIES: {raw!r} is not an IP address or CIDR"
                    ) from None
        return cls(networks)

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in headers if k.lower() == name]
    return ",".join(values) if values else None


def client_ip(scope: Mapping[str, Any], trusted: TrustedProxies) -> str:
    """The IP a request or WebSocket (an ASGI ``scope``) comes from."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if peer not in trusted:
        return peer
    forwarded = _header(scope.get("headers", ()), b"x-forwarded-for")
    if not forwarded:
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",")]):
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # garbage in the header: fall back to the proxy itself
        if hop not in trusted:
            return hop
    return peer
