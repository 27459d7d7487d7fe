"""A/B experiments: variant assignment (`assign`) and results per variant (`results`).

Campaigns and journey send steps name variants with weights; `assign_variant` picks
one per customer deterministically, the outreach ledger records it, and the results
compare the variants' goal conversion with each other and with the holdout.
"""

from careflow.experiments.assign import (
    HOLDOUT_VARIANT,
    assign_variant,
    check_weights,
    in_holdout,
)

__all__ = ["HOLDOUT_VARIANT", "assign_variant", "check_weights", "in_holdout"]
