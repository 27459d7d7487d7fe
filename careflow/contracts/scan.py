"""The daily scan: its workflow input and progress, and its page activities."""

from dataclasses import dataclass
from datetime import datetime

from careflow.contracts.activity import ActivityContract


@dataclass(kw_only=True)
class DailyScanInput:
    """`at` is the time facts are computed as of (default: when the scan starts)."""

    at: datetime | None = None
    page_size: int = 2000
    # Carried across continue-as-new:
    after_customer_pk: int = 0
    total_customers: int | None = None
    scanned: int = 0
    rules_fired: int = 0
    journeys_started: int = 0


@dataclass(kw_only=True)
class ScanProgress:
    at: datetime | None
    total_customers: int | None
    scanned: int
    rules_fired: int
    journeys_started: int
    done: bool


@dataclass(kw_only=True)
class ScanPageInput:
    scan_id: str
    at: datetime
    after_customer_pk: int = 0
    page_size: int = 2000


@dataclass(kw_only=True)
class ScanPageResult:
    """Where the page ended (None: no customers left) and what it did."""

    last_customer_pk: int | None
    customers: int = 0
    rules_fired: int = 0
    journeys_started: int = 0
    journeys_existing: int = 0


@dataclass(kw_only=True)
class CountCustomersInput:
    after_customer_pk: int = 0


@dataclass(kw_only=True)
class ReconcileInput:
    """Journeys Temporal closed since `since` are checked against the store."""

    since: datetime


@dataclass(kw_only=True)
class ReconcileResult:
    marked: int  # journeys the store believed running that Temporal had closed
    note: str | None = None  # why nothing could be checked, if so


COUNT_CUSTOMERS = ActivityContract(name="count_customers", input=CountCustomersInput, result=int)
RECONCILE_JOURNEYS = ActivityContract(
    name="reconcile_journeys", input=ReconcileInput, result=ReconcileResult
)
SCAN_PAGE = ActivityContract(name="scan_page", input=ScanPageInput, result=ScanPageResult)
