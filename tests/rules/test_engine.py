"""The durable_rules wrapper: measured quirks of durable-rules 2.0.28 are handled."""

from __future__ import annotations

import gc
import threading

from careflow.rules import engine as engine_module
from careflow.rules.engine import CompiledRuleset, discarded_rulesets_waiting

AT_LEAST_TWO = {"$gte": {"order_count": 2}}
NO_TIER = {"$nex": {"tier": 1}}


def test_every_matching_rule_fires_not_just_the_first() -> None:
    engine = CompiledRuleset("k", {"a": AT_LEAST_TWO, "b": {"$gte": {"order_count": 1}}})
    assert engine.matching({"order_count": 5}) == {"a", "b"}
    assert engine.matching({"order_count": 1}) == {"b"}


def test_rule_names_are_read_back_exactly() -> None:
    # Matches are read from the C core's JSON by their name alone: names with a slash,
    # non-ASCII letters and JSON escapes come back as given, for a fact with such text too.
    names = ["0/win-back", "1/生日问候", 'quote"and\\backslash']
    engine = CompiledRuleset("names", dict.fromkeys(names, AT_LEAST_TWO))
    assert engine.matching({"order_count": 2, "note": '生日 "x" {"y": 1}'}) == set(names)
    assert engine.matching({"order_count": 2}) == set(names)  # and again: nothing left over


def test_no_match_is_an_empty_answer_not_an_exception() -> None:
    engine = CompiledRuleset("none", {"a": AT_LEAST_TWO})
    assert engine.matching({"order_count": 0}) == frozenset()
    assert engine.matching({}) == frozenset()


def test_definitions_are_not_mutated() -> None:
    conditions = {"a": {"$and": [AT_LEAST_TWO, {"$eq": {"tier": "vip"}}]}}
    before = repr(conditions)
    CompiledRuleset("copy", conditions)
    assert repr(conditions) == before


def test_a_missing_fact_test_alone_does_not_hang() -> None:
    # On its own, `$nex` first in a condition makes durable_rules loop forever.
    engine = CompiledRuleset("nex", {"a": NO_TIER, "b": {"$or": [NO_TIER, AT_LEAST_TWO]}})
    assert engine.matching({"order_count": 3}) == {"a", "b"}
    assert engine.matching({"tier": "vip"}) == frozenset()


def test_or_with_two_true_branches_fires_once() -> None:
    engine = CompiledRuleset("or", {"a": {"$or": [AT_LEAST_TWO, {"$eq": {"tier": "vip"}}]}})
    assert engine.matching({"order_count": 3, "tier": "vip"}) == {"a"}


def test_many_distinct_customers_reuse_one_session() -> None:
    # durable_rules fails at the 1,025th distinct session id; snapshots of thousands of
    # customers must keep working and stay right.
    engine = CompiledRuleset("many", {"a": AT_LEAST_TWO})
    for customer in range(3000):
        count = customer % 4
        expected = {"a"} if count >= 2 else set()
        assert engine.matching({"order_count": count, "customer": str(customer)}) == expected


def test_calls_from_many_threads_are_serialised() -> None:
    engine = CompiledRuleset("threads", {"a": AT_LEAST_TWO, "b": NO_TIER})
    wrong: list[int] = []

    def work(offset: int) -> None:
        for count in range(offset, offset + 300):
            expected = {"b", "a"} if count % 5 >= 2 else {"b"}
            if engine.matching({"order_count": count % 5}) != expected:
                wrong.append(count)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_discarded_rulesets_start_no_threads_and_are_freed() -> None:
    # Compare thread identities, not counts: a thread left by an earlier test may end
    # meanwhile, which is no thread of ours.
    before = set(threading.enumerate())
    for _ in range(200):
        CompiledRuleset("reload", {"a": AT_LEAST_TWO}).matching({"order_count": 3})
    gc.collect()
    assert set(threading.enumerate()) - before == set()
    # The next call into the engine frees what the collector found.
    kept = CompiledRuleset("next", {"a": AT_LEAST_TWO})
    kept.matching({"order_count": 3})
    assert discarded_rulesets_waiting() == 0


def test_a_collection_while_the_engine_is_busy_does_not_hang() -> None:
    # The collector may run at any allocation, also while a thread evaluates rules
    # and holds the engine's lock; a ruleset in a reference cycle is only freed then.
    cyclic = CompiledRuleset("cycle", {"a": AT_LEAST_TWO})
    cyclic.itself = cyclic  # type: ignore[attr-defined]
    del cyclic

    def collect_while_busy() -> None:
        with engine_module._ENGINE_LOCK:
            gc.collect()

    collector = threading.Thread(target=collect_while_busy, daemon=True)
    collector.start()
    collector.join(timeout=60)
    assert not collector.is_alive(), "the collector blocked on the engine's lock"
    after = CompiledRuleset("after", {"a": AT_LEAST_TWO})
    assert after.matching({"order_count": 3}) == {"a"}
    assert discarded_rulesets_waiting() == 0


def test_an_empty_ruleset_matches_nothing() -> None:
    assert CompiledRuleset("empty", {}).matching({"order_count": 3}) == frozenset()
