"""SMS providers against servers on loopback: the capture gateway, and an Alibaba Cloud
SMS stand-in that checks each request's signature as Alibaba Cloud documents it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from careflow.channels.config import AliyunSms, GenericGateway
from careflow.channels.providers import (
    ALIYUN_ACCESS_KEY_ID_VAR,
    ALIYUN_ACCESS_KEY_VAR,
    AliyunSmsProvider,
    GenericHttpSms,
    PermanentSmsError,
    Sms,
    TransientSmsError,
)
from careflow.runtime.api_service import ApiServer, api_server_config
from careflow.runtime.http_capture import CaptureHttpServer

KEY_ID, KEY_SECRET = "LTAI-test", "test-secret/with+odd*chars~"
SMS = Sms(
    to="+8613800138000",
    text="【关怀】我们已收到您的反馈，案件编号 K-1。",
    signature="关怀",
    template_code="SMS_100",
    params={"reference": "K-1"},
    message_id="cf-0123",
)


def documented_signature(query: dict[str, str], secret: str) -> str:
    # Alibaba Cloud's documented steps: URL-encode (then '+' -> %20, '*' -> %2A,
    # %7E -> '~'), sort by key, join, sign "GET&%2F&" + the encoded query.
    def encode(value: str) -> str:
        return quote_plus(value).replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(query.items()))
    to_sign = "GET&" + encode("/") + "&" + encode(canonical)
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Aliyun:
    port: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    answer: dict[str, Any] | None = None


@pytest.fixture
async def aliyun() -> AsyncIterator[Aliyun]:
    state = Aliyun()
    app = FastAPI()

    @app.get("/")
    async def send_sms(request: Request) -> JSONResponse:
        query = dict(request.query_params)
        state.requests.append(query)
        signature = query.pop("Signature", "")
        if query.get("AccessKeyId") != KEY_ID:
            return JSONResponse({"Code": "InvalidAccessKeyId.NotFound"}, status_code=404)
        if not hmac.compare_digest(signature, documented_signature(query, KEY_SECRET)):
            return JSONResponse(
                {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"},
                status_code=400,
            )
        if state.answer is not None:
            return JSONResponse(state.answer)
        return JSONResponse({"Code": "OK", "Message": "OK", "BizId": "biz-1", "RequestId": "r"})

    server = ApiServer(api_server_config(app, "127.0.0.1", 0))
    task = await server.serve_until_listening()
    state.port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        await server.stop()
        await task


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALIYUN_ACCESS_KEY_ID_VAR, KEY_ID)
    monkeypatch.setenv(ALIYUN_ACCESS_KEY_VAR, KEY_SECRET)


@pytest.mark.usefixtures("credentials")
async def test_alibaba_cloud_sms_takes_a_signed_request(aliyun: Aliyun) -> None:
    settings = AliyunSms(endpoint=f"http://127.0.0.1:{aliyun.port}/")
    async with httpx.AsyncClient() as client:
        provider_id = await AliyunSmsProvider(settings, client).send(SMS)
    assert provider_id == "biz-1"
    (request,) = aliyun.requests
    assert request["PhoneNumbers"] == "13800138000"
    assert request["SignName"] == "关怀"
    assert request["TemplateCode"] == "SMS_100"
    assert json.loads(request["TemplateParam"]) == {"reference": "K-1"}
    assert request["OutId"] == "cf-0123"


async def test_a_wrong_secret_is_refused_for_good(
    aliyun: Aliyun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALIYUN_ACCESS_KEY_ID_VAR, KEY_ID)
    monkeypatch.setenv(ALIYUN_ACCESS_KEY_VAR, "not-the-secret")
    settings = AliyunSms(endpoint=f"http://127.0.0.1:{aliyun.port}/")
    async with httpx.AsyncClient() as client:
        with pytest.raises(PermanentSmsError, match="SignatureDoesNotMatch") as refused:
            await AliyunSmsProvider(settings, client).send(SMS)
    assert refused.value.code == "SignatureDoesNotMatch"


@pytest.mark.usefixtures("credentials")
async def test_throttling_is_retried_and_a_bad_number_is_not(aliyun: Aliyun) -> None:
    settings = AliyunSms(endpoint=f"http://127.0.0.1:{aliyun.port}/")
    async with httpx.AsyncClient() as client:
        provider = AliyunSmsProvider(settings, client)
        aliyun.answer = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"}
        with pytest.raises(TransientSmsError):
            await provider.send(SMS)
        aliyun.answer = {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
        with pytest.raises(PermanentSmsError, match="MOBILE_NUMBER_ILLEGAL"):
            await provider.send(SMS)


async def test_missing_credentials_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALIYUN_ACCESS_KEY_ID_VAR, raising=False)
    async with httpx.AsyncClient() as client:
        with pytest.raises(PermanentSmsError, match=ALIYUN_ACCESS_KEY_ID_VAR):
            await AliyunSmsProvider(AliyunSms(), client).send(SMS)


async def test_the_generic_gateway_posts_json_the_capture_gateway_writes_down(
    tmp_path: Path,
) -> None:
    capture = CaptureHttpServer(tmp_path / "outbox", 0)
    await capture.start()
    try:
        settings = GenericGateway(
            url="capture", fields={"to": "mobile", "params": ""}, extra={"channel": "care"}
        )
        async with httpx.AsyncClient() as client:
            gateway = GenericHttpSms(settings, client, url=f"{capture.url}/sms")
            provider_id = await gateway.send(SMS)
    finally:
        await capture.stop()
    (written,) = (tmp_path / "outbox" / "sms").glob("*.json")
    record = json.loads(written.read_text(encoding="utf-8"))
    assert record["message_id"] == provider_id
    assert record["request"] == {
        "mobile": "+8613800138000",
        "text": SMS.text,
        "signature": "关怀",
        "template_code": "SMS_100",
        "message_id": "cf-0123",
        "channel": "care",
    }
