"""The observability settings, read from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from careflow.config import Settings


def test_metrics_address_log_format_and_level_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().metrics_address is None  # unset: no metrics listener
    monkeypatch.setenv("CAREFLOW_LOG_FORMAT", "JSON")
    monkeypatch.setenv("CAREFLOW_LOG_LEVEL", "warning")
    for value, address in [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        (":9464", ("", 9464)),  # every interface
        ("[::1]:9464", ("::1", 9464)),
    ]:
        monkeypatch.setenv("CAREFLOW_METRICS_HTTP", value)
        settings = Settings()
        assert settings.metrics_address == address
    assert (settings.log_format, settings.log_level) == ("json", "WARNING")


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("CAREFLOW_METRICS_HTTP", "9464", "metrics_http"),
        ("CAREFLOW_LOG_FORMAT", "xml", "log_format"),
        ("CAREFLOW_LOG_LEVEL", "loud", "log_level"),
    ],
)
def test_a_bad_value_names_its_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=field):
        Settings()
