"""The store: SQLAlchemy models, engine/session factory and migrations."""

from careflow.store.db import Database, create_database
from careflow.store.models import (
    AuditEntry,
    Base,
    Complaint,
    Consent,
    ConsoleSession,
    ConsoleUser,
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
    "AuditEntry",
    "Base",
    "Complaint",
    "Consent",
    "ConsoleSession",
    "ConsoleUser",
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
