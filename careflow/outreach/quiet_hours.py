"""Quiet hours in the customer's own time zone: when may a message arrive?

Quiet hours are a wall-clock interval, `start` inclusive to `end` exclusive, that may
wrap past midnight (21:00-09:00). "Local" means the customer's zone, so the answer
moves with daylight-saving time: a message is deferred to the first instant whose
local wall-clock time is outside the interval. Across a DST gap the first allowed
instant may be the jump itself (if 09:00 does not exist that day, 03:00 -> the next
valid local time); across an overlap the first occurrence counts.

Pure: `now` is an argument, nothing reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

# A day holds at most a couple of zone transitions; this bounds the walk forward.
_MAX_STEPS = 16


@dataclass(frozen=True)
class QuietHours:
    """No sends from `start` (inclusive) until `end` (exclusive), local wall-clock time.

    `start == end` means no quiet hours at all.
    """

    start: time
    end: time

    def is_quiet(self, local: time) -> bool:
        """Whether a local wall-clock time falls inside the quiet hours."""
        local = local.replace(tzinfo=None, fold=0)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def next_allowed_time(now: datetime, zone: tzinfo, quiet: QuietHours) -> datetime:
    """The earliest instant at or after `now` outside quiet hours in `zone`, in UTC.

    `now` must be aware. Within a stretch without zone transitions local time runs
    evenly, so quiet hours end exactly when the wall clock reaches `end`; when a
    transition comes first, the walk restarts from the transition, where the wall
    clock may have jumped out of (or back into) the quiet interval.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    instant = now.astimezone(UTC)
    for _ in range(_MAX_STEPS):
        local = instant.astimezone(zone)
        if not quiet.is_quiet(local.time()):
            return instant
        wall = local.replace(tzinfo=None)
        target = datetime.combine(wall.date(), quiet.end)
        if target <= wall:
            target += timedelta(days=1)
        candidate = instant + (target - wall)
        transition = _first_offset_change(instant, candidate, zone)
        if transition is None:
            return candidate
        instant = transition
    raise RuntimeError(f"no allowed time found near {now.isoformat()} in {zone}")


def _first_offset_change(start: datetime, end: datetime, zone: tzinfo) -> datetime | None:
    """The first whole second in (start, end] with a UTC offset other than at `start`.

    Zone transitions happen on whole seconds, so a binary search over seconds finds
    the exact instant. None when the offset at `end` is still the one at `start`.
    """
    offset = start.astimezone(zone).utcoffset()
    if end.astimezone(zone).utcoffset() == offset:
        return None
    low = int(start.timestamp())  # offset at `low` equals the one at `start`
    high = int(end.timestamp()) + (0 if end.timestamp().is_integer() else 1)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)
