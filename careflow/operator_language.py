"""What `careflow rules check` and `careflow rules explain` say, in the operator's language.

`CAREFLOW_LANG` (`zh-CN`, `zh`, `en`, ...) chooses English or Chinese; the location of
every problem (`file:line:col:`) is printed the same way in both.

The checker's messages are written in English where each mistake is found (rules/
parser.py, values.py, analysis.py, ...). Chinese comes from `CHECK_MESSAGES`, a typed
table keyed by each message's English template, the way a gettext catalogue is keyed
by its English msgid: a message is matched against the templates, and its fields are
put into the Chinese template, each field said in Chinese too where it is words
(`got the number 3`, `; did you mean 'tier'?`). Why a table rather than a key at each
call site: the messages are built in modules that change often (new facts, new
files), and a table beside them changes nothing there; the cost, a message whose
English changes without its entry here, falls back to English, and a test runs every
kind of mistake through the table so that cannot pass unnoticed
(tests/rules/test_check_language.py).

Explanations (`rules explain`) are Phrases already (rules/phrases.py), said from the
console's Chinese catalogue.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

ENGLISH = "en"
CHINESE = "zh-CN"
LANGUAGE_VARIABLE = "CAREFLOW_LANG"


def operator_language(value: str | None = None) -> str:
    """`zh-CN` when `CAREFLOW_LANG` (or `value`) names Chinese in any spelling, else `en`."""
    chosen = (value if value is not None else os.environ.get(LANGUAGE_VARIABLE, "")).strip()
    return CHINESE if chosen.lower().replace("_", "-").split("-")[0] == "zh" else ENGLISH


@dataclass(frozen=True)
class Entry:
    """One message: its English template (the key) and its Chinese template, with the
    same `{fields}`."""

    english: str
    chinese: str


def _kinds(*pairs: tuple[str, str]) -> dict[str, str]:
    return dict(pairs)


# What a value written in a rule file is, as rules/yamlfile.py's `describe` says it.
_VALUE_WORDS: list[Entry] = [
    Entry("nothing (empty)", "空值"),
    Entry("the number {n}", "数字 {n}"),
    Entry("the text {text}", "文本 {text}"),
    Entry("the date {date} (quote it if you meant text)", "日期 {date}（如果是文本，请加引号）"),
    Entry("a mapping (key: value lines)", "一个映射（键: 值 的多行）"),
    Entry("a list", "一个列表"),
]
# The tails some messages end with.
_TAIL_WORDS: list[Entry] = [
    Entry("", ""),
    Entry("; did you mean {name}?", "；是不是指 {name}？"),
    Entry(" (numbers are written without quotes)", "（数字不加引号）"),
    Entry(" (put quotes around it if you meant text)", "（如果是文本，请加引号）"),
    Entry("; to test the opposite write {other}: true", "；要测试相反情况，请写 {other}: true"),
]
_TYPE_WORDS: list[Entry] = [
    Entry("a whole number", "整数"),
    Entry("a number", "数字"),
    Entry("text", "文本"),
    Entry("true or false", "true 或 false"),
    Entry("one of {values}", "以下之一：{values}"),
]
_WHAT_WORDS = _kinds(
    ("ruleset", "规则集"), ("rule", "规则"), ("action", "动作"), ("example", "示例")
)

# Every message of the checker, most specific first (a template is tried in this order).
CHECK_MESSAGES: list[Entry] = [
    # rules/parser.py: the file and its header
    Entry("the file is not UTF-8 text ({reason})", "文件不是 UTF-8 文本（{reason}）"),
    Entry(
        "expected a ruleset: name, owner, description, mode and rules",
        "这里应是一个规则集：name、owner、description、mode 和 rules",
    ),
    Entry(
        "unknown {what} key {key}{tail} (expected one of: {known})",
        "未知的{what}键 {key}{tail}（应为以下之一：{known}）",
    ),
    Entry("missing 'rules' (the list of rules)", "缺少 'rules'（规则列表）"),
    Entry(
        "missing 'when' (the conditions that make this rule fire)",
        "缺少 'when'（使规则触发的条件）",
    ),
    Entry(
        "missing 'then' (what should happen when the rule fires)",
        "缺少 'then'（规则触发时要做的事）",
    ),
    Entry(
        "missing 'examples': add at least one (given: facts, expect: [intents]) so "
        "`careflow rules check` can prove the rule does what it says",
        "缺少 'examples'：至少加一个示例（given: 事实，expect: [意图]），"
        "以便 `careflow rules check` 证明规则按所说的工作",
    ),
    Entry("missing {key}", "缺少 {key}"),
    Entry("{key}: expected text, got {got}", "{key}：应为文本，实际为 {got}"),
    Entry(
        "{key}: {value} must be lowercase letters, digits and dashes "
        "(kebab-case, e.g. vip-birthday-greeting)",
        "{key}：{value} 只能由小写字母、数字和连字符组成（kebab-case，例如 vip-birthday-greeting）",
    ),
    Entry(
        "mode: expected all_matches or first_match, got {value}{tail}",
        "mode：应为 all_matches 或 first_match，实际为 {value}{tail}",
    ),
    # rules
    Entry("rules: expected a list of rules, got {got}", "rules：应为规则列表，实际为 {got}"),
    Entry(
        "duplicate rule id {id} (first used on line {line}); rule ids must be unique in a ruleset",
        "规则 id {id} 重复（第 {line} 行已用过）；同一规则集中的规则 id 必须唯一",
    ),
    Entry(
        "expected a rule (id, description, when, then, ...), got {got}",
        "这里应是一条规则（id、description、when、then 等），实际为 {got}",
    ),
    Entry(
        "reenter_after is not used: it spaces out the journeys a rule starts, and this rule "
        "starts none; remove it",
        "reenter_after 没有作用：它用来间隔规则启动的旅程，而此规则不启动旅程；请删除",
    ),
    Entry(
        "{key}: {value} is text, not true/false: careflow reads YAML 1.2, where only true and "
        "false are booleans; write true or false",
        "{key}：{value} 是文本，不是 true/false：careflow 按 YAML 1.2 读取，"
        "只有 true 和 false 是布尔值；请写 true 或 false",
    ),
    Entry("{key}: expected true or false, got {got}", "{key}：应为 true 或 false，实际为 {got}"),
    Entry(
        "{key}: expected a whole number of at least {minimum}, got {value}",
        "{key}：应为不小于 {minimum} 的整数，实际为 {value}",
    ),
    Entry("{key}: expected a whole number, got {got}", "{key}：应为整数，实际为 {got}"),
    # when
    Entry(
        "expected conditions (fact: test, or all:/any:/not:), got {got}",
        "这里应是条件（事实: 测试，或 all:/any:/not:），实际为 {got}",
    ),
    Entry(
        "unknown fact {key}{tail} (facts are listed in rules/README.md; groups are all, any, not)",
        "未知的事实 {key}{tail}（事实列在 rules/README.md；分组为 all、any、not）",
    ),
    Entry("unknown fact {key}{tail}", "未知的事实 {key}{tail}"),
    Entry("{kind}: expected a list of conditions, got {got}", "{kind}：应为条件列表，实际为 {got}"),
    Entry(
        "{fact}: to accept several values write {{one_of: [...]}}",
        "{fact}：要接受多个值，请写 {{one_of: [...]}}",
    ),
    Entry("{fact}: expected a test such as {{is: ...}}", "{fact}：应为一个测试，例如 {{is: ...}}"),
    Entry(
        "unknown test {op}{tail} (expected one of: {known})",
        "未知的测试 {op}{tail}（应为以下之一：{known}）",
    ),
    Entry("{fact} {op}: expected true{tail}", "{fact} {op}：应为 true{tail}"),
    Entry(
        "{fact} is {type}: {op} compares numbers; use is, is_not or one_of",
        "{fact} 是 {type}：{op} 用于比较数字；请用 is、is_not 或 one_of",
    ),
    Entry(
        "{fact} between: expected two numbers [low, high], got {count}",
        "{fact} between：应为两个数字 [下限, 上限]，实际有 {count} 个",
    ),
    Entry("{fact} {op}: expected a list, got {got}", "{fact} {op}：应为列表，实际为 {got}"),
    Entry(
        "{fact} between {low} and {high} can never match: write the low end first",
        "{fact} between {low} 和 {high} 永远不会匹配：请把下限写在前面",
    ),
    # rules/values.py
    Entry(
        "{fact} is true or false, but {value} is text here: careflow reads YAML 1.2, where only "
        "true and false are booleans; write true or false",
        "{fact} 是 true 或 false，但这里的 {value} 是文本：careflow 按 YAML 1.2 读取，"
        "只有 true 和 false 是布尔值；请写 true 或 false",
    ),
    Entry(
        "{fact} is {type}: expected {expected}, got {got}{tail}",
        "{fact} 是 {type}：应为{expected}，实际为 {got}{tail}",
    ),
    # then
    Entry(
        "then: expected a list of actions (start:, signal: ... to:, tag:, notify:, webhook:), "
        "got {got}",
        "then：应为动作列表（start:、signal: ... to:、tag:、notify:、webhook:），实际为 {got}",
    ),
    Entry(
        "expected an action such as start: retention_offer, got {got}",
        "这里应是一个动作，例如 start: retention_offer，实际为 {got}",
    ),
    Entry(
        "each action needs exactly one of start:, signal:, tag:, notify:",
        "每个动作必须恰好有 start:、signal:、tag:、notify: 之一",
    ),
    Entry("'to' only goes with signal:", "'to' 只能与 signal: 一起使用"),
    Entry(
        "journey {journey} has no signal {signal}{tail} (it accepts: {accepted})",
        "旅程 {journey} 没有信号 {signal}{tail}（它接受：{accepted}）",
    ),
    Entry(
        "{key}: {target} must be kebab-case, e.g. at-risk",
        "{key}：{target} 必须是 kebab-case，例如 at-risk",
    ),
    Entry(
        "unknown team {team}{tail} (teams with an address under staff.teams in journeys.yaml: "
        "{teams})",
        "未知的团队 {team}{tail}（journeys.yaml 的 staff.teams 下有地址的团队：{teams}）",
    ),
    Entry(
        "unknown journey {name}{tail} (known journeys: {known})",
        "未知的旅程 {name}{tail}（已知旅程：{known}）",
    ),
    Entry(
        "params: expected key: value lines, got {got}", "params：应为 键: 值 的多行，实际为 {got}"
    ),
    Entry(
        "param {key}: expected text, a number or true/false, got {got}",
        "参数 {key}：应为文本、数字或 true/false，实际为 {got}",
    ),
    # notify's assign_to and due_in (careflow/assign_targets.py)
    Entry(
        "param {key}: expected account_manager, team:<name> or person:<name>, not {value} "
        "(teams and their people are in teams.yaml)",
        "参数 {key}：应为 account_manager、team:<团队名> 或 person:<人名>，实际为 {value}"
        "（团队及其成员在 teams.yaml 中）",
    ),
    Entry(
        "param {key}: expected business time like 4h or 30m, not {value}",
        "参数 {key}：应为工作时长，例如 4h 或 30m，实际为 {value}",
    ),
    Entry("param {key}: expected text, got {got}", "参数 {key}：应为文本，实际为 {got}"),
    Entry(
        "param 'occasion' is not used: {journey} is about the event's own subject (its "
        "complaint); remove it",
        "参数 'occasion' 没有作用：{journey} 针对事件本身的对象（其投诉）；请删除",
    ),
    Entry(
        "param 'template' is not used: a journey's messages and their templates are set in "
        "journeys.yaml (e.g. retention_offer.template, reminder_template); remove it here and "
        "change the template there",
        "参数 'template' 没有作用：旅程的消息及其模板在 journeys.yaml 中设置"
        "（例如 retention_offer.template、reminder_template）；请在这里删除，到那里修改模板",
    ),
    Entry(
        "param {name} is not used: {action}: takes no params; remove it",
        "参数 {name} 没有作用：{action}: 不接受参数；请删除",
    ),
    Entry(
        "param {name} is not used: {action}: takes only {used}; remove it",
        "参数 {name} 没有作用：{action}: 只接受 {used}；请删除",
    ),
    # examples
    Entry(
        "examples: expected a list of examples, got {got}", "examples：应为示例列表，实际为 {got}"
    ),
    Entry(
        "an example needs given: (facts) and expect: (a list of intents)",
        "示例需要 given:（事实）和 expect:（意图列表）",
    ),
    Entry(
        "given: expected fact: value lines, got {got}", "given：应为 事实: 值 的多行，实际为 {got}"
    ),
    Entry(
        "expect: expected a list such as [start retention_offer] or [], got {got}",
        "expect：应为列表，例如 [start retention_offer] 或 []，实际为 {got}",
    ),
    Entry(
        "expect: this rule has no action {label}{tail} (its actions: {labels})",
        "expect：此规则没有动作 {label}{tail}（它的动作：{labels}）",
    ),
    Entry(
        "example {number} of rule {rule}: expected [{wanted}], got [{got_intents}] because "
        "{condition} did not hold (actual: {actual})",
        "规则 {rule} 的示例 {number}：预期 [{wanted}]，实际 [{got_intents}]，"
        "因为 {condition} 不成立（实际值：{actual}）",
    ),
    Entry(
        "example {number} of rule {rule}: expected [{wanted}], got [{got_intents}] because "
        "{condition} did not hold",
        "规则 {rule} 的示例 {number}：预期 [{wanted}]，实际 [{got_intents}]，"
        "因为 {condition} 不成立",
    ),
    Entry(
        "example {number} of rule {rule}: expected [{wanted}], got [{got_intents}] because "
        "its conditions hold, but rule {winner} fired first (this ruleset is first_match)",
        "规则 {rule} 的示例 {number}：预期 [{wanted}]，实际 [{got_intents}]，"
        "因为条件成立，但规则 {winner} 先触发了（此规则集为 first_match）",
    ),
    Entry(
        "example {number} of rule {rule}: expected [{wanted}], got [{got_intents}]",
        "规则 {rule} 的示例 {number}：预期 [{wanted}]，实际 [{got_intents}]",
    ),
    # rules/analysis.py
    Entry(
        "rule {rule} can never match: no value of {fact} passes all of these tests together: "
        "{tests}",
        "规则 {rule} 永远不会匹配：{fact} 没有任何值能同时通过这些测试：{tests}",
    ),
    Entry(
        "rule {later} can never fire: whenever it matches, rule {earlier} (line {line}) matches "
        "too and wins (mode first_match, higher priority or earlier in the file); give {later2} "
        "a higher priority or narrow {earlier2}",
        "规则 {later} 永远不会触发：每当它匹配时，规则 {earlier}（第 {line} 行）也匹配并优先"
        "（mode 为 first_match，优先级更高或在文件中更靠前）；"
        "请提高 {later2} 的优先级或收窄 {earlier2}",
    ),
    # rules/rulebook.py, rules/yamlfile.py, rules/errors.py, config_files.py
    Entry("cannot read the file: {reason}", "无法读取文件：{reason}"),
    Entry("ruleset name {name} is already used by {path}", "规则集名称 {name} 已被 {path} 使用"),
    Entry(
        "YAML syntax: control character {character} is not allowed; delete it or write it as "
        "an escape inside double quotes",
        "YAML 语法错误：不允许控制字符 {character}；请删除，或在双引号内写成转义",
    ),
    Entry("YAML syntax: {problem}", "YAML 语法错误：{problem}"),
    Entry("... and {count} more problems from here on", "……从这里起还有 {count} 个问题"),
    Entry(
        "the file is larger than {size} KiB; operator files are hand-written and much smaller "
        "(split it, or look for a pasted blob)",
        "文件大于 {size} KiB；运营文件是手写的，远比这小（请拆分，或查找误粘贴的大段内容）",
    ),
    # careflow/releases/checking.py: templates named by rules
    Entry("template {template} ({locale}): {problem}", "模板 {template}（{locale}）：{problem}"),
]

# Fields whose text is itself words, and the table that says them.
_FIELD_TABLES: dict[str, list[Entry]] = {
    "got": _VALUE_WORDS,
    "tail": _TAIL_WORDS,
    "expected": _TYPE_WORDS,
}


@dataclass(frozen=True)
class _Compiled:
    pattern: re.Pattern[str]
    entry: Entry


def _field_pattern(name: str) -> str:
    if name == "tail":
        return r"(?P<tail>(?:;| \().*?)?"
    return rf"(?P<{name}>.*?)"


def _compile(entries: list[Entry]) -> list[_Compiled]:
    compiled = []
    for entry in entries:
        parts = []
        for literal, name, _spec, _conversion in string.Formatter().parse(entry.english):
            parts.append(re.escape(literal))
            if name:
                parts.append(_field_pattern(name))
        compiled.append(_Compiled(re.compile("".join(parts) + r"\Z", re.DOTALL), entry))
    return compiled


@cache
def _tables() -> tuple[list[_Compiled], dict[str, list[_Compiled]]]:
    return _compile(CHECK_MESSAGES), {k: _compile(v) for k, v in _FIELD_TABLES.items()}


def _translate(text: str, table: list[_Compiled], field: Callable[[str, str], str]) -> str | None:
    for compiled in table:
        found = compiled.pattern.match(text)
        if found is not None:
            values = {name: field(name, value or "") for name, value in found.groupdict().items()}
            return compiled.entry.chinese.format(**values)
    return None


def _field(name: str, value: str) -> str:
    if name == "what":
        return _WHAT_WORDS.get(value, value)
    table = _tables()[1].get(name)
    if table is None:
        return value
    return _translate(value, table, _field) or value


def chinese_message(message: str) -> str | None:
    """The Chinese for one of the checker's English messages; None when it has no entry."""
    return _translate(message, _tables()[0], _field)


def say_message(message: str, language: str) -> str:
    """`message` in `language` (English as written when the table lacks it)."""
    if language == ENGLISH:
        return message
    return chinese_message(message) or message


def say_problem(problem: str, language: str, *, separator: str = ": ") -> str:
    """A `location: message` line with the message in `language` and the location as is.

    The location is everything before the first `: ` that follows `line:col`
    (`path:12:7: message`) or `line` (`journeys.yaml:3: message`).
    """
    if language == ENGLISH:
        return problem
    found = re.match(r"(?P<where>.*?:\d+(?::\d+)?)(?P<sep>: )(?P<message>.*)\Z", problem, re.DOTALL)
    if found is None:
        return say_message(problem, language)
    return f"{found['where']}{separator}{say_message(found['message'], language)}"


def catalogue(language: str) -> Mapping[str, str]:
    """The console's catalogue of `language`: Phrases (explain's reasons) are said from it."""
    from careflow.console.messages import MESSAGES

    return MESSAGES[language]
