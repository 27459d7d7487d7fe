"""Operator-edited templates cannot reach Python internals nor exhaust the worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from careflow.outreach import RenderLimits, TemplateProblem, TemplateRenderer
from tests.outreach.template_files import simple_template

MakeTemplates = Callable[[dict[str, str]], Path]
CONTEXT = {"x": "text", "items": [1, 2, 3], "customer": {"name": "Ann"}}


def render_body(
    make_templates: MakeTemplates, body: str, limits: RenderLimits | None = None
) -> str:
    renderer = TemplateRenderer(make_templates(simple_template(body=body)), limits=limits)
    return renderer.render("t", "en", CONTEXT).text


INJECTIONS = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ x.__init__.__globals__ }}",
    "{{ x['__class__'] }}",
    "{{ x|attr('__class__') }}",
    "{{ customer.__class__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ lipsum(1000000000) }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ range.__self__ }}",
    "{{ '{0.__class__}'.format(x) }}",
    "{{ '{0}'.format(x) }}",
    "{{ '{x.__class__}'.format_map({'x': x}) }}",
    "{{ '%s' % x }}",
    "{{ '%s'|format(x) }}",
    "{{ items.append(4) }}",
    "{{ customer.update({'name': 'B'}) }}",
    "{% if x.__class__ is defined %}leak{% endif %}",
    "{% include '../../../../../etc/passwd' %}",
    "{% include '/etc/passwd' %}",
]


@pytest.mark.parametrize("body", INJECTIONS)
def test_injection_attempts_are_refused_with_a_clear_error(
    make_templates: MakeTemplates, body: str
) -> None:
    with pytest.raises(TemplateProblem) as caught:
        render_body(make_templates, "line one\n" + body)
    problem = caught.value
    assert problem.path is not None
    assert problem.path.endswith("t/body.txt.en.j2")
    # Compile-time refusals (an unknown filter) and render-time ones both point at line 2.
    assert problem.line == 2
    assert "<class" not in problem.message


def test_attribute_refusal_says_what_was_not_allowed(make_templates: MakeTemplates) -> None:
    with pytest.raises(TemplateProblem, match=r"not allowed.*'__class__'"):
        render_body(make_templates, "{{ x.__class__ }}")
    with pytest.raises(TemplateProblem, match=r"str\.format is not allowed"):
        render_body(make_templates, "{{ '{0.__class__}'.format(x) }}")


@pytest.mark.parametrize(
    "body",
    [
        "{{ 'x' * 1000000000 }}",
        "{{ ['x'] * 1000000000 }}",
        "{{ 1000000000 * 'x' }}",
        "{{ 10 ** 1000000 }}",
        "{{ 'x'|center(1000000000) }}",
        "{{ ('x\\n' * 1000)|indent(1000000) }}",
        "{{ ('a' * 100000)|replace('a', 'b' * 100000) }}",
        "{{ range(100000)|join('x' * 100000) }}",
        "{{ [1]|batch(1000000000, 'x')|list }}",
        "{{ [1]|slice(1000000000)|list }}",
        "{{ ('x' * 150000) + ('y' * 150000) }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(5000) %}{{ 'y' * 100 }}{% endfor %}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{% include 't/body.txt.en.j2' %}",
    ],
)
def test_runaway_templates_stop_at_a_limit(make_templates: MakeTemplates, body: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        render_body(make_templates, body)
    assert caught.value.path is not None
    assert caught.value.path.endswith(".j2")


def test_output_limit_counts_the_whole_part(make_templates: MakeTemplates) -> None:
    limits = RenderLimits(max_output_chars=1_000)
    assert len(render_body(make_templates, "{{ 'y' * 900 }}", limits)) == 900
    with pytest.raises(TemplateProblem, match="longer than the limit of 1000"):
        render_body(make_templates, "{% for i in range(11) %}{{ 'y' * 100 }}{% endfor %}", limits)


def test_loop_iterations_are_counted_across_all_loops(make_templates: MakeTemplates) -> None:
    limits = RenderLimits(max_loop_iterations=100)
    body = "{% for i in range(60) %}{% endfor %}{% for i in range(40) %}{% endfor %}ok"
    assert render_body(make_templates, body, limits) == "ok"
    with pytest.raises(TemplateProblem, match="more than 100 iterations"):
        render_body(make_templates, body + "{% for i in items %}{% endfor %}", limits)


def test_work_without_loops_or_output_is_stopped_by_the_deadline(
    make_templates: MakeTemplates,
) -> None:
    # 2**30 macro calls, no loop and no output until the end: only the clock stops it.
    body = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}"
    )
    with pytest.raises(TemplateProblem, match=r"took longer than 0\.2s"):
        render_body(make_templates, body, RenderLimits(max_seconds=0.2))


def test_ordinary_template_features_still_work(make_templates: MakeTemplates) -> None:
    body = (
        "{% for i in items %}{{ loop.index }}:{{ i }}{{ ',' if not loop.last }}{% endfor %}"
        "|{{ items|join('-') }}|{{ x|upper|replace('T', 't') }}|{{ 2 ** 10 }}|{{ 'ab' * 2 }}"
        "|{% set ns = namespace(total=0) %}{% for i in items %}{% set ns.total = ns.total + i %}"
        "{% endfor %}{{ ns.total }}|{{ {'a': 1}.get('a') }}|{{ customer.name|center(7) }}"
    )
    assert render_body(make_templates, body) == "1:1,2:2,3:3|1-2-3|tEXt|1024|abab|6|1|  Ann  "
