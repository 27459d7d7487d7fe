"""careflow's rule language: YAML rule files, the fact schema, the compiler and engine.

Public names live here; each module has one job: `facts` (the fact schema),
`intents` (what rules ask for), `yamlfile` and `parser` (reading rule files with
every mistake and its line), `analysis` (rules that can never fire), `conditions`
(what a condition means, in Python and in words), `explaining` (why a rule did not
fire, in words), `phrases` (words kept as a key and values, said in any language),
`compiler` (to durable_rules JSON), `engine` (the only module that imports
durable_rules), `rulebook` (load, evaluate, explain), `live` (follow edits), `docs`
(generates rules/README.md).
"""

from careflow.rules.errors import RuleError, RuleFileError
from careflow.rules.live import LiveRuleBook
from careflow.rules.rulebook import RuleBook, load_rule_files, load_rulebook

__all__ = [
    "LiveRuleBook",
    "RuleBook",
    "RuleError",
    "RuleFileError",
    "load_rule_files",
    "load_rulebook",
]
