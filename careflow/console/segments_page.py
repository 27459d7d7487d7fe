"""The console's Segments page: each segment of segments.yaml, what it means, its size.

The segments are those of the rules this process serves (`RuleBook.segments`: the
active release's, or the configured folder's). Sizes come from the same count as
`careflow segments count` (careflow.segments), all segments in one pass over the
customers, and are kept for a few minutes so that reloading the page costs nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from careflow.config_files import ConfigFileError
from careflow.console.pages import Viewer
from careflow.console.rulestatus import rules_status
from careflow.console.web import PREFIX, Visit, render
from careflow.rules.conditions import describe
from careflow.segments import SegmentBook, count_segments

router = APIRouter(prefix=PREFIX, include_in_schema=False)

# How long counted sizes are shown before they are counted again.
SIZES_FRESH_FOR = timedelta(minutes=10)


@dataclass(frozen=True)
class CountedSizes:
    """Sizes of the segments of one segments.yaml (by its hash), as of `at`."""

    book_hash: str
    names: tuple[str, ...]
    at: datetime
    sizes: dict[str, int]


@router.get("/segments")
async def segments_page(current: Viewer) -> HTMLResponse:
    """Each segment with its description, its conditions in words and its size now."""
    status = await asyncio.to_thread(rules_status, current.console.rulebook)
    if status.rulebook is None:
        problems = [str(error) for error in status.errors]
        return render(current, "config_error.html.j2", {"problems": problems}, status=503)
    book = status.rulebook.segments
    try:
        counted = await _sizes(current, book)
    except ConfigFileError as error:
        return render(current, "config_error.html.j2", {"problems": [str(error)]}, status=503)
    segments = [
        {
            "name": name,
            "description": book[name].description,
            "conditions": current.t.phrase(describe(book[name].when)),
            "size": counted.sizes.get(name),
        }
        for name in book.names()
    ]
    return render(current, "segments.html.j2", {"segments": segments, "counted_at": counted.at})


async def _sizes(current: Visit, book: SegmentBook) -> CountedSizes:
    kept = current.console.segment_sizes
    now = datetime.now(UTC)
    if (
        isinstance(kept, CountedSizes)
        and kept.book_hash == book.hash
        and kept.names == tuple(book.names())
        and now - kept.at < SIZES_FRESH_FOR
    ):
        return kept
    sizes = await count_segments(current.api.db, book, at=now)
    counted = CountedSizes(book.hash, tuple(book.names()), now, sizes)
    current.console.segment_sizes = counted
    return counted
