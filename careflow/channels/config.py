"""`rules/sms.yaml`: the SMS provider, the registered signature and each template's code.

SMS content in China is approved in advance: each careflow SMS template
(`templates/sms/<template_id>/body.<locale>.j2`) is registered with the provider
under a template code, with named parameters. `templates` maps careflow's template
id to that code and says where each parameter's value comes from in the message
context (a dotted path, e.g. `case.reference`). Credentials come from the
environment: the generic gateway's token from the variable `token_env` names, and
Alibaba Cloud's from `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET`,
the variables Alibaba Cloud's own tools read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careflow.config_files import ConfigFileError, load_config_file

SMS_FILE_NAME = "sms.yaml"
_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")
_ENV = re.compile(r"^[A-Z][A-Z0-9_]*$")


class SmsConfigError(ConfigFileError):
    what = "SMS file"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmsTemplate(_Strict):
    """One approved template: the provider's code and where its parameters come from."""

    code: Annotated[str, Field(min_length=1, max_length=64)]
    params: dict[str, str] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            if not _PATH.match(path):
                raise ValueError(
                    f"param {name!r}: {path!r} is not a context path such as case.reference"
                )
        return value


class GenericGateway(_Strict):
    """An HTTP gateway taking one JSON POST per SMS.

    The body has careflow's fields under the names `fields` maps them to (a field
    mapped to "" is left out), plus the constant `extra` fields; the answer's
    `id_field` is the gateway's message id.
    """

    url: str | None = None
    url_env: str | None = None
    token_env: str | None = None
    fields: dict[
        Literal["to", "text", "signature", "template_code", "params", "message_id"], str
    ] = Field(default_factory=dict)
    extra: dict[str, str | int | bool] = Field(default_factory=dict)
    id_field: str = "message_id"

    @model_validator(mode="after")
    def _one_url(self) -> GenericGateway:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url: or url_env:")
        if (
            self.url is not None
            and self.url != "capture"
            and not self.url.startswith(("http://", "https://"))
        ):
            raise ValueError(f"url: expected http(s):// or 'capture', got {self.url!r}")
        for name in (self.url_env, self.token_env):
            if name is not None and not _ENV.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return self

    def field_name(self, name: str) -> str:
        return self.fields.get(name, name)  # type: ignore[call-overload, no-any-return]


class AliyunSms(_Strict):
    """Alibaba Cloud SMS (Dysmsapi), through its published RPC API."""

    endpoint: str = "https://dysmsapi.aliyuncs.com/"
    region: str = "cn-hangzhou"


class SmsConfig(_Strict):
    """`rules/sms.yaml`."""

    provider: Literal["generic", "aliyun"] = "generic"
    # The registered signature, without brackets: texts start with 【signature】.
    signature: Annotated[str, Field(min_length=2, max_length=12)]
    # Marketing SMS end with the opt-out instruction operators require.
    opt_out_text: str = "拒收请回复R"
    # `careflow rules check` refuses a template longer than this many segments.
    max_segments: Annotated[int, Field(ge=1, le=10)] = 2
    # Provider exchanges one worker keeps open at once. Each one's `sent` mark is
    # written before its slot is freed, so a crash can send at most this many SMS
    # again (under their own message ids); more is faster against a slow gateway.
    in_flight: Annotated[int, Field(ge=1, le=64)] = 4
    generic: GenericGateway | None = None
    aliyun: AliyunSms | None = None
    templates: dict[str, SmsTemplate] = Field(default_factory=dict)
    # The channels each message (by template id) may go on, in order of fallback; the
    # customer's preferred_channel goes first when it is listed. Messages not listed
    # go by email only.
    channels: dict[str, list[Literal["email", "sms"]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _provider_settings(self) -> SmsConfig:
        if self.provider == "generic" and self.generic is None:
            raise ValueError("provider: generic needs a generic: section (url: ...)")
        for template_id, order in self.channels.items():
            if not order or len(set(order)) != len(order):
                raise ValueError(
                    f"channels.{template_id}: list each channel once, e.g. [sms, email]"
                )
            if "sms" in order and template_id not in self.templates:
                raise ValueError(
                    f"channels.{template_id}: sms needs templates.{template_id} (its code)"
                )
        return self

    def order(self, template_id: str, preferred: str | None) -> list[str]:
        """The channels to try for this message, the preferred one first when listed."""
        order: list[str] = list(self.channels.get(template_id, ["email"]))
        if preferred in order:
            order.remove(preferred)
            order.insert(0, preferred)
        return order

    @property
    def brackets(self) -> str:
        """The signature as it starts every text: 【品牌】."""
        return f"【{self.signature}】"


def load_sms_config(path: Path) -> SmsConfig | None:
    """`sms.yaml`, or None when there is none (careflow then sends no SMS)."""
    if not path.exists():
        return None
    return load_config_file(path, SmsConfig, SmsConfigError, columns=True)
