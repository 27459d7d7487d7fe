"""Which address a request came from, believing `X-Forwarded-For` only from trusted proxies.

Any client can send an `X-Forwarded-For` header, so taking it at its word would let a
password guesser present a new address with every attempt and never meet the
per-address login limit. The header is read only when the connection itself comes
from a proxy named in `CAREFLOW_TRUSTED_PROXIES` (addresses or networks, comma-separated;
none by default), and then from the right: each trusted proxy appends the address it
saw, so the first address from the right that is not a trusted proxy is the client's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxyError(ValueError):
    """`CAREFLOW_TRUSTED_PROXIES` names something that is not an address or network."""


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose `X-Forwarded-For` is believed."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, setting: str) -> TrustedProxies:
        """From `10.0.0.5, 192.168.0.0/24, ::1`; TrustedProxyError naming a bad entry."""
        networks = []
        for entry in (part.strip() for part in setting.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise TrustedProxyError(
                    f"CAREFLOW_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                    "(expected e.g. 127.0.0.1, 10.0.0.0/8)"
                ) from None
        return cls(tuple(networks))

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_of(self, peer: str | None, forwarded_for: Sequence[str]) -> str | None:
        """The client's address, given the connection's peer and the header values."""
        if peer is None or not self.trusts(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            if not hop:
                continue
            if not self.trusts(hop):
                # Whatever the client wrote further left is not evidence of anything.
                return hop[:64]
        return peer


def client_address(request: Request, proxies: TrustedProxies) -> str | None:
    """The address of whoever sent `request` (see the module docstring)."""
    peer = request.client.host if request.client else None
    return proxies.client_of(peer, request.headers.getlist("x-forwarded-for"))
