"""The one module that imports durable_rules (pinned ==2.0.28), with typed edges.

What was measured about that release, and how this module copes:

- `Ruleset(...)` deletes the `run` key from the definitions it is given, so every
  definition is built fresh here and never shared with the caller.
- Asserting something no rule matches raises `MessageNotHandledException`; that is
  the ordinary "no rule fired" outcome, so it is caught and means "nothing".
- An *event* is consumed by the first rule that matches it; a *fact* stays and fires
  every matching rule. Every rule must be able to fire (all_matches), so snapshots
  are asserted as facts and retracted again after the actions ran.
- A ruleset keeps per-session state in a fixed-size table in its C core: the 1,025th
  distinct session id raises `MemoryError`. Every evaluation uses one fixed session
  id and retracts its fact, so state never accumulates (bench/rules_bench.py runs a
  million distinct customers through it).
- `Host` starts timer threads that never stop; it is not used. Rulesets are driven
  directly (assert, run actions, retract) and deleted from the C core when garbage
  collected, so a live reload leaks nothing. The C core is not thread-safe, so all
  calls go through one process-wide lock. Never call this from workflow code.
- The garbage collector may finalize a discarded ruleset at any allocation, also in
  a thread that holds that lock (seen here: a test run hung in the finalizer). The
  finalizer therefore only queues the handle; the queue is emptied under the lock
  by the next call into the engine.
- A condition that begins with a "does not exist" test (`$nex`), alone or as the
  first branch of an `$or`, makes the action loop spin forever on a matching fact;
  every condition is therefore anchored behind a constant attribute that every
  snapshot carries.
- An `$or` is expanded into one match per true branch, so a rule can fire twice for
  one fact; fired rules are collected as a set.
- Matches are read from the C core directly (`start_action_for_state`, then
  `complete_and_start_action` until it has none), not through `Ruleset.do_actions`:
  that wrapper decodes every match's JSON (the whole snapshot), builds a closure
  and a promise per match and writes the session state back (`update_state`,
  which re-asserts it into the network) after each one. careflow's actions only
  note the rule's name and no condition reads the state, so that was half of an
  evaluation's cost in a daily scan (docs/benchmarks.md).
"""

from __future__ import annotations

import itertools
import json
import threading
import weakref
from collections import deque
from collections.abc import Mapping
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from durable.engine import (
    MessageNotHandledException,
    MessageObservedException,
    Ruleset,
    durable_rules_engine,
)

SESSION_ID = "careflow"
FACT_ID = "snapshot"
ANCHOR = "careflow_snapshot"

# One lock for the process: the C core shares state between its rulesets.
_ENGINE_LOCK = threading.Lock()
_NAMES = itertools.count()
# Handles of garbage-collected rulesets, deleted from the C core under the lock.
_DISCARDED: deque[object] = deque()


class CompiledRuleset:
    """A set of named conditions, evaluated against one snapshot at a time."""

    def __init__(self, name: str, conditions: Mapping[str, Mapping[str, object]]) -> None:
        """`conditions` maps a rule id to its durable_rules condition (see rules/compiler.py)."""
        self.name = name
        self.rule_ids = tuple(conditions)
        self._fired: list[str] = []
        self._ruleset: Any = None
        if not conditions:
            return  # durable_rules rejects an empty ruleset; nothing can ever fire
        definitions: dict[str, object] = {
            rule_id: {
                "all": [{"m": {"$and": [{"$eq": {ANCHOR: 1}}, json.loads(json.dumps(condition))]}}],
                # Never called (matches are read in `_run_actions`), but a rule needs one.
                "run": _never_called,
            }
            for rule_id, condition in conditions.items()
        }
        with _ENGINE_LOCK:
            _delete_discarded()
            self._ruleset = Ruleset(f"{name}#{next(_NAMES)}", None, definitions)
        weakref.finalize(self, _DISCARDED.append, self._ruleset._handle)

    def matching(self, facts: Mapping[str, object]) -> frozenset[str]:
        """Ids of the rules whose conditions hold for `facts` (JSON-compatible values)."""
        if self._ruleset is None:
            return frozenset()
        fact = {**facts, ANCHOR: 1, "sid": SESSION_ID, "id": FACT_ID}
        with _ENGINE_LOCK:
            _delete_discarded()
            self._fired.clear()
            try:
                self._assert(fact)
            finally:
                self._retract()
            return frozenset(self._fired)

    def _assert(self, fact: dict[str, object]) -> None:
        try:
            handle = self._ruleset.assert_fact(fact)
        except MessageNotHandledException:
            return
        except MessageObservedException:
            # Left over from an evaluation that was interrupted: clear it and retry.
            self._retract()
            handle = self._ruleset.assert_fact(fact)
        self._run_actions(handle)

    def _retract(self) -> None:
        try:
            handle = self._ruleset.retract_fact({"sid": SESSION_ID, "id": FACT_ID})
        except MessageNotHandledException:
            return
        self._run_actions(handle)

    def _run_actions(self, state: object) -> None:
        """Note the rule of every match the last assert or retract left, completing each."""
        if not state:
            return
        engine, ruleset = durable_rules_engine, self._ruleset._handle
        started = engine.start_action_for_state(ruleset, state)
        matches: str | None = started[1] if started else None
        while matches:
            # `{"<rule name>": {...}}`, one rule a time: only the name is read.
            self._fired.append(scanstring(matches, matches.index('"') + 1)[0])
            matches = engine.complete_and_start_action(ruleset, state)


def _never_called(_closure: object) -> None:
    raise AssertionError("durable_rules ran an action: matches are read in _run_actions")


def _delete_discarded() -> None:
    """Free the C core's rulesets whose Python side is gone (call with the lock held)."""
    while _DISCARDED:
        durable_rules_engine.delete_ruleset(_DISCARDED.popleft())


def discarded_rulesets_waiting() -> int:
    """How many collected rulesets the next engine call will free (for tests)."""
    return len(_DISCARDED)
