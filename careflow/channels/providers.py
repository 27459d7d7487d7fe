"""SMS provider adapters behind one interface: `await provider.send(sms)` -> the provider's id.

- `GenericHttpSms`: one JSON POST per SMS to a gateway (the embedded capture gateway of
  `careflow up` speaks it), field names configurable in `rules/sms.yaml`.
- `AliyunSms`: Alibaba Cloud SMS `SendSms` through its published RPC API: the request's
  parameters are signed with HMAC-SHA1 of the access key secret (signature version
  1.0: the sorted, percent-encoded query, prefixed `GET&%2F&`), credentials from
  `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET`.

A refusal that no retry can change (a bad number, an unknown template, a missing
credential) raises `PermanentSmsError` with the provider's code; anything else
(the network, a 5xx, throttling) raises `TransientSmsError`, so Temporal retries it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

import httpx

from careflow.channels.config import AliyunSms as AliyunSettings
from careflow.channels.config import GenericGateway

ALIYUN_ACCESS_KEY_ID_VAR = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ALIYUN_ACCESS_KEY_VAR = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
# Alibaba Cloud answers these codes for mistakes a retry repeats.
_ALIYUN_TRANSIENT = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "isp.SYSTEM_ERROR"})


@dataclass(frozen=True)
class Sms:
    """One SMS as careflow sends it; `message_id` derives from the ledger key."""

    to: str  # E.164
    text: str  # the full text: 【signature】 body [opt-out]
    signature: str  # the registered signature, without brackets
    template_code: str
    params: dict[str, str] = field(default_factory=dict)
    message_id: str = ""


class SmsError(Exception):
    """The provider did not take the SMS; `code` is the provider's own when it gave one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentSmsError(SmsError):
    """A refusal a retry would repeat."""


class TransientSmsError(SmsError):
    """A failure a retry may not meet."""


class SmsProvider(Protocol):
    async def send(self, sms: Sms) -> str:
        """Send it; the provider's message id."""
        ...


class GenericHttpSms:
    """A gateway taking `{"to", "text", "signature", "template_code", "params",
    "message_id"}` (renamed per `fields`, plus `extra`) and answering its id."""

    def __init__(self, settings: GenericGateway, client: httpx.AsyncClient, *, url: str) -> None:
        self.settings = settings
        self.client = client
        self.url = url

    async def send(self, sms: Sms) -> str:
        values: dict[str, object] = {
            "to": sms.to,
            "text": sms.text,
            "signature": sms.signature,
            "template_code": sms.template_code,
            "params": sms.params,
            "message_id": sms.message_id,
        }
        body: dict[str, object] = dict(self.settings.extra)
        for name, value in values.items():
            target = self.settings.field_name(name)
            if target:
                body[target] = value
        headers = {}
        if self.settings.token_env:
            token = os.environ.get(self.settings.token_env, "")
            if not token:
                raise PermanentSmsError(
                    f"environment variable {self.settings.token_env} is not set"
                )
            headers["authorization"] = f"Bearer {token}"
        try:
            response = await self.client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise TransientSmsError(f"SMS gateway unreachable: {error!r}") from error
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientSmsError(f"SMS gateway answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentSmsError(
                f"SMS gateway refused it: HTTP {response.status_code}: {response.text[:200]}",
                code=str(response.status_code),
            )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        found = answer.get(self.settings.id_field) if isinstance(answer, dict) else None
        return str(found or sms.message_id)


def aliyun_percent_encode(value: str) -> str:
    """Percent-encoding as Alibaba Cloud's RPC signature defines it (RFC 3986, `~` kept)."""
    return quote(value, safe="~")


def aliyun_signature(parameters: dict[str, str], secret: str, method: str = "GET") -> str:
    """The `Signature` of an Alibaba Cloud RPC request (HMAC-SHA1, version 1.0)."""
    canonical = "&".join(
        f"{aliyun_percent_encode(key)}={aliyun_percent_encode(parameters[key])}"
        for key in sorted(parameters)
    )
    to_sign = f"{method}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def aliyun_phone(e164: str) -> str:
    """Alibaba Cloud's form of a number: mainland numbers without +86, others with the
    country code and no +."""
    return e164.removeprefix("+86") if e164.startswith("+86") else e164.removeprefix("+")


class AliyunSmsProvider:
    """Alibaba Cloud SMS `SendSms` (API version 2017-05-25)."""

    def __init__(
        self,
        settings: AliyunSettings,
        client: httpx.AsyncClient,
        *,
        clock: type[datetime] = datetime,
    ) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock

    async def send(self, sms: Sms) -> str:
        key_id = os.environ.get(ALIYUN_ACCESS_KEY_ID_VAR, "")
        secret = os.environ.get(ALIYUN_ACCESS_KEY_VAR, "")
        if not key_id or not secret:
            raise PermanentSmsError(f"set {ALIYUN_ACCESS_KEY_ID_VAR} and {ALIYUN_ACCESS_KEY_VAR}")
        parameters = {
            "AccessKeyId": key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": aliyun_phone(sms.to),
            "RegionId": self.settings.region,
            "SignName": sms.signature,
            "SignatureMethod": "HMAC-SHA1",
            # Unique per request, as the API requires; the ledger key's id is.
            "SignatureNonce": hashlib.sha256(
                f"{sms.message_id}|{self.clock.now(UTC).isoformat()}".encode()
            ).hexdigest()[:32],
            "SignatureVersion": "1.0",
            "TemplateCode": sms.template_code,
            "TemplateParam": json.dumps(sms.params, ensure_ascii=False, sort_keys=True),
            "Timestamp": self.clock.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
            # Comes back on delivery receipts: careflow's id of the message.
            "OutId": sms.message_id,
        }
        parameters["Signature"] = aliyun_signature(parameters, secret)
        try:
            response = await self.client.get(self.settings.endpoint, params=parameters)
        except httpx.HTTPError as error:
            raise TransientSmsError(f"Alibaba Cloud SMS unreachable: {error!r}") from error
        try:
            answer = response.json()
        except ValueError:
            raise TransientSmsError(
                f"Alibaba Cloud SMS answered HTTP {response.status_code} without JSON"
            ) from None
        code = str(answer.get("Code", "")) if isinstance(answer, dict) else ""
        if code == "OK":
            return str(answer.get("BizId") or sms.message_id)
        message = answer.get("Message", "") if isinstance(answer, dict) else ""
        if response.status_code >= 500 or code in _ALIYUN_TRANSIENT:
            raise TransientSmsError(f"Alibaba Cloud SMS: {code}: {message}", code=code)
        raise PermanentSmsError(f"Alibaba Cloud SMS refused it: {code}: {message}", code=code)
