"""`careflow simulate`: backtest rule files over a real purchase history before going live.

`scratch` loads the `careflow import` files of a data folder into a fresh SQLite
store; `replay` walks the days, running the daily scan and each order and complaint
at its time through a rule set, and "starts" journeys by the dispatcher's own ids
(so re-entry periods and the holdout group hold); `report` summarises a replay and
compares two rule sets over the same store.

Not simulated yet: the journeys themselves (their messages, the outreach policies
of consent, contact budget and quiet hours, goals met and opt-outs). Running the
real workflows on the time-skipping test server needs activities to read the
workflow's clock (today `send_email` stamps `sent_at`, and the dispatcher
`started_at`, with the wall clock, which does not move when the server skips time,
so contact budgets would be counted wrongly).
"""

from careflow.simulate.replay import JourneyStart, Replay, replay
from careflow.simulate.report import Comparison, SimulationReport, compare, summarise
from careflow.simulate.scratch import SimulationDataError, scratch_store

__all__ = [
    "Comparison",
    "JourneyStart",
    "Replay",
    "SimulationDataError",
    "SimulationReport",
    "compare",
    "replay",
    "scratch_store",
    "summarise",
]
