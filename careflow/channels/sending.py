"""The SMS side of the send step: which channel, the text, and the provider.

`SmsChannel` is what the send activity (activities/outreach.py) asks: the order of
channels for a message and a customer (rules/sms.yaml `channels`, the customer's
`preferred_channel` first), the SMS for a message (rendered, signed, with the opt-out
text for marketing, the template code and its parameters), and its sending. The
files are re-read when they change, like every operator file; without `sms.yaml`
every message goes by email, exactly as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from careflow.channels.config import (
    SMS_FILE_NAME,
    AliyunSms,
    SmsConfig,
    SmsConfigError,
    load_sms_config,
)
from careflow.channels.phone import to_e164
from careflow.channels.providers import AliyunSmsProvider, GenericHttpSms, Sms, SmsProvider
from careflow.channels.templates import SmsRenderer, context_value, full_text
from careflow.outreach.templates import TemplateProblem

EMAIL, SMS_CHANNEL = "email", "sms"
# The capture gateway's stand-in for an SmsChannel that only decides (a campaign's
# preview, a simulation): `url: capture` is judged as `careflow up` serves it; nothing
# is ever sent there.
DECIDING_ONLY_URL = "http://capture.invalid"


def sms_message_id(key: str) -> str:
    """The SMS's own id, derived from the ledger key: receipts name the message by it."""
    return "cf-" + hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SmsSetup:
    """`sms.yaml` as it is now, or why SMS cannot be used."""

    config: SmsConfig | None
    problem: str | None = None


class SmsChannel:
    """SMS for the send step: configuration, templates and the provider."""

    def __init__(
        self,
        rules_dir: Path,
        templates_dir: Path,
        *,
        capture_url: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.path = rules_dir / SMS_FILE_NAME
        self.renderer = SmsRenderer(templates_dir)
        self.capture_url = capture_url
        # Made at the first SMS: most workers of most deployments never send one.
        self._client = client
        # sms.yaml's in_flight, and the slots for it (remade when the file changes it).
        self._slots: tuple[int, asyncio.Semaphore] | None = None

    def setup(self) -> SmsSetup:
        try:
            return SmsSetup(load_sms_config(self.path))
        except SmsConfigError as error:
            return SmsSetup(None, f"{SMS_FILE_NAME} is broken: {error.problems[0]}")

    def order(self, template_id: str, preferred: str | None) -> list[str]:
        """The channels to try, in order: email only while SMS cannot be used at all (no
        sms.yaml, a broken one, or the capture gateway outside `careflow up`)."""
        config = self.setup().config
        if config is None:
            return [EMAIL]
        if config.provider == "generic" and self._generic_url(config) is None:
            return [EMAIL]
        return config.order(template_id, preferred)

    def gateway_problem(self) -> str | None:
        """Why no SMS can leave now (no sms.yaml, a broken one, the capture gateway outside
        `careflow up`), or None."""
        setup = self.setup()
        if setup.config is None:
            return setup.problem or f"no {SMS_FILE_NAME}"
        if setup.config.provider == "generic" and self._generic_url(setup.config) is None:
            return "the SMS gateway's url is not set (url_env, or capture outside careflow up)"
        return None

    def unusable(self, template_id: str, phone: str | None) -> str | None:
        """Why this message cannot go by SMS to this number, or None when it can."""
        setup = self.setup()
        if setup.config is None:
            return setup.problem or f"no {SMS_FILE_NAME}"
        if template_id not in setup.config.templates or not self.renderer.has(template_id):
            return f"no SMS template {template_id!r}"
        if not phone:
            return "no phone number on file"
        try:
            to_e164(phone)
        except ValueError as error:
            return str(error)
        return None

    def compose(
        self,
        template_id: str,
        *,
        phone: str,
        locale: str | None,
        zone: str,
        context: Mapping[str, object],
        marketing: bool,
        key: str,
    ) -> Sms:
        """The SMS for one message; TemplateProblem when its template is broken."""
        config = self.setup().config
        assert config is not None
        mapped = config.templates[template_id]
        body = self.renderer.render(template_id, locale, context, zone=zone)
        return Sms(
            to=to_e164(phone),
            text=full_text(
                config.brackets, body, marketing=marketing, opt_out_text=config.opt_out_text
            ),
            signature=config.signature,
            template_code=mapped.code,
            params={name: context_value(context, path) for name, path in mapped.params.items()},
            message_id=sms_message_id(key),
        )

    def exchange_slot(self) -> asyncio.Semaphore:
        """Hold it from the provider exchange until the message's outcome is recorded:
        what a crash can leave sent but unrecorded is what holds a slot."""
        config = self.setup().config
        in_flight = 1 if config is None else config.in_flight
        if self._slots is None or self._slots[0] != in_flight:
            self._slots = (in_flight, asyncio.Semaphore(in_flight))
        return self._slots[1]

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(15.0))
        return self._client

    def provider(self) -> SmsProvider:
        config = self.setup().config
        if config is None:
            raise TemplateProblem("SMS is no longer configured", path=self.path)
        if config.provider == "aliyun":
            return AliyunSmsProvider(config.aliyun or AliyunSms(), self.client)
        assert config.generic is not None
        url = self._generic_url(config)
        assert url is not None
        return GenericHttpSms(config.generic, self.client, url=url)

    def _generic_url(self, config: SmsConfig) -> str | None:
        assert config.generic is not None
        if config.generic.url_env is not None:
            return os.environ.get(config.generic.url_env) or None
        if config.generic.url == "capture":
            return None if self.capture_url is None else f"{self.capture_url}/sms"
        return config.generic.url

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
