"""Segments: named conditions over customer facts (`rules/segments.yaml`).

`book` loads and checks the file (`load_segments`); `members` lists and counts the
customers in a segment as of a time, page by page, with the same fact computation
the daily scan uses. Rules test membership with `in_segment: NAME`.
"""

from careflow.segments.book import Segment, SegmentBook, SegmentsFileError, load_segments
from careflow.segments.members import (
    SegmentCount,
    UnknownSegment,
    count_segment,
    count_segments,
    segment_page,
)

__all__ = [
    "Segment",
    "SegmentBook",
    "SegmentCount",
    "SegmentsFileError",
    "UnknownSegment",
    "count_segment",
    "count_segments",
    "load_segments",
    "segment_page",
]
