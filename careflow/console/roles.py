"""Console roles, from least to most trusted; each role may do what the ones below it may."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a console user may see and do.

    - viewer: reads every page; customers' name, email and phone are masked.
    - operator: also sees personal data, cancels journeys and records consent on request.
    - admin: also manages console users and reads the audit log.
    """

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """True when this role may do what `needed` may."""
        return self.rank >= needed.rank

    @property
    def sees_personal_data(self) -> bool:
        return self.allows(Role.OPERATOR)


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
ROLE_NAMES = tuple(role.value for role in Role)
