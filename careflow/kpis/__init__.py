"""Key performance indicators of the automation, computed in SQL from the store.

`compute_kpis(db, since, until, settings)` gives the whole report; each area's
queries live in their own module: `care` (satisfaction, complaint resolution,
service-level breaches), `churn`, `retention` (offer conversion against the
holdout group) and `messages` (sent, deferred, skipped and failed by reason).
"""

from careflow.kpis.care import ComplaintResolution, FirstResponse, Satisfaction
from careflow.kpis.churn import TierChurn
from careflow.kpis.messages import MessageCount
from careflow.kpis.report import (
    DEFAULT_GOOD_SCORE,
    KpiReport,
    KpiSettings,
    compute_kpis,
    kpi_period,
    kpi_settings,
)
from careflow.kpis.retention import ConversionGroup, RetentionConversion

__all__ = [
    "DEFAULT_GOOD_SCORE",
    "ComplaintResolution",
    "ConversionGroup",
    "FirstResponse",
    "KpiReport",
    "KpiSettings",
    "MessageCount",
    "RetentionConversion",
    "Satisfaction",
    "TierChurn",
    "compute_kpis",
    "kpi_period",
    "kpi_settings",
]
