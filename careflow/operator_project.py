"""An operator project: a folder of rule files and templates that careflow runs from.

`careflow init DIR` copies the shipped operator files (everything under the package's
`rules/` that is not Python, and every template) into `DIR/rules` and `DIR/templates`
with a README saying what each file decides. careflow started in such a folder, or
with `CAREFLOW_RULES_DIR` / `CAREFLOW_TEMPLATES_DIR` pointing into it, runs from it;
anywhere else it runs from the shipped copies inside the package.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from careflow.paths import RULES_DIR, TEMPLATES_DIR

# A folder holds an operator project when it has both of these; one file alone is not
# enough to guess that a folder named `rules` is careflow's.
RULES_MARKER = Path("rules") / "journeys.yaml"
TEMPLATES_MARKER = Path("templates") / "email"

# Operator files are data, never code: Python modules of the rules package stay in it.
OPERATOR_SUFFIXES = (".yaml", ".md")

PROJECT_README = """\
# careflow operator project

careflow started in this folder (or with `CAREFLOW_RULES_DIR={rules}` and
`CAREFLOW_TEMPLATES_DIR={templates}`) runs from these files. Check every edit with
`careflow rules check` before it goes live. `careflow up` picks up a good edit within
a second and keeps the last good version running when an edit is broken; in a
deployment, `careflow rules propose` uploads the folder as a release for someone else to
activate (`careflow rules activate ID`), and `careflow rules rollback` undoes it.

What each file decides:
- `rules/*.rules.yaml`: when journeys start, which running journeys are signalled, tags
  and team notifications (`rules/README.md` lists every fact a rule can use).
- `rules/tiers.yaml`: tier thresholds (VIP / regular / potential), lifecycle stages,
  holiday names.
- `rules/journeys.yaml`: each journey's timings, offers by tier and spend, templates,
  SLA targets by tier and severity, business hours and holidays, staff addresses.
- `rules/outreach_policy.yaml`: quiet hours, the contact budget, care consent, locale
  fallback.
- `rules/holdout.yaml`: the share of customers held out of each journey, to measure
  what it achieves.
- `rules/segments.yaml`: named groups of customers (VIPs, last year's buyers, lapsing
  customers) for rules (`in_segment: NAME`), `careflow segments count` and the console.
- `rules/teams.yaml`: team rosters (members, contacts, working hours) and how each
  team shares its work (round robin or least loaded); account managers for VIPs.
- `rules/webhooks.yaml`: endpoints (the CRM, the helpdesk) that hear of careflow's
  events, signed per Standard Webhooks; rules send to them with `webhook: NAME`.
- `rules/staff_alerts.yaml`: each team's WeCom, DingTalk or Slack-compatible robot for
  its tasks and notifications, besides or instead of email.
- `rules/sms.yaml`: the SMS provider, the registered signature, each SMS template's
  approved code, the opt-out text, and per message the channels to try in order.
  Replace the `url: capture` entries of these three files (they are for `careflow up`).
- `templates/email/<template>/`: each message's subject, text and HTML body, one file
  per locale (`zh-CN`, `en`); `templates/README.md` lists the variables.
- `templates/sms/<template>/`: each SMS text, one file per locale.
"""


class ProjectExistsError(Exception):
    """`careflow init` would overwrite files that are already there."""

    def __init__(self, existing: list[Path]) -> None:
        self.existing = existing
        shown = ", ".join(str(path) for path in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        super().__init__(f"would overwrite {shown}{more}; choose an empty folder")


@dataclass(frozen=True)
class InitializedProject:
    """What `init_project` wrote."""

    root: Path
    files: int


def _operator_files() -> list[tuple[Path, Path]]:
    """(source, path relative to the project) of every shipped operator file."""
    files = [
        (source, Path("rules") / source.name)
        for source in sorted(RULES_DIR.iterdir())
        if source.is_file() and source.suffix in OPERATOR_SUFFIXES
    ]
    files += [
        (source, Path("templates") / source.relative_to(TEMPLATES_DIR))
        for source in sorted(TEMPLATES_DIR.rglob("*"))
        if source.is_file() and "__pycache__" not in source.parts
    ]
    return files


def init_project(root: Path) -> InitializedProject:
    """Write the shipped operator files into `root`; all of them or, on refusal, none."""
    root = root.resolve()
    if root.exists() and not root.is_dir():
        raise ProjectExistsError([root])
    files = _operator_files()
    existing = [root / relative for _, relative in files if (root / relative).exists()]
    if (root / "README.md").exists():
        existing.append(root / "README.md")
    if existing:
        raise ProjectExistsError(existing)
    root.mkdir(parents=True, exist_ok=True)
    # Built in a scratch folder beside the target and moved into place folder by
    # folder, so an interrupted init never leaves half a rule set behind.
    with tempfile.TemporaryDirectory(prefix=".careflow-init-", dir=root) as scratch:
        staging = Path(scratch)
        for source, relative in files:
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        (staging / "README.md").write_text(
            PROJECT_README.format(rules=root / "rules", templates=root / "templates"),
            encoding="utf-8",
        )
        for entry in sorted(staging.iterdir()):
            destination = root / entry.name
            if destination.is_dir():
                for child in entry.iterdir():
                    child.rename(destination / child.name)
            else:
                entry.rename(destination)
    return InitializedProject(root=root, files=len(files) + 1)


def default_rules_dir() -> Path:
    """`./rules` when the working folder is an operator project, else the shipped rules."""
    here = Path.cwd()
    return (here / "rules") if (here / RULES_MARKER).is_file() else RULES_DIR


def default_templates_dir() -> Path:
    """`./templates` when the working folder has them, else the shipped templates."""
    here = Path.cwd()
    return (here / "templates") if (here / TEMPLATES_MARKER).is_dir() else TEMPLATES_DIR
