"""Customer facts as of a time, computed in SQL: the inputs rules are evaluated on.

The fact names and meanings are defined once in `rules/facts.py`; the thresholds
behind `tier`, `lifecycle_stage` and `holiday_today` live in `rules/tiers.yaml`.
"""

from careflow.facts.compute import (
    MAX_IDS_PER_QUERY,
    Facts,
    compute_facts,
    customer_key,
    facts_for_customer,
)
from careflow.facts.config import FactsConfig, FactsConfigError, load_facts_config

__all__ = [
    "MAX_IDS_PER_QUERY",
    "Facts",
    "FactsConfig",
    "FactsConfigError",
    "compute_facts",
    "customer_key",
    "facts_for_customer",
    "load_facts_config",
]
