"""What a release holds: every operator YAML of the rules folder (whatever it declares) and
every template, hashed by content; and the diff of two releases, rule by rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from careflow.releases.bundle import BundleError, ReleaseFiles, read_folder, safe_relative
from careflow.releases.diff import diff_releases
from careflow.releases.materialize import materialize
from tests.releases.folders import operator_folder


def test_every_operator_yaml_and_template_is_in_the_release(tmp_path: Path) -> None:
    rules, templates = operator_folder(tmp_path / "project")
    before = read_folder(rules, templates)
    assert "rules/journeys.yaml" in before.files
    assert "rules/outreach_policy.yaml" in before.files
    assert "templates/email/complaint_ack/subject.en.j2" in before.files
    # A kind of operator file careflow learns later is versioned like the rest ...
    (rules / "campaigns.yaml").write_text("campaigns: []\n")
    (rules / "segments").mkdir()
    (rules / "segments" / "vip.yml").write_text("segment: vip\n")
    # ... code and editor leftovers are not.
    (rules / "helper.py").write_text("print('code')\n")
    (rules / ".complaints.rules.yaml.swp").write_text("swap")
    after = read_folder(rules, templates)
    assert set(after.files) - set(before.files) == {
        "rules/campaigns.yaml",
        "rules/segments/vip.yml",
    }
    assert after.id != before.id
    # The id is the content: the same files elsewhere are the same release.
    copy = materialize(after, tmp_path / "cache")
    assert read_folder(copy / "rules", copy / "templates").id == after.id


def test_a_release_path_stays_inside_the_release() -> None:
    for bad in ("../etc/passwd", "/etc/passwd", "rules/../../x", "other/x.yaml"):
        with pytest.raises(BundleError):
            safe_relative(bad)


HEAD = b"name: a\nrules:\n  - id: one\n    x: 1\n\n"


def test_diff_is_rule_by_rule_and_file_by_file() -> None:
    old = ReleaseFiles(
        {
            "rules/a.rules.yaml": HEAD + b"  - id: two\n    x: 2\n",
            "rules/journeys.yaml": b"a: 1\n",
        }
    )
    new = ReleaseFiles(
        {
            "rules/a.rules.yaml": HEAD + b"  - id: three\n    x: 3\n",
            "rules/journeys.yaml": b"a: 2\n",
            "rules/events.yaml": b"events: []\n",
        }
    )
    changes = [(change.kind, change.what) for change in diff_releases(old, new)]
    assert changes == [
        ("removed", "rules/a.rules.yaml: rule two"),
        ("added", "rules/a.rules.yaml: rule three"),
        ("added", "rules/events.yaml"),
        ("changed", "rules/journeys.yaml"),
    ]
