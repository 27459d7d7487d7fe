"""A gRPC gateway on loopback that lets through only calls carrying the right API key.

It stands in for Temporal Cloud's front door: every call must carry
`authorization: Bearer <key>`; a call without it, or with another key, is refused
with UNAUTHENTICATED, as the Cloud refuses it. Calls that pass are forwarded,
bytes unchanged, to the dev server behind it. It serves TLS, since an API key is
only ever sent over TLS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
import grpc.aio


class ApiKeyGate(grpc.GenericRpcHandler):
    """Checks each call's `authorization` metadata, forwards the ones that pass."""

    def __init__(self, upstream: str, key: str) -> None:
        self.key = key
        self.channel = grpc.aio.insecure_channel(upstream)
        self.presented: list[str | None] = []  # what each call carried, in order
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers([self])
        self.port = 0

    async def start(self, certificate_chain: bytes, private_key: bytes) -> None:
        credentials = grpc.ssl_server_credentials([(private_key, certificate_chain)])
        self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop(None)
        await self.channel.close()

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        return grpc.unary_unary_rpc_method_handler(self._forwarder(method))

    def _forwarder(
        self, method: str
    ) -> Callable[[bytes, grpc.aio.ServicerContext[bytes, bytes]], Awaitable[bytes]]:
        async def forward(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            metadata = dict(context.invocation_metadata() or ())
            authorization = metadata.get("authorization")
            presented = authorization if isinstance(authorization, str) else None
            self.presented.append(presented)
            if presented != f"Bearer {self.key}":
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "Request unauthorized.")
            call = self.channel.unary_unary(method)
            try:
                response: bytes = await call(request, timeout=context.time_remaining())
            except grpc.aio.AioRpcError as error:
                await context.abort(error.code(), error.details() or "")
            return response

        return forward
