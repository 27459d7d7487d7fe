"""A simulation's collector settings: rarer collections within, the process's own after."""

from __future__ import annotations

import gc
import weakref

import pytest

from careflow.gc_tuning import YOUNG_GENERATION_THRESHOLD, long_run_collection


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_within_a_run_the_heap_before_it_is_left_alone_and_collections_are_rarer() -> None:
    before = gc.get_threshold()
    with long_run_collection():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_garbage_made_within_a_run_is_still_collected() -> None:
    with long_run_collection():
        first, second = _Node(), _Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
        gc.collect()
        assert gone() is None


def test_a_run_that_fails_puts_the_settings_back() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="partition failed"), long_run_collection():
        raise RuntimeError("partition failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
