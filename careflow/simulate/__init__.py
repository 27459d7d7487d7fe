"""`careflow simulate`: backtest rule files over a real purchase history before going live.

`run` runs the real journeys: the history before the first day is imported into a
fresh store, then the time-skipping test server's clock is moved day by day while
each event is posted through the intake at its time and the daily scan runs, on
the production worker (every workflow and activity, the outreach policies of
consent, contact budget and quiet hours), with delivery captured. `history` splits
the data folder into that history and those events and moves it onto the server's
clock; `outcomes` reports a run (rules, journeys, messages per day per template,
deferrals, offer cost, timelines) and compares two; `plot` draws the messages.

`replay` is the quick replay that only asks the rules (`--rules-only`), over the
`scratch` store of the data; `report` summarises and compares such replays.
"""

from careflow.simulate.outcomes import JourneyReport, RunComparison, compare_runs, summarise_run
from careflow.simulate.replay import JourneyStart, Replay, replay
from careflow.simulate.report import Comparison, SimulationReport, compare, summarise
from careflow.simulate.run import JourneyRun, run_journeys
from careflow.simulate.scratch import SimulationDataError, scratch_store

__all__ = [
    "Comparison",
    "JourneyReport",
    "JourneyRun",
    "JourneyStart",
    "Replay",
    "RunComparison",
    "SimulationDataError",
    "SimulationReport",
    "compare",
    "compare_runs",
    "replay",
    "run_journeys",
    "scratch_store",
    "summarise",
    "summarise_run",
]
