"""An activity as workflows see it: its registered name, its input and its result type.

Workflows call `workflow.execute_activity(contract.name, ..., result_type=contract.result)`
(see workflows/calls.py) instead of importing the activity classes, so workflow code
depends on these contracts and not on the activities' dependencies (store, SMTP).
"""

from dataclasses import dataclass
from typing import Generic, TypeVar

InputT = TypeVar("InputT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True, kw_only=True)
class ActivityContract(Generic[InputT, ResultT]):
    """A registered activity name is an API: running journeys call it by this name."""

    name: str
    input: type[InputT]
    result: type[ResultT]
