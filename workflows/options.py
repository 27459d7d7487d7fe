"""Named timeout and retry options for activities called from workflows."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Sending: SMTP 4xx and connection trouble are retried with backoff for up to a day;
# permanent refusals come back as results and are never retried.
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["TemplateProblem"],
)
SEND_TIMEOUT = timedelta(seconds=60)
# The first attempt, run as a local activity within the workflow task
# (workflows/sending.py): shorter, so a slow mail server soon hands the send to the
# server-tracked retries instead of holding the journey's workflow task.
LOCAL_SEND_TIMEOUT = timedelta(seconds=20)
SEND_SCHEDULE_TO_CLOSE = timedelta(days=1)

# Store reads and rule evaluation: quick, retried quickly.
QUICK_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
QUICK_TIMEOUT = timedelta(seconds=30)
