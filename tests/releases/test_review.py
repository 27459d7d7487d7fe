"""Who may activate a release, and a rollback restoring the release before for the next
evaluation of a process that follows the store."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from careflow.console.roles import Role
from careflow.releases.follower import start_follower
from careflow.releases.lifecycle import (
    ActivationRefused,
    Actor,
    ReviewPolicy,
    activate,
    propose_folder,
    rollback,
)
from careflow.rule_references import folder_references
from careflow.store import Database
from tests.releases.folders import operator_folder

COMPLAINT = {"event_type": "complaint_opened", "complaint_severity": "low"}


def complaint_rule_hash(rulebook_outcomes: list[tuple[str, str]]) -> str:
    return next(h for rule, h in rulebook_outcomes if rule == "acknowledge-new-complaint")


async def test_review_gates_and_rollback(db: Database, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    policy = ReviewPolicy()
    first_rules, first_templates = operator_folder(tmp_path / "first")
    first = await propose_folder(db, first_rules, first_templates, actor="alice", cache_dir=cache)
    with pytest.raises(ActivationRefused, match="needs the admin role"):
        await activate(
            db, first.release_id, actor=Actor("bob", Role.OPERATOR), policy=policy, cache_dir=cache
        )
    with pytest.raises(ActivationRefused, match="alice proposed release"):
        await activate(
            db, first.release_id, actor=Actor("alice", Role.ADMIN), policy=policy, cache_dir=cache
        )
    # An operator may activate where the deployment says operators approve.
    await activate(
        db,
        first.release_id,
        actor=Actor("bob", Role.OPERATOR),
        policy=ReviewPolicy(approver_role=Role.OPERATOR),
        cache_dir=cache,
    )

    async with contextlib.AsyncExitStack() as stack:
        follower = await start_follower(
            db,
            stack,
            cache_dir=tmp_path / "machine",
            local_rules=first_rules,
            local_templates=first_templates,
            references=folder_references,
        )

        def served() -> tuple[str | None, str]:
            rulebook, release_id = follower.rulebook.current_release()
            outcomes = [(o.rule_id, o.ruleset_hash) for o in rulebook.evaluate(COMPLAINT).outcomes]
            return release_id, complaint_rule_hash(outcomes)

        assert (await follower.sync()) == first.release_id
        first_served = served()
        assert first_served[0] == first.release_id

        second_rules, second_templates = operator_folder(
            tmp_path / "second", ack_description="Every complaint."
        )
        second = await propose_folder(
            db, second_rules, second_templates, actor="alice", cache_dir=cache
        )
        await activate(
            db, second.release_id, actor=Actor("carol", Role.ADMIN), policy=policy, cache_dir=cache
        )
        await follower.sync()
        assert served()[0] == second.release_id
        assert served()[1] != first_served[1]
        # The policy and templates the worker reads are the release's too.
        assert (follower.rules_dir / "complaints.rules.yaml").read_text() == (
            second_rules / "complaints.rules.yaml"
        ).read_text()

        with pytest.raises(ActivationRefused, match="needs the admin role"):
            await rollback(db, actor=Actor("bob", Role.OPERATOR), policy=policy)
        restored = await rollback(db, actor=Actor("carol", Role.ADMIN), policy=policy)
        assert restored.release_id == first.release_id
        await follower.sync()
        assert served() == first_served
        assert (follower.rules_dir / "complaints.rules.yaml").read_text() == (
            first_rules / "complaints.rules.yaml"
        ).read_text()
