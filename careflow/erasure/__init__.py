"""Erasing a customer: after it, nothing careflow wrote identifies the person.

What is left is a keyed pseudonym (`anonymous_id`: an HMAC of the customer id
with `CAREFLOW_SECRET_KEY`), so the ledger, rule decisions and KPIs keep their
counts without pointing at anyone, and without the key nobody can tell whose
they were (an unkeyed hash of a customer id is reversed by hashing candidate ids).

Where the person was, and what erasure does there:

- the store: the customer row keeps only the pseudonym and non-identifying
  fields (tier, locale, time zone, dates); events, consents and tags are deleted;
  in every other row of theirs (orders, complaints, journeys, ledger, survey
  answers, tasks, rule decisions, audit entries) each workflow id becomes a keyed
  pseudonym of itself and any occurrence of the id, name, email address or phone
  number becomes the customer's pseudonym; free text (complaint subjects, order
  items, survey comments) is cleared; their open tasks are closed as `erased`;
- Temporal: their journeys are cancelled, then every execution careflow started
  for them (journeys and the workflows of their events, running or closed) is
  deleted with its history, memo and search attributes (Temporal deletes in the
  background; erasure waits for it, bounded). Journey ids and memos carry the
  customer's keyed pseudonym, not their id (`careflow/pseudonyms.py`), because
  Temporal's own bookkeeping (timers, task queues) keeps a workflow id until those
  fire. What cannot be done from careflow: a server that cannot delete (the
  time-skipping test server) keeps closed histories, whose inputs carry the
  customer id, until the namespace's retention period ends (the report counts
  them); a cluster with history archival keeps its archive; journeys started
  before ids carried pseudonyms keep the raw id in that bookkeeping until it
  fires or retention ends;
- the outbox (`CAREFLOW_HOME/outbox`): every captured message to them or about
  them is deleted;
- logs under `CAREFLOW_HOME/logs`: lines naming them are rewritten with the
  pseudonyms.
"""

from careflow.erasure._erase import ErasureReport, erase_customer
from careflow.erasure._scrub import anonymous_id

__all__ = ["ErasureReport", "anonymous_id", "erase_customer"]
