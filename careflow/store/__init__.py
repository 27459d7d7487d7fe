"""The store: SQLAlchemy models, engine/session factory and migrations."""

from careflow.store.db import (
    UPGRADE_COMMAND,
    Database,
    SchemaBehindError,
    SchemaState,
    create_database,
)
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
    "UPGRADE_COMMAND",
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
    "SchemaBehindError",
    "SchemaState",
    "SurveyResponse",
    "Task",
    "create_database",
]
