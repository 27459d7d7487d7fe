"""Loopback ports for servers careflow starts and must name a port for."""

from __future__ import annotations

import socket


def free_loopback_port() -> int:
    """A port free on loopback right now. Another process may take it before the
    caller's server binds it: callers that cannot rule that out check the bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
