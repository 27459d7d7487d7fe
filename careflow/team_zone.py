"""The team's time zone: where days start for the console, `careflow kpis` and `GET /kpis`.

`CAREFLOW_TEAM_TIMEZONE` when set, else the outreach policy's `default_timezone`
(the zone careflow already assumes for a customer who has none), so a team in
Shanghai sees its own days without configuring anything. A day is then the 24 (23,
25) hours from one local midnight to the next, and every time shown names its zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from careflow.config import Settings
from careflow.outreach.policy_config import POLICY_FILE_NAME, load_outreach_policy

UTC_ZONE = ZoneInfo("UTC")


def team_zone(settings: Settings) -> ZoneInfo:
    """The configured team zone, else `default_timezone` of the rules' outreach policy.

    Raises the policy's `ConfigFileError` when that file is needed and broken.
    """
    if settings.team_timezone:
        return ZoneInfo(settings.team_timezone)
    policy = load_outreach_policy(settings.rules_dir / POLICY_FILE_NAME)
    return ZoneInfo(policy.default_timezone)


def zone_name(zone: tzinfo) -> str:
    """`Asia/Shanghai`, `UTC`: the IANA name (or what the zone calls itself)."""
    return zone.key if isinstance(zone, ZoneInfo) else str(zone)


def offset_label(moment: datetime, zone: tzinfo) -> str:
    """`UTC`, `UTC+8`, `UTC+5:30`, `UTC-3`: the zone's offset at that instant."""
    offset = moment.astimezone(zone).utcoffset() or timedelta(0)
    if not offset:
        return "UTC"
    sign = "+" if offset > timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
