"""The store: SQLAlchemy models, engine/session factory and migrations."""

from careflow.store.db import Database, create_database
from careflow.store.models import (
    Base,
    Complaint,
    Consent,
    Customer,
    CustomerTag,
    Event,
    JourneyRecord,
    Order,
    OutreachLedger,
    RuleDecision,
    SurveyResponse,
    Task,
)

__all__ = [
    "Base",
    "Complaint",
    "Consent",
    "Customer",
    "CustomerTag",
    "Database",
    "Event",
    "JourneyRecord",
    "Order",
    "OutreachLedger",
    "RuleDecision",
    "SurveyResponse",
    "Task",
    "create_database",
]
