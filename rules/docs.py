"""Generates rules/README.md, the guide for operations staff, from the fact schema, and its
Chinese edition rules/README.zh-CN.md (words in rules/docs_zh.py).

Run `python -m careflow.generated_docs` after changing rules/facts.py, a shipped rule
file or a journey declaration; a test fails while either guide is stale. The worked
examples are cut from the
shipped rule files, so every example in the guide is one that `careflow rules
check` has proved.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from string import Template
from typing import NamedTuple

from careflow.config_files import MAX_FILE_BYTES, MAX_PROBLEMS
from careflow.rules import docs_zh
from careflow.rules.conditions import describe
from careflow.rules.facts import FACTS, FactDefinition
from careflow.rules.model import OPERATORS
from careflow.rules.rulebook import RuleBook

RULES_DIR = Path(__file__).resolve().parent
README = RULES_DIR / "README.md"
README_ZH = RULES_DIR / "README.zh-CN.md"


class Trigger(NamedTuple):
    """A situation from careflow's mission and the shipped rule that handles it."""

    title: str
    explanation: str
    ruleset: str
    rule_id: str


TRIGGERS = (
    Trigger(
        "Declining purchase frequency",
        "`purchase_frequency_change` compares the last 90 days with the 90 days before: "
        "-0.5 means half as many orders. Requiring a few earlier orders keeps one-off "
        "buyers out.",
        "retention",
        "declining-frequency",
    ),
    Trigger(
        "Dormancy (win-back)",
        "`lifecycle_stage` becomes dormant after a stretch without orders (thresholds in "
        "rules/tiers.yaml); `days_since_last_order` narrows it further.",
        "retention",
        "dormant-win-back",
    ),
    Trigger(
        "Birthday, solar or lunar",
        "`days_until_birthday` is 0 on the day, in the customer's own time zone. A lunar "
        "birthday is converted to this year's date first, so the same rule covers both.",
        "occasions",
        "birthday-greeting",
    ),
    Trigger(
        "Spring Festival",
        "`holiday_today` names today's holiday in the customer's country; the `occasion` "
        "parameter makes the greeting go out once per holiday and year.",
        "occasions",
        "spring-festival-greeting",
    ),
    Trigger(
        "Mid-Autumn Festival",
        "The same pattern for another holiday: one rule per holiday you want to greet.",
        "occasions",
        "mid-autumn-greeting",
    ),
    Trigger(
        "New complaint",
        "Events set `event_type`; the complaint journey acknowledges at once and escalates "
        "when the service-level target is missed.",
        "complaints",
        "acknowledge-new-complaint",
    ),
    Trigger(
        "Low satisfaction score (CSAT)",
        "`survey_score` is the score in the survey_answered event that is being handled.",
        "satisfaction",
        "low-score-follow-up",
    ),
    Trigger(
        "Contact data changed",
        "`changed_fields` lists the contact fields an update changed; it is missing when "
        "nothing changed, so `exists: true` means something did.",
        "contact",
        "contact-change-notice",
    ),
    Trigger(
        "VIP variant: win-back with a call",
        "A more specific rule with a higher priority in a first_match ruleset: VIPs get "
        "this one instead of the general one.",
        "retention",
        "vip-dormant-win-back",
    ),
    Trigger(
        "VIP variant: complaints",
        "In an all_matches ruleset a VIP rule can add to the general one: both fire.",
        "complaints",
        "vip-complaint-alerts-account-manager",
    ),
    Trigger(
        "VIP variant: birthday heads-up",
        "A rule can tell a team instead of writing to the customer.",
        "occasions",
        "vip-birthday-heads-up",
    ),
    Trigger(
        "A VIP complains again within a week",
        "`complaints_last_7d` is a windowed fact written in `rules/derived_facts.yaml` "
        "(a count of `complaint_opened` within 7 days), used like any built-in fact. "
        "`notify: account-manager` opens a call task for the customer's own account "
        "manager (the service team when none is on file).",
        "complaints",
        "vip-repeat-complaints-call",
    ),
)

TEST_WORDS = {
    "is": "equals the value (the short form `fact: value` means the same)",
    "is_not": "differs from the value, or the fact is missing",
    "one_of": "equals one of the listed values",
    "at_least": "is the number or more",
    "at_most": "is the number or less",
    "more_than": "is more than the number",
    "less_than": "is less than the number",
    "between": "is between the two numbers, both included: `between: [0, 3]`",
    "exists": "is known for the customer: `exists: true`",
    "missing": "is not known for the customer: `missing: true`",
}

GUIDE = """\
# Rules: a guide for operations staff

<!-- Generated by `python -m careflow.generated_docs` from rules/facts.py and the shipped rule
files. Do not edit by hand: a test fails when this file is stale. -->

Rules decide *what* careflow should do for a customer: start a journey (a retention
offer, a birthday greeting, a complaint escalation), tell a running journey that
something happened, tag the customer, or notify a team. Whether and when a message
is actually sent (consent, quiet hours, contact budget) is decided by the outreach
policy in `rules/outreach_policy.yaml`; a rule can never switch consent off.

## Rule files

Each `rules/*.rules.yaml` file is one ruleset:

```yaml
name: retention            # unique, lowercase-with-dashes
owner: marketing           # who to ask about it
description: Offers for customers who are drifting away.
mode: first_match          # or all_matches
rules:
  - id: declining-frequency          # stable and unique: the audit log refers to it
    description: Half as many orders as the quarter before.
    enabled: true                    # optional, default true
    priority: 20                     # optional, default 0; higher goes first
    reenter_after: 90                # optional: days between this rule's starts
    when: ...                        # the conditions, below
    then: ...                        # the actions, below
    examples: ...                    # at least one, below
```

A customer has at most one journey of a kind running at a time (and subject, such
as one complaint), whichever rule asks for it: a second rule's offer waits until
the first offer has ended, and may start at the instant it gives up. Without
`reenter_after` a rule starts its journey for a customer once, ever (a greeting once
per occasion and year, a contact-change notice once a day); with it, again once
that many days have passed since the rule's last start for them. A customer in a
journey's holdout group is recorded, not started. `careflow timeline` says which
of these stopped a start, and `careflow simulate --rules-only` counts with the same
rule.

- **all_matches**: every rule whose conditions hold fires.
- **first_match**: only the first rule that holds fires, in order of `priority`
  (higher first), then order in the file. Put specific rules (VIPs) above general ones.

## Conditions (`when`)

Name facts (listed at the end of this guide) and test them:

```yaml
when:
  event_type: daily_scan                      # short for {is: daily_scan}
  tier: {one_of: [vip, regular]}
  days_since_last_order: {between: [90, 365]}
  any:                                        # at least one of these
    - complaint_severity: critical
    - open_complaints: {at_least: 2}
  not:                                        # this must not hold
    lifecycle_stage: churned
```

Everything listed under `when` must hold. `all:` and `any:` take a list of
conditions; `not:` takes one. Several tests on one fact must all hold:
`order_count: {at_least: 2, at_most: 10}`.

| test | holds when the fact ... |
|---|---|
$tests

A test on a fact the customer does not have (no birthday on file, never ordered)
does not hold, except `is_not` and `missing`.

Write `true` and `false` for yes/no facts: careflow reads YAML 1.2, where `yes`,
`no`, `on` and `off` are plain words, and `careflow rules check` says so if you use them.
Put quotes around text that looks like a number or a date. YAML aliases (`&name` /
`*name`) are not accepted: write a value out where it is used. A file may be up to
$max_file_kib KiB; a check lists at most $max_problems mistakes at once.

## Actions (`then`)

```yaml
then:
  - start: retention_offer            # start a journey
    params: {occasion: birthday}      # optional; template variables (`occasion` names the greeting)
  - signal: complaint_resolved        # tell a running journey
    to: complaint_escalation
  - tag: at-risk                      # tag the customer
  - notify: sales                     # a task for a team named under staff.teams in journeys.yaml
    params: {message: Please call this customer.}
  - notify: sales                     # ... for one member of the sales roster (teams.yaml),
    params:                           # due in 4 business hours
      message: Call this VIP today.
      assign_to: team:sales           # or account_manager, or person:li.na
      due_in: 4h                      # business hours (journeys.yaml), or 30m
  - notify: account-manager           # a call task for the customer's own account manager
  - webhook: crm                      # a signed webhook to an endpoint of webhooks.yaml
    params: {segment: lapsing}        # optional; sent in the payload as they are
```

A `care_message` started with an `occasion` listed under `care_message.occasions`
in `journeys.yaml` (such as `points_expiring`) sends that occasion's template, with
the facts listed there (`points_balance`, ...) as its variables.

A parameter careflow would not use is a mistake, never ignored: `signal` and `tag`
take no params, `notify` only `message`, `assign_to` and `due_in`, `template` is not a param (each
journey's templates are set per message in `journeys.yaml`), and `occasion` does
not go with `complaint_escalation` (it is about its complaint). `reenter_after`
only goes with a rule that starts a journey.

Journeys: $journeys.

### A/B tests of a journey message (`experiments` in `journeys.yaml`)

```yaml
experiments:
  - journey: retention_offer           # where this journey would send ...
    template: retention_offer          # ... this template, each customer gets one variant
    variants:                          # two or more; names: a-z, 0-9 and _
      current: { template: retention_offer, weight: 1 }
      short: { template: retention_offer_short, weight: 1 }   # weights: whole numbers
    goal: { event: order_placed, within_days: 7 }   # the message worked (the default)
```

A customer's variant is drawn from their id and the experiment's name
(`journey:<journey>:<template>`) with the weights' shares: the same customer always
gets the same variant, and the outreach ledger records it with each message. The
send step makes the choice, so running journeys pick it up with their next message
and nothing else about them changes. A customer reaches the goal with an event of
`goal.event` (`order_placed`, `complaint_opened`, `complaint_resolved`,
`survey_answered`, or a type declared in `events.yaml`) within `within_days` after
their first message of the experiment. A suppression in `outreach_policy.yaml` that
names the template holds for its variants too; SMS settings (`sms.yaml`) are per
template, so a variant goes by SMS only when `sms.yaml` lists it. `careflow rules
check` refuses an experiment on a journey that does not exist or on a template that
journey does not send, a variant template that does not exist, a goal event careflow
does not know, and a weight that is not a whole number of at least 1.
`careflow kpis` and the console's overview show each variant's customers, how many
reached the goal, the conversion with its 95% interval, each variant against the
others and against the journey's holdout group (`holdout.yaml`), and the verdict: a
winner, no significant difference, or a sample too small to call a winner (fewer than
100 customers in a variant, or too few to see a 20% lift; it says how many are
needed).

## Examples

Every rule carries examples: facts, and the actions the rule must produce for them
(`[]` means the rule must not fire). In a first_match ruleset an example also proves
which rule wins.

```yaml
examples:
  - given: {event_type: daily_scan, days_until_birthday: 0}
    expect: [start care_message]
  - given: {event_type: daily_scan, days_until_birthday: 1}
    expect: []
```

## Checking, explaining, changing

- `careflow rules check` checks every file and prints every mistake at once as
  `file:line:column: message`: unknown facts (with the closest name), wrong value
  types, yes/no surprises, duplicate ids, unknown journeys, signals, templates and teams,
  rules that can never match, rules in a first_match set that can never win, and
  failing examples, and parameters that would be ignored. It renders every template of
  every journey, in every language it has, for a sample customer (a mistake is
  `template file:line: message`), and checks that every template `journeys.yaml` names
  exists (`journeys.yaml:line: field: ...`).
- A template that is broken anyway when a message is due fails that message only:
  the message is recorded as failed with the template's file and line (on the
  customer's timeline), the manager in `journeys.yaml` gets a task to fix it, and the
  journey carries on with its other steps.
- `careflow rules explain CUSTOMER_ID [--at TIME] [--event TYPE] [--json]` shows
  every rule for one customer: whether it fires, and if not, the first condition
  that failed and the customer's actual value.
- `CAREFLOW_LANG=zh-CN` makes `rules check` and `rules explain` speak Chinese, naming
  file, line and column the same way (this guide in Chinese: `rules/README.zh-CN.md`).
- Changes go live as a release: `careflow up` picks up saved changes within seconds,
  without a restart; a file with mistakes is not used, the previous rules keep running
  and the mistakes are logged, exactly as `careflow rules check` prints them. In a
  deployment, `careflow rules propose` uploads the folder as a draft that someone else
  with the right role activates (`careflow rules activate ID`, or the console's
  Releases page), and `careflow rules rollback` undoes it in one step.
- Every decision is recorded with the rule id, the facts it matched, the content
  hash of the ruleset that made it and the release id.

## Your own events (`events.yaml`)

Besides careflow's six event types (`customer_upserted`, `order_placed`,
`complaint_opened`, `complaint_resolved`, `survey_answered`, `consent_changed`),
the systems around you can send any event you declare in `rules/events.yaml`:

```yaml
events:
  points_earned:
    description: Loyalty points credited to the customer.
    properties:
      points: {type: number, required: true}
      reason: {type: enum, values: [purchase, birthday, referral, goodwill, other]}
```

Property types: `string`, `number`, `integer`, `boolean`, `datetime` (ISO 8601 with
a UTC offset) and `enum` (with its `values`); `required: true` makes a property
mandatory. An event with a property that is missing, of the wrong type or not
declared is refused naming the property (`POST /events` answers 422, `careflow
import events FILE` names `FILE:ROW: property`); an event of a type declared nowhere
is refused naming the declared ones. A declared event triggers the rules like a
built-in one (`event_type: points_earned`), and windowed facts can count and sum it.

## Windowed facts (`derived_facts.yaml`)

Facts you write yourself, over any event, without a developer:

```yaml
facts:
  complaints_last_7d:
    description: Complaints opened in the last 7 days.
    count: complaint_opened
    within: 7d
  high_complaints_last_30d:
    count: complaint_opened
    where: {severity: [high, critical]}
    within: 30d
  points_balance:
    sum: points_earned.points
    within: 365d
    minus: {sum: points_redeemed.points, within: 365d}
```

- The aggregate names the event, or one of its properties: `count`, `sum`, `avg`,
  `min`, `max`, `last` (the newest event's value), `first` (the oldest's). Built-in
  events: `order_placed` (`amount`, `items`), `complaint_opened` and
  `complaint_resolved` (`severity`, `channel`), `survey_answered` (`score`); and every
  event in `events.yaml`, with its properties. `sum`, `avg`, `min` and `max` need a
  number property.
- `within: 7d` (or `24h`, `90m`) counts what happened after that long ago, up to and
  including now; leave it out for all time. `older_than: 335d` leaves out the newest
  part (points earned 335 to 365 days ago are the ones expiring within 30 days).
  `where` keeps the events whose properties have the value (or one of the values)
  given. `minus` subtracts a second count or sum (a balance).
- Each fact has a type: `count` a whole number, `sum` and `avg` a number, the others
  the property's type, and rules are checked against it (`points_balance: {is: vip}`
  is a mistake at its line). `count` and `sum` are 0 when nothing happened in the
  window; the others are missing then.
- They are computed like the built-in facts, as of the moment of evaluation: in the
  daily scan, when an event arrives, in `careflow simulate`, `careflow facts` and
  `careflow rules explain`. A mistake in the file is `derived_facts.yaml:line:col`
  in `careflow rules check`, and the running system keeps the last good rules.

## Segments (`segments.yaml`)

Named groups of customers, written once and used everywhere: in rules, in `careflow
segments count`, on the console's Segments page.

```yaml
segments:
  vip_customers:
    description: Every VIP customer.
    when:
      tier: vip
```

- `when` is written like a rule's conditions (`all:`, `any:`, `not:` and every test
  above) over the built-in facts and the windowed facts of `derived_facts.yaml`. A
  segment is about the customer at any time, so the facts of the event being handled
  (`event_type`, `complaint_severity`, `survey_score`, `changed_fields`) and
  `in_segment:` itself are not allowed in it.
- A rule tests membership with `in_segment: NAME` (and `not: {in_segment: NAME}`);
  an example gives it as `given: {in_segment: [vip_customers]}` (the customer is in
  the segments listed and in no other). A segment the file does not have is a
  mistake at its line, naming the segments it has.
- Membership is computed with the other facts, as of the moment of evaluation: in the
  daily scan, when an event arrives, in `careflow simulate` and `careflow rules
  explain` (where it shows as `in segment NAME`).
- `careflow segments list` lists them; `careflow segments count NAME [--at TIME]
  [--sample N]` counts the customers in one as of a time, with a sample of their ids.
  A mistake in the file is `segments.yaml:line:col` in `careflow rules check`.

## Broadcasts (`campaigns/NAME.campaign.yaml`)

A one-off message to a whole segment (of `segments.yaml`), one file per campaign:

```yaml
# rules/campaigns/member_day.campaign.yaml
segment: vip_customers
topic: care                  # or marketing: decides the consent it needs
channel: email               # or sms, or preferred (see below)
template: member_day         # or variants: {short: {template: a, weight: 1}, ...}
locales: [zh-CN, en]         # every template must have each of them
send_window: {from: "10:00", to: "20:00"}   # the customer's own local time
holdout: 0.1                 # this share gets nothing (0 to 0.5)
goal: {event: order_placed, within: 7d}
start: "2026-12-08T09:00:00+08:00"
rate: {per_minute: 600}      # leave out for as fast as the send step goes
```

- `careflow campaign preview NAME` lists who would get it now, who would not and
  why (the same decision as at the send: consent, suppression, contact budget, no
  address or phone number, held out), a few ids per reason, the count per variant and the expected
  messages per hour. `careflow campaign launch NAME` sends it (operator role on the
  console), `status` shows its progress, `cancel` stops it after the current page.
- Each customer gets it at most once, however often it is launched or a worker
  stops midway. Quiet hours and the contact budget apply as to every message; a
  customer outside the send window gets it when their window opens.
- `channel`: `email` (the default) or `sms` sends on that channel only: a member
  without an address there (for SMS a valid mobile number) or without consent for
  the topic on it is skipped with that reason, never sent on the other channel.
  `preferred` sends as journeys do: the customer's `preferred_channel` first, then
  the template's order in `sms.yaml` (`channels`). `channel: sms` needs each
  template (each variant's) as an SMS: `templates/sms/NAME/body.LOCALE.j2` for every
  locale, its code under `templates:` in `sms.yaml`, and a text within
  `max_segments` with the 【signature】 (and 拒收请回复R for marketing).
- Variants and the holdout are drawn from the customer id, the same on every run.
- `careflow rules check` names each mistake as `campaigns/NAME.campaign.yaml:line:col`:
  an unknown segment, template or goal event, a template without one of the
  locales, a window that ends before it starts, a holdout over 0.5, a `channel:
  sms` template without its SMS version or `sms.yaml` code, or too long as an SMS.

## Worked examples

$triggers

## Facts

| fact | type | meaning | values | example |
|---|---|---|---|---|
$facts

`event_type` is also any event type declared in `rules/events.yaml`.

### Windowed facts shipped in `derived_facts.yaml`

| fact | type | meaning | values |
|---|---|---|---|
$derived

### Segments shipped in `segments.yaml`

| segment | who is in it | conditions |
|---|---|---|
$segments
"""


def render_readme(rulebook: RuleBook, journeys: Iterable[str], *, chinese: bool = False) -> str:
    """The README text for the fact schema, the shipped rule files and these journeys
    (`chinese`: the zh-CN edition, the same facts, rules and snippets)."""
    tests = docs_zh.TEST_WORDS if chinese else TEST_WORDS
    return Template(docs_zh.GUIDE if chinese else GUIDE).substitute(
        tests="\n".join(f"| `{op}` | {tests[op]} |" for op in OPERATORS),
        journeys=", ".join(f"`{name}`" for name in sorted(journeys)),
        triggers="\n\n".join(_trigger(rulebook, trigger, chinese) for trigger in TRIGGERS),
        facts="\n".join(_fact_row(fact, chinese) for fact in FACTS),
        derived="\n".join(_derived_row(fact) for fact in rulebook.derived.definitions.values()),
        segments="\n".join(
            f"| `{name}` | {segment.description} | {describe(segment.when)} |"
            for name, segment in rulebook.segments.items()
        ),
        max_file_kib=MAX_FILE_BYTES // 1024,
        max_problems=MAX_PROBLEMS,
    )


def _trigger(rulebook: RuleBook, trigger: Trigger, chinese: bool = False) -> str:
    ruleset = next(item for item in rulebook.rulesets if item.name == trigger.ruleset)
    snippet = rule_source(Path(ruleset.path), [rule.pos.line for rule in ruleset.rules], trigger)
    title, explanation = trigger.title, trigger.explanation
    source = f"From `rules/{Path(ruleset.path).name}` ({ruleset.mode}):"
    if chinese:
        title, explanation = docs_zh.TRIGGERS.get(trigger.rule_id, (title, explanation))
        source = f"摘自 `rules/{Path(ruleset.path).name}`（{ruleset.mode}）："
    return f"### {title}\n\n{explanation}\n\n{source}\n\n```yaml\n{snippet}\n```"


def rule_source(path: Path, rule_lines: list[int], trigger: Trigger) -> str:
    """The lines of one rule as written in its file, from `- id:` to the next rule."""
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = sorted(rule_lines)
    for index, start in enumerate(starts):
        if lines[start - 1].strip() == f"- id: {trigger.rule_id}":
            end = starts[index + 1] - 1 if index + 1 < len(starts) else len(lines)
            block = lines[start - 1 : end]
            while block and not block[-1].strip():
                block.pop()
            indent = len(block[0]) - len(block[0].lstrip())
            return "\n".join(line[indent:] for line in block)
    raise LookupError(f"rule {trigger.rule_id!r} not found in {path}")


def _fact_row(fact: FactDefinition, chinese: bool = False) -> str:
    values = ", ".join(fact.values) if fact.values else (fact.unit or "")
    example = "" if fact.example is None else _example(fact.example)
    kind = docs_zh.TYPE_WORDS[fact.type] if chinese else _type_word(fact)
    meaning = docs_zh.FACTS.get(fact.name, fact.description) if chinese else fact.description
    return f"| `{fact.name}` | {kind} | {meaning} | {values} | {example} |"


def _derived_row(fact: FactDefinition) -> str:
    values = ", ".join(fact.values)
    return f"| `{fact.name}` | {_type_word(fact)} | {fact.description} | {values} |"


def _type_word(fact: FactDefinition) -> str:
    return {
        "integer": "whole number",
        "number": "number",
        "text": "text",
        "boolean": "true/false",
    }[fact.type]


def _example(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else f"`{value}`"
