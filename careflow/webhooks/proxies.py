"""Which HTTP proxy a delivery goes through: `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`.

aiohttp's `trust_env` reads the environment and `~/.netrc` again on every request,
in a thread of the default executor: over half a millisecond of a worker's CPU per
complaint went to it (three deliveries each; docs/benchmarks.md, issue 21 item 2,
tenth round). The environment does not change under a running process, so it is
read when the dispatcher is made, and each host's answer is kept.
`~/.netrc` is not consulted: a receiver's credentials belong in webhooks.yaml (its
secret, or the key in a robot's URL), not in the home folder of whoever runs careflow.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit


class ProxyChoice:
    """The proxy for each URL, from the environment as it was when this was made."""

    def __init__(self) -> None:
        # urllib's reading of the variables: lower case wins, `no` holds NO_PROXY.
        self._proxies = urllib.request.getproxies_environment()
        self._by_origin: dict[tuple[str, str], str | None] = {}

    def for_url(self, url: str) -> str | None:
        """The proxy URL to send `url` through, or None to connect directly."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        if origin not in self._by_origin:
            self._by_origin[origin] = self._choose(parts.scheme, parts.hostname or "")
        return self._by_origin[origin]

    def _choose(self, scheme: str, host: str) -> str | None:
        proxy = self._proxies.get(scheme)
        if proxy is None or not host:
            return None
        # NO_PROXY, as urllib reads it (on macOS and Windows, the system's list too).
        if urllib.request.proxy_bypass(host):
            return None
        return proxy
