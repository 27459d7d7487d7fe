"""Turning text that names an erased customer into text that names their pseudonyms."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from careflow.pseudonyms import customer_pseudonym, keyed_digest


def anonymous_id(secret_key: str, customer_id: str) -> str:
    """What the erased customer's id becomes: their keyed pseudonym (`careflow/pseudonyms.py`)."""
    return "erased-" + customer_pseudonym(secret_key, customer_id)


def anonymous_workflow_id(secret_key: str, workflow_id: str) -> str:
    """What an erased customer's workflow id becomes in the store (kept distinct per journey)."""
    return "erased-wf-" + keyed_digest(secret_key, "workflow", workflow_id)


class Scrubber:
    """Rewrites text so that none of the person's identifiers or workflow ids remain.

    Workflow ids, the email address and the phone number are specific enough to
    find and replace anywhere. The customer id may be short (`c1`), so it is
    replaced only where it stands on its own, not inside `c10`. The name is
    replaced only in rows already known to be the customer's: it is never used to
    decide what is theirs (`Li` is in `List-Unsubscribe`).
    """

    def __init__(
        self, secret_key: str, anonymous: str, customer_id: str, contacts: Iterable[str], name: str
    ) -> None:
        self.secret_key = secret_key
        self.anonymous = anonymous
        self.customer_id = customer_id
        # Longest first, so an email address goes before a customer id inside it.
        self.contacts = sorted({value for value in contacts if value}, key=len, reverse=True)
        self.name = name
        self._own_id = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(customer_id)}(?![A-Za-z0-9_])")
        self.workflow_ids: list[str] = []

    def add_workflow_ids(self, workflow_ids: Iterable[str]) -> None:
        known = set(self.workflow_ids) | {value for value in workflow_ids if value}
        self.workflow_ids = sorted(known, key=len, reverse=True)

    def text(self, value: str, *, names: bool = True) -> str:
        """`value` with every workflow id and identifier replaced by its pseudonym."""
        for workflow_id in self.workflow_ids:
            if workflow_id in value:
                value = value.replace(
                    workflow_id, anonymous_workflow_id(self.secret_key, workflow_id)
                )
        for contact in self.contacts:
            value = value.replace(contact, self.anonymous)
        value = self._own_id.sub(self.anonymous, value)
        if names and self.name:
            value = value.replace(self.name, self.anonymous)
        return value

    def names_them(self, value: str) -> bool:
        """Whether `value` mentions the person by id, contact or workflow (not by name)."""
        return (
            any(needle in value for needle in (*self.workflow_ids, *self.contacts))
            or self._own_id.search(value) is not None
        )

    def value(self, value: Any) -> Any:
        """`text` through JSON-like values (dictionary keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def search_terms(self) -> list[str]:
        """Substrings a row that names the person must contain (one of them)."""
        return [*self.workflow_ids, *self.contacts, self.customer_id]
