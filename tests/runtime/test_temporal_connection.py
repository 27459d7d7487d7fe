"""Every careflow command reaches Temporal through `careflow/temporal_connection.py`,
with Temporal's own settings: checked here for a namespace other than `default`,
over TLS through a proxy with a throwaway CA, with a client certificate, and with an
API key checked by a gateway; each mistake is one line naming the setting."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from careflow.config import Settings
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.temporal_connection import (
    TemporalConnectionError,
    connect_failure,
    connect_temporal,
    load_temporal_connection,
)
from tests.faults.tcp_proxy import TcpProxy
from tests.runtime.api_key_gate import ApiKeyGate
from tests.runtime.conftest import API_KEY, NAMESPACE, Pki
from tests.smtp_sink import free_port

SETTINGS = Settings(temporal_port=17233)


def load(env: dict[str, str]):  # type: ignore[no-untyped-def]
    return load_temporal_connection(SETTINGS, env)


def problem(env: dict[str, str]) -> str:
    with pytest.raises(TemporalConnectionError) as caught:
        load(env)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- reading the settings -------------------------------------------------------------


def test_no_address_means_the_embedded_server_on_careflow_temporal_port() -> None:
    connection = load({})
    assert connection.embedded
    assert connection.address == "127.0.0.1:17233"
    assert connection.namespace == "default"
    assert connection.tls is False


def test_environment_variables_are_temporals_own() -> None:
    connection = load(
        {
            "TEMPORAL_ADDRESS": "temporal.example.com:7233",
            "TEMPORAL_NAMESPACE": "care",
            "TEMPORAL_GRPC_META_X_TEAM": "care-ops",
        }
    )
    assert not connection.embedded
    assert connection.address == "temporal.example.com:7233"
    assert connection.namespace == "care"
    assert connection.rpc_metadata == {"x-team": "care-ops"}


def test_an_api_key_turns_tls_on() -> None:
    connection = load({"TEMPORAL_ADDRESS": "x.tmprl.cloud:7233", "TEMPORAL_API_KEY": "k"})
    assert connection.api_key == "k"
    assert connection.tls is True


def test_the_deprecated_namespace_variable_still_works_but_loses_to_temporals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert load({"CAREFLOW_TEMPORAL_NAMESPACE": "old"}).namespace == "old"
    assert "CAREFLOW_TEMPORAL_NAMESPACE is deprecated" in caplog.text
    both = {"CAREFLOW_TEMPORAL_NAMESPACE": "old", "TEMPORAL_NAMESPACE": "new"}
    assert load(both).namespace == "new"


def test_a_profile_file_with_tls_files(tmp_path: Path, pki: Pki) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(
        f"""
[profile.default]
address = "127.0.0.1:1"

[profile.prod]
address = "temporal.test:7233"
namespace = "care"

[profile.prod.tls]
server_ca_cert_path = "{pki.ca_file}"
client_cert_path = "{pki.client_cert_file}"
client_key_path = "{pki.client_key_file}"
server_name = "temporal.test"
"""
    )
    env = {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "prod"}
    connection = load(env)
    assert (connection.address, connection.namespace) == ("temporal.test:7233", "care")
    assert isinstance(connection.tls, TLSConfig)
    assert connection.tls.server_root_ca_cert == pki.ca_file.read_bytes()
    assert connection.tls.client_cert == pki.client_cert_file.read_bytes()
    assert connection.tls.domain == "temporal.test"
    # The environment overrides the file, as in every Temporal tool.
    assert load({**env, "TEMPORAL_NAMESPACE": "other"}).namespace == "other"

    config.write_text(config.read_text().replace(str(pki.ca_file), "/nowhere/ca.pem"))
    assert problem(env) == (
        f"tls.server_ca_cert_path in {config} [profile prod]: cannot read /nowhere/ca.pem: "
        "no such file"
    )
    assert problem({**env, "TEMPORAL_PROFILE": "staging"}) == (
        f"TEMPORAL_PROFILE: no profile 'staging' in {config}"
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("[profile.default\naddress = 1\n")
    assert problem({"TEMPORAL_CONFIG_FILE": str(broken)}).startswith(
        f"TEMPORAL_CONFIG_FILE {broken}: Configuration loading error: TOML parse error at line 1"
    )


def test_configuration_mistakes_name_the_setting(tmp_path: Path, pki: Pki) -> None:
    base = {"TEMPORAL_ADDRESS": "temporal.test:7233"}
    assert problem(
        {**base, "TEMPORAL_TLS_CLIENT_CERT_PATH": "/x", "TEMPORAL_TLS_CLIENT_KEY_PATH": "/y"}
    ) == ("TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read /x: no such file")
    assert problem({**base, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(tmp_path)}).startswith(
        f"TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read {tmp_path}: "
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    assert problem({**base, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(garbage)}) == (
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH: not a PEM CA certificate"
    )
    other_key = tmp_path / "other.key"
    other_key.write_bytes(trustme_key(pki))
    assert problem(
        {
            **base,
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client_cert_file),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(other_key),
        }
    ) == (
        "TEMPORAL_TLS_CLIENT_KEY_PATH: the key does not belong to the certificate of "
        "TEMPORAL_TLS_CLIENT_CERT_PATH"
    )
    assert (
        problem(
            {
                **base,
                "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client_cert_file),
                "TEMPORAL_TLS_CLIENT_KEY_PATH": str(garbage),
            }
        )
        == "TEMPORAL_TLS_CLIENT_KEY_PATH: not a PEM private key"
    )
    assert problem({**base, "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client_cert_file)}) == (
        "TEMPORAL_TLS_CLIENT_KEY_PATH: not set, but TEMPORAL_TLS_CLIENT_CERT_PATH is; "
        "a client certificate needs its key"
    )
    assert problem({**base, "TEMPORAL_TLS": "maybe"}) == (
        "TEMPORAL_TLS: expected true or false, got 'maybe'"
    )
    assert problem({"TEMPORAL_CONFIG_FILE": "/nowhere.toml"}) == (
        "TEMPORAL_CONFIG_FILE: cannot read /nowhere.toml: no such file"
    )


def trustme_key(pki: Pki) -> bytes:
    """The private key of a certificate other than the client's."""
    return pki.ca.issue_cert("someone-else@example.com").private_key_pem.bytes()


# --- connecting -----------------------------------------------------------------------


async def connect_with(env: dict[str, str]):  # type: ignore[no-untyped-def]
    return await connect_temporal(load(env))


async def connect_problem(env: dict[str, str]) -> str:
    with pytest.raises(TemporalConnectionError) as caught:
        await connect_with(env)
    message = str(caught.value)
    assert "\n" not in message
    return message


async def test_a_namespace_other_than_default(namespaced_temporal: EmbeddedTemporal) -> None:
    address = namespaced_temporal.address
    client = await connect_with({"TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": NAMESPACE})
    assert client.namespace == NAMESPACE
    assert await connect_problem(
        {"TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "careflow-typo"}
    ) == (f"namespace 'careflow-typo' does not exist at {address} — check TEMPORAL_NAMESPACE")
    # Nothing listens: said in a line, after trying once (no patience given).
    assert (await connect_problem({"TEMPORAL_ADDRESS": "127.0.0.1:1"})).startswith(
        "cannot reach Temporal at 127.0.0.1:1: connection refused — check TEMPORAL_ADDRESS"
    )


async def test_tls_through_a_terminating_proxy(tls_proxy: TcpProxy, pki: Pki) -> None:
    tls = {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{tls_proxy.port}",
        "TEMPORAL_NAMESPACE": NAMESPACE,
        "TEMPORAL_TLS": "true",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca_file),
    }
    client = await connect_with(tls)
    handle = await client.start_workflow(
        "NoSuchWorkflow", id=f"tls-{uuid.uuid4().hex}", task_queue="nobody-polls"
    )
    assert (await handle.describe()).namespace == NAMESPACE
    # By name: the certificate is for temporal.test, reached at 127.0.0.1.
    await connect_with({**tls, "TEMPORAL_TLS_SERVER_NAME": "temporal.test"})

    assert await connect_problem(
        {**tls, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.other_ca_file)}
    ) == (
        "TLS handshake with 127.0.0.1 failed: certificate signed by unknown authority "
        "— check TEMPORAL_TLS_SERVER_CA_CERT_PATH"
    )
    assert (
        await connect_problem({**tls, "TEMPORAL_TLS_SERVER_NAME": "temporal.example.com"})
    ).startswith(
        "TLS handshake with 127.0.0.1 failed: its certificate is not valid for that name "
        "— check TEMPORAL_TLS_SERVER_NAME"
    )
    # Plaintext to a TLS port, and TLS to a plaintext one.
    assert "if it expects TLS, set TEMPORAL_TLS=true" in await connect_problem(
        {"TEMPORAL_ADDRESS": tls["TEMPORAL_ADDRESS"], "TEMPORAL_NAMESPACE": NAMESPACE}
    )


async def test_tls_to_a_plaintext_server_is_named(
    namespaced_temporal: EmbeddedTemporal, pki: Pki
) -> None:
    assert await connect_problem(
        {
            "TEMPORAL_ADDRESS": namespaced_temporal.address,
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca_file),
        }
    ) == (
        "TLS handshake with 127.0.0.1 failed: the server does not speak TLS on "
        f"{namespaced_temporal.address} — check TEMPORAL_TLS "
        "(TLS is on because TEMPORAL_TLS_SERVER_CA_CERT_PATH is set)"
    )


async def test_a_client_certificate(mtls_proxy: TcpProxy, pki: Pki) -> None:
    tls = {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{mtls_proxy.port}",
        "TEMPORAL_NAMESPACE": NAMESPACE,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca_file),
    }
    client = await connect_with(
        {
            **tls,
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client_cert_file),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki.client_key_file),
        }
    )
    assert client.namespace == NAMESPACE
    assert await connect_problem(tls) == (
        "TLS handshake with 127.0.0.1 failed: the server closed the connection; it may "
        "require a client certificate — check TEMPORAL_TLS_CLIENT_CERT_PATH and "
        "TEMPORAL_TLS_CLIENT_KEY_PATH"
    )


async def test_an_api_key_travels_as_a_bearer_token(api_key_gate: ApiKeyGate, pki: Pki) -> None:
    cloud = {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{api_key_gate.port}",
        "TEMPORAL_NAMESPACE": NAMESPACE,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca_file),
    }
    client = await connect_with({**cloud, "TEMPORAL_API_KEY": API_KEY})
    assert client.namespace == NAMESPACE
    assert set(api_key_gate.presented) == {f"Bearer {API_KEY}"}

    assert await connect_problem({**cloud, "TEMPORAL_API_KEY": "cf-stale-key"}) == (
        f"Temporal at {cloud['TEMPORAL_ADDRESS']} refused the API key (Request unauthorized.) "
        "— check TEMPORAL_API_KEY"
    )
    assert api_key_gate.presented[-1] == "Bearer cf-stale-key"
    assert (await connect_problem(cloud)).startswith(
        f"Temporal at {cloud['TEMPORAL_ADDRESS']} requires authentication"
    )
    assert api_key_gate.presented[-1] is None


async def test_nothing_listening_over_tls_is_not_blamed_on_a_certificate() -> None:
    # Without a client certificate, a server that ends the connection after the
    # handshake is taken to want one; a port where nothing listens is just refused.
    port = free_port()
    assert await connect_problem(
        {"TEMPORAL_ADDRESS": f"127.0.0.1:{port}", "TEMPORAL_TLS": "true"}
    ) == (f"cannot reach Temporal at 127.0.0.1:{port}: connection refused — check TEMPORAL_ADDRESS")


# A TLS server hangs up on a plaintext client's HTTP/2 preface, and what the Rust client
# reports depends on where in its handshake the hang-up lands. These are the texts seen
# on this project's CI and on a loaded machine; each must give the same line.
PLAINTEXT_HUNG_UP = {
    "mid-write": (
        "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
        'hyper::Error(Io, Os { code: 32, kind: BrokenPipe, message: "Broken pipe" }))'
    ),
    "preface unread": (
        "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
        'hyper::Error(Io, Os { code: 104, kind: ConnectionReset, message: "Connection reset '
        'by peer" }))'
    ),
    "during the HTTP/2 handshake": (
        "Failed client connect: `get_system_info` call error after connection: Status { "
        'code: Cancelled, message: "operation was canceled", source: Some(tonic::transport::'
        'Error(Transport, hyper::Error(Canceled, "connection closed"))) }'
    ),
    "between reads": (
        "Failed client connect: `get_system_info` call error after connection: Status { "
        'code: Unavailable, message: "transport error", source: None }'
    ),
}


@pytest.mark.parametrize("text", PLAINTEXT_HUNG_UP.values(), ids=PLAINTEXT_HUNG_UP.keys())
def test_every_way_a_tls_server_hangs_up_on_plaintext_gets_one_line(text: str) -> None:
    connection = load({"TEMPORAL_ADDRESS": "temporal.example.com:7233"})
    assert connect_failure(RuntimeError(text), connection) == (
        "Temporal at temporal.example.com:7233 closed the connection; if it expects TLS, "
        "set TEMPORAL_TLS=true",
        True,
    )
    # Refused is not a hang-up, even though tonic calls it a transport error too.
    refused = (
        "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
        'ConnectError(ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: '
        'ConnectionRefused, message: "Connection refused" })))'
    )
    assert connect_failure(RuntimeError(refused), connection)[0].startswith(
        "cannot reach Temporal at temporal.example.com:7233: connection refused"
    )


async def test_a_server_that_hangs_up_on_plaintext_is_named() -> None:
    # A real listener that accepts and closes at once, as a TLS port does to plaintext.
    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert await connect_problem({"TEMPORAL_ADDRESS": f"127.0.0.1:{port}"}) == (
            f"Temporal at 127.0.0.1:{port} closed the connection; if it expects TLS, "
            "set TEMPORAL_TLS=true"
        )
