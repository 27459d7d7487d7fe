"""Task statuses and outcomes, as the store, the API, the console and the KPIs name them."""

from __future__ import annotations

# Nobody has taken the task yet (it may name the team or role it is for).
OPEN = "open"
# A person has it: claimed by themselves or assigned by someone else.
ASSIGNED = "assigned"
DONE = "done"
CANCELLED = "cancelled"
# Statuses of a task someone still has to act on.
ACTIVE = (OPEN, ASSIGNED)
# Notifications (staff emails) have their own statuses: pending, sent, failed.
NOTIFICATION_STATUSES = ("pending", "sent", "failed")
# Every status a task row can have, for filters (`erased`: closed by erasure).
TASK_STATUSES = (OPEN, ASSIGNED, DONE, CANCELLED, *NOTIFICATION_STATUSES, "erased")

# How a completed task went, a closed list so reports can count them and the journey
# that opened the task can act on them (a won-back call ends its offer's wait).
TASK_OUTCOMES = ("resolved", "reached", "won_back", "no_answer", "declined", "other")
# How an approval task ends (careflow/staffwork/approvals.py), not chosen when completing.
APPROVAL_OUTCOMES = ("approved", "rejected")
