"""Why an activation or a rollback was refused, as Phrases (careflow/rules/phrases.py): the
CLI prints the English, the console says it in the reader's language."""

from __future__ import annotations

from careflow.rules.phrases import Words

REFUSAL_WORDS = Words(
    {
        "refusal.release.check_failed": (
            "release {release} failed its check ({problems} problem(s)); "
            "see `careflow rules check-release {release}`"
        ),
        "refusal.release.already_active": "release {release} is already active",
        "refusal.release.role": "activating a release needs the {role} role",
        "refusal.release.own": (
            "{actor} proposed release {release}: someone else with the {role} role must activate it"
        ),
        "refusal.release.nothing_earlier": "no earlier release to roll back to",
        "refusal.release.rollback_role": "rolling back a release needs the {role} role",
    }
)
