"""How every careflow command reaches Temporal: Temporal's own client conventions.

The address, namespace, API key and TLS files come from `temporalio.envconfig`,
exactly as the `temporal` CLI and the SDK samples read them: the environment
(`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
`TEMPORAL_TLS_CLIENT_CERT_PATH` / `_KEY_PATH`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH`,
`TEMPORAL_TLS_SERVER_NAME`, the `_DATA` variants, `TEMPORAL_GRPC_META_*`) over the
TOML profile file (`TEMPORAL_CONFIG_FILE`, profile `TEMPORAL_PROFILE`). With no
address anywhere, careflow uses the local dev server that `careflow up` embeds on
`CAREFLOW_TEMPORAL_PORT`. `CAREFLOW_TEMPORAL_NAMESPACE` is a deprecated alias of
`TEMPORAL_NAMESPACE`.

A mistake in any of it (a missing certificate, a key that does not match, a CA that
did not sign the server's certificate, a refused API key, an unknown namespace) is a
`TemporalConnectionError` whose message is one line naming the setting to fix.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, Interceptor
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS, DataSource
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from careflow.config import Settings
from careflow.temporal_runtime import default_runtime

log = logging.getLogger(__name__)

DEPRECATED_NAMESPACE_VARIABLE = "CAREFLOW_TEMPORAL_NAMESPACE"
DEFAULT_NAMESPACE = "default"

# What `TEMPORAL_TLS` may say; envconfig reads anything else as "TLS on", silently.
_TLS_SWITCH = {"true": True, "1": True, "false": False, "0": False}

# Which setting holds each TLS file, as environment variable and as profile-file key.
_TLS_FILES = {
    "server_root_ca_cert": ("TEMPORAL_TLS_SERVER_CA_CERT", "server_ca_cert"),
    "client_cert": ("TEMPORAL_TLS_CLIENT_CERT", "client_cert"),
    "client_private_key": ("TEMPORAL_TLS_CLIENT_KEY", "client_key"),
}


class TemporalConnectionError(Exception):
    """Temporal cannot be used as configured; the message is one line naming the setting."""


@dataclass(frozen=True)
class TemporalConnection:
    """Where and how to connect, resolved once from the environment and profile file."""

    address: str
    namespace: str
    # No address configured anywhere: the dev server `careflow up` runs on this machine.
    embedded: bool
    api_key: str | None = None
    tls: TLSConfig | bool = False
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    # The setting each part came from, for error messages ("TEMPORAL_TLS_SERVER_NAME",
    # "tls.server_name in /etc/temporal.toml [profile prod]").
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The server's host name, as TLS errors name it."""
        return self.address.rsplit(":", 1)[0]

    @property
    def uses_tls(self) -> bool:
        return self.tls is not False

    def origin(self, part: str, default: str) -> str:
        return self.origins.get(part, default)

    def describe(self) -> str:
        """One line for start-up messages: address, namespace, how it authenticates."""
        how = ["TLS" if self.uses_tls else "plaintext"]
        if self.api_key:
            how.append("API key")
        if isinstance(self.tls, TLSConfig) and self.tls.client_cert:
            how.append("client certificate")
        return f"{self.address} namespace {self.namespace} ({', '.join(how)})"


def load_temporal_connection(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> TemporalConnection:
    """Resolve the connection from `environ` (default: this process's environment).

    Certificate and key files are read and checked here, so a wrong path or a key
    that does not belong to its certificate is reported before any network traffic.
    """
    env = dict(os.environ if environ is None else environ)
    alias = env.get(DEPRECATED_NAMESPACE_VARIABLE)
    namespace_from_alias = bool(alias) and "TEMPORAL_NAMESPACE" not in env
    if alias:
        log.warning(
            "%s is deprecated; set TEMPORAL_NAMESPACE (Temporal's own variable) instead",
            DEPRECATED_NAMESPACE_VARIABLE,
        )
    if alias and namespace_from_alias:
        # Mapped into the environment envconfig reads: it overrides the profile file
        # like any other variable, and TEMPORAL_NAMESPACE still wins over it.
        env["TEMPORAL_NAMESPACE"] = alias
    switch = env.get("TEMPORAL_TLS")
    if switch is not None and switch.strip().lower() not in _TLS_SWITCH:
        raise TemporalConnectionError(f"TEMPORAL_TLS: expected true or false, got {switch!r}")
    config_file = env.get("TEMPORAL_CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        raise TemporalConnectionError(
            f"TEMPORAL_CONFIG_FILE: cannot read {config_file}: no such file"
        )
    try:
        profile = ClientConfigProfile.load(override_env_vars=env)
    except RuntimeError as error:  # the bridge's ConfigError: bad TOML, unknown profile
        file = config_file or "the Temporal config file"
        detail = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        if detail.startswith("Profile '") and detail.endswith("' not found"):
            raise TemporalConnectionError(
                f"TEMPORAL_PROFILE: no profile {env.get('TEMPORAL_PROFILE')!r} in {file}"
            ) from None
        raise TemporalConnectionError(f"TEMPORAL_CONFIG_FILE {file}: {detail}") from None

    in_file = _file_origin(env)
    origins: dict[str, str] = {}
    tls_in_profile = profile.tls or ClientConfigTLS()
    for part, variable, file_key, value in (
        ("address", "TEMPORAL_ADDRESS", "address", profile.address),
        ("namespace", "TEMPORAL_NAMESPACE", "namespace", profile.namespace),
        ("api_key", "TEMPORAL_API_KEY", "api_key", profile.api_key),
        ("server_name", "TEMPORAL_TLS_SERVER_NAME", "tls.server_name", tls_in_profile.server_name),
        ("tls", "TEMPORAL_TLS", "tls.disabled", tls_in_profile.disabled),
    ):
        if variable in env:
            origins[part] = variable
        elif value is not None:
            origins[part] = f"{file_key} {in_file}"
    if namespace_from_alias:
        origins["namespace"] = DEPRECATED_NAMESPACE_VARIABLE
    if "TEMPORAL_TLS" not in env:
        # TLS turned on by another setting (a CA, a certificate, an API key): name that.
        implicit = sorted(
            name for name in env if name.startswith("TEMPORAL_TLS_") or name == "TEMPORAL_API_KEY"
        )
        if implicit:
            origins["tls"] = f"TEMPORAL_TLS (TLS is on because {implicit[0]} is set)"

    embedded = not profile.address
    tls: TLSConfig | bool = False
    if profile.tls is not None:
        tls = _tls_config(profile.tls, env, in_file, origins)
    elif profile.api_key is not None:
        tls = True  # an API key is only ever sent over TLS (envconfig's rule too)
    return TemporalConnection(
        address=profile.address or f"127.0.0.1:{settings.temporal_port}",
        namespace=profile.namespace or DEFAULT_NAMESPACE,
        embedded=embedded,
        api_key=profile.api_key,
        tls=tls,
        rpc_metadata=dict(profile.grpc_meta),
        origins=origins,
    )


def _file_origin(env: Mapping[str, str]) -> str:
    path = env.get("TEMPORAL_CONFIG_FILE") or "the Temporal config file"
    return f"in {path} [profile {env.get('TEMPORAL_PROFILE') or 'default'}]"


def _tls_config(
    tls: ClientConfigTLS, env: Mapping[str, str], in_file: str, origins: dict[str, str]
) -> TLSConfig | bool:
    """Read and check the TLS files; False when TLS is switched off explicitly."""
    if tls.disabled is True:
        return False
    contents: dict[str, bytes | None] = {}
    for part, (variable, file_key) in _TLS_FILES.items():
        source: DataSource | None = getattr(tls, part)
        if source is None:
            contents[part] = None
            continue
        if f"{variable}_PATH" in env:
            setting = f"{variable}_PATH"
        elif f"{variable}_DATA" in env:
            setting = f"{variable}_DATA"
        else:
            kind = "path" if isinstance(source, Path) else "data"
            setting = f"tls.{file_key}_{kind} {in_file}"
        origins[part] = setting
        contents[part] = _read_source(source, setting)
    _check_pem(contents, origins)
    return TLSConfig(
        domain=tls.server_name,
        server_root_ca_cert=contents["server_root_ca_cert"],
        client_cert=contents["client_cert"],
        client_private_key=contents["client_private_key"],
    )


def _read_source(source: DataSource | None, setting: str) -> bytes | None:
    if source is None:
        return None
    if isinstance(source, bytes):
        return source
    if isinstance(source, str):
        return source.encode()
    try:
        return source.read_bytes()
    except FileNotFoundError:
        raise TemporalConnectionError(f"{setting}: cannot read {source}: no such file") from None
    except OSError as error:
        raise TemporalConnectionError(
            f"{setting}: cannot read {source}: {error.strerror}"
        ) from None


def _check_pem(contents: Mapping[str, bytes | None], origins: Mapping[str, str]) -> None:
    """The CA, certificate and key parse, and the key belongs to the certificate.

    The Rust client would take an unreadable CA as "no CA" and fail later with an
    unknown-issuer error that points nowhere near the real mistake.
    """
    ca = contents["server_root_ca_cert"]
    if ca is not None:
        try:
            ssl.create_default_context(cadata=ca.decode(errors="replace"))
        except (ssl.SSLError, ValueError):
            raise TemporalConnectionError(
                f"{origins['server_root_ca_cert']}: not a PEM CA certificate"
            ) from None
    cert, key = contents["client_cert"], contents["client_private_key"]
    if cert is not None and key is None:
        raise TemporalConnectionError(
            f"TEMPORAL_TLS_CLIENT_KEY_PATH: not set, but {origins['client_cert']} is; "
            "a client certificate needs its key"
        )
    if key is not None and cert is None:
        raise TemporalConnectionError(
            f"TEMPORAL_TLS_CLIENT_CERT_PATH: not set, but {origins['client_private_key']} is; "
            "a client key needs its certificate"
        )
    if cert is None or key is None:
        return
    # load_cert_chain takes files only: write both to a private folder for the check.
    with tempfile.TemporaryDirectory(prefix="careflow-tls-") as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert)
        key_file.write_bytes(key)
        try:
            ssl.create_default_context().load_cert_chain(cert_file, key_file)
        except ssl.SSLError as error:
            reason = error.reason or ""
            if "KEY_VALUES_MISMATCH" in reason:
                message = (
                    f"{origins['client_private_key']}: the key does not belong to the "
                    f"certificate of {origins['client_cert']}"
                )
            elif b"PRIVATE KEY" not in key:
                message = f"{origins['client_private_key']}: not a PEM private key"
            else:
                message = f"{origins['client_cert']}: not a PEM certificate ({reason or error})"
            raise TemporalConnectionError(message) from None


async def connect_temporal(
    connection: TemporalConnection,
    *,
    patience: float = 0.0,
    still_starting: Callable[[], None] | None = None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect and check the namespace exists; raise TemporalConnectionError if not.

    A server that cannot be reached yet is tried again for `patience` seconds
    (`still_starting` may raise to give up early, e.g. when a child server died);
    a configuration mistake (certificate, key, API key, namespace) fails at once.
    `runtime` and `interceptors` are for metrics and tracing; without `runtime`, the
    process's (careflow/temporal_runtime.py: never the SDK's own default, which
    prints the core's log lines on standard output).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    waiting_said = False
    while True:
        try:
            client = await Client.connect(
                connection.address,
                namespace=connection.namespace,
                api_key=connection.api_key,
                tls=connection.tls,
                rpc_metadata=dict(connection.rpc_metadata),
                runtime=runtime or default_runtime(),
                interceptors=interceptors,
            )
            await _check_namespace(client, connection)
            return client
        except RuntimeError as error:
            message, unreachable = connect_failure(error, connection)
            if not unreachable or loop.time() > deadline:
                raise TemporalConnectionError(message) from None
        except RPCError as error:
            if error.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                raise
            message = f"cannot reach Temporal at {connection.address}: {error.message}"
            if loop.time() > deadline:
                raise TemporalConnectionError(message) from None
        if not waiting_said and still_starting is None:
            log.warning("%s; trying again for up to %.0f s", message, deadline - loop.time())
            waiting_said = True
        if still_starting is not None:
            still_starting()
        await asyncio.sleep(0.25)


async def _check_namespace(client: Client, connection: TemporalConnection) -> None:
    # Connecting does not look at the namespace; without this a worker in a mistyped
    # namespace would start and then fail its first poll with a long trace.
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=connection.namespace)
        )
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise TemporalConnectionError(
                f"namespace {connection.namespace!r} does not exist at {connection.address} "
                f"— check {connection.origin('namespace', 'TEMPORAL_NAMESPACE')}"
            ) from None
        if error.status in (RPCStatusCode.UNAUTHENTICATED, RPCStatusCode.PERMISSION_DENIED):
            raise TemporalConnectionError(_refused(connection, error.message)) from None
        raise


def connect_failure(error: Exception, connection: TemporalConnection) -> tuple[str, bool]:
    """One line for a failed connect, and whether it is worth trying again.

    The Rust client reports failures as text (rustls and tonic error names); this is
    the one place that reads them.
    """
    text = str(error)
    host, address = connection.host, connection.address
    ca = connection.origin("server_root_ca_cert", "TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    name = connection.origin("server_name", "TEMPORAL_TLS_SERVER_NAME")
    cert = connection.origin("client_cert", "TEMPORAL_TLS_CLIENT_CERT_PATH")
    key = connection.origin("client_private_key", "TEMPORAL_TLS_CLIENT_KEY_PATH")
    checks: list[tuple[tuple[str, ...], str]] = [
        (
            ("UnknownIssuer",),
            f"TLS handshake with {host} failed: certificate signed by unknown authority "
            f"— check {ca}",
        ),
        (
            ("NotValidForName",),
            f"TLS handshake with {host} failed: its certificate is not valid for that name "
            f"— check {name} (or the host in {connection.origin('address', 'TEMPORAL_ADDRESS')})",
        ),
        (
            ("Expired",),
            f"TLS handshake with {host} failed: a certificate has expired — check {ca}",
        ),
        (
            ("InvalidContentType", "CorruptMessage", "InvalidMessage"),
            f"TLS handshake with {host} failed: the server does not speak TLS on {address} "
            f"— check {connection.origin('tls', 'TEMPORAL_TLS')}",
        ),
        (("KeyMismatch", "InconsistentKeys"), f"{key}: the key does not belong to {cert}"),
        (("PrivateKeyParseError",), f"{key}: not a PEM private key"),
        (("Unauthenticated", "PermissionDenied"), _refused(connection, _status_message(text))),
    ]
    for needles, message in checks:
        if any(needle in text for needle in needles):
            return message, False
    presents_certificate = isinstance(connection.tls, TLSConfig) and bool(
        connection.tls.client_cert
    )
    # A server that wants a client certificate ends the connection right after the
    # handshake; depending on timing the client sees close_notify, an unexpected EOF,
    # just a transport error, or its HTTP/2 handshake cancelled under it ("operation
    # was canceled", seen on a loaded machine). Without a certificate configured, that
    # is the likely cause, whichever of them arrives.
    closed: tuple[str, ...] = ("close_notify", "UnexpectedEof")
    if connection.uses_tls and not presents_certificate and "ConnectionRefused" not in text:
        closed += ("transport error", "operation was canceled")
    if connection.uses_tls and any(needle in text for needle in closed):
        return (
            f"TLS handshake with {host} failed: the server closed the connection; it may "
            f"require a client certificate — check {cert} and {key}",
            False,
        )
    # A TLS server hangs up on a plaintext client's HTTP/2 preface. Which of these the
    # client reports depends on when the hang-up lands: mid-write (broken pipe), with the
    # preface unread (reset), during the HTTP/2 handshake (cancelled), or between reads,
    # where tonic says only "transport error". All seen on this project's CI; any of
    # them, on a port that accepted the connection, means the same thing.
    hung_up = ("brokenpipe", "connection reset", "operation was canceled", "transport error")
    accepted = not any(needle in text for needle in ("ConnectionRefused", "TimedOut", "timed out"))
    if not connection.uses_tls and accepted and any(needle in text.lower() for needle in hung_up):
        return (
            f"Temporal at {address} closed the connection; if it expects TLS, set "
            "TEMPORAL_TLS=true",
            True,
        )
    hint = "start `careflow up`" if connection.embedded else "check TEMPORAL_ADDRESS"
    reason = "connection refused" if "ConnectionRefused" in text else _status_message(text)
    return f"cannot reach Temporal at {address}: {reason} — {hint}", True


def _refused(connection: TemporalConnection, reason: str) -> str:
    if connection.api_key:
        setting = connection.origin("api_key", "TEMPORAL_API_KEY")
        return f"Temporal at {connection.address} refused the API key ({reason}) — check {setting}"
    return (
        f"Temporal at {connection.address} requires authentication ({reason}) — set "
        "TEMPORAL_API_KEY or a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH)"
    )


def _status_message(text: str) -> str:
    """The readable part of a tonic error: its `message: "..."`, else its first line."""
    marker = 'message: "'
    if marker in text:
        return text.split(marker, 1)[1].split('"', 1)[0]
    first = text.splitlines()[0] if text else "unknown error"
    return first.removeprefix("Failed client connect: ")
