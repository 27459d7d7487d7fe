"""The Jinja environment that operator-edited templates run in, and its limits.

Templates are written by operations staff, not developers, so a template must not be
able to reach Python internals, and a mistake (or a hostile edit) must not be able to
hang a worker or exhaust its memory. The environment is an
`ImmutableSandboxedEnvironment` (no attribute starting with `_`, no mutation of
lists/dicts, `range` capped) with `StrictUndefined`, tightened as follows:

- An unsafe attribute (`''.__class__`, `x.__init__.__globals__`) raises a
  `SecurityError` at once instead of becoming an undefined value.
- `str.format` / `str.format_map` and the `%` operator on strings are refused: format
  strings can reach attributes (`'{0.__class__}'.format(x)`) and pad to any width.
  Templates format values with filters (`money`, `date_local`, ...).
- Size: string/list repetition (`*`), concatenation (`+`), `**`, the `center`,
  `indent`, `replace`, `join`, `batch` and `slice` filters and `namespace`
  attributes are checked *before* the result is built, so no single step can
  produce more than `RenderLimits.max_output_chars` characters; the rendered output
  is streamed and cut off at the same cap. `lipsum` is removed.
- Time: every `{% for %}` iteration (the parsed template is rewritten so loops
  iterate through the budget) and every call in template code ticks a budget that
  enforces `max_loop_iterations` (summed over all loops of one part) and a
  wall-clock deadline, so nested loops or runaway recursion stop promptly.

Limits apply inside `bounded_render()`, which `TemplateRenderer` uses for each part;
size checks also apply while Jinja folds constants during compilation. What is not
bounded: one call of another built-in filter on inputs already within the limits,
which costs a few passes over at most `max_output_chars` characters.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import do_batch, do_center, do_indent, do_join, do_replace, do_slice
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, pass_eval_context


@dataclass(frozen=True)
class RenderLimits:
    """Bounds for rendering one template part.

    The defaults are far above what any real message needs (a long HTML email is
    ~50 KB) and far below what would hurt a worker.
    """

    max_output_chars: int = 200_000
    max_loop_iterations: int = 10_000
    max_seconds: float = 2.0


_DEFAULT_LIMITS = RenderLimits()


class RenderLimitExceeded(Exception):
    """A template went past a `RenderLimits` bound (size, iterations or time)."""


class _Budget:
    """Work left for the render in progress; ticked from template code."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.iterations_left = limits.max_loop_iterations
        self.deadline = time.monotonic() + limits.max_seconds

    def tick_iteration(self) -> None:
        self.iterations_left -= 1
        if self.iterations_left < 0:
            raise RenderLimitExceeded(
                f"loops ran more than {self.limits.max_loop_iterations} iterations in total"
            )
        self.check_deadline()

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(f"rendering took longer than {self.limits.max_seconds}s")

    def check_size(self, size: int, what: str) -> None:
        if size > self.limits.max_output_chars:
            raise RenderLimitExceeded(
                f"{what} would be {size} characters, more than the limit of "
                f"{self.limits.max_output_chars}"
            )


# A context variable rather than state on the (shared, cached) environment, so that
# concurrent renders in one worker each have their own budget.
_current_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "careflow_render_budget", default=None
)


@contextmanager
def bounded_render(limits: RenderLimits) -> Iterator[_Budget]:
    """Apply `limits` to all template code run inside this block."""
    budget = _Budget(limits)
    token = _current_budget.set(budget)
    try:
        yield budget
    finally:
        _current_budget.reset(token)


def _budget() -> _Budget | None:
    return _current_budget.get()


def _check_size(size: int, what: str) -> None:
    # Also outside a render: Jinja evaluates constant expressions while compiling
    # (even with the optimizer off), so `{{ 'x'|center(10**9) }}` must fail there too.
    (_budget() or _Budget(_DEFAULT_LIMITS)).check_size(size, what)


def _sized(value: object) -> int | None:
    """The length of a string or sequence, or None for anything without one."""
    if isinstance(value, str | list | tuple):
        return len(value)
    return None


def _bounded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        budget = _budget()
        if budget is not None:
            budget.tick_iteration()
        yield item


class _BoundedNamespace(Namespace):
    """`namespace()` whose attributes cannot grow past the size limit.

    A namespace is the one place where a value survives from one loop iteration to
    the next, so it is where doubling a string in a loop would happen.
    """

    def __setitem__(self, name: str, value: Any) -> None:
        size = _sized(value)
        if size is not None:
            _check_size(size, f"namespace attribute {name!r}")
        super().__setitem__(name, value)


def _center(value: str, width: int = 80) -> str:
    _check_size(width, "center() result")
    return do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    pad = len(width) if isinstance(width, str) else max(width, 0)
    _check_size(len(s) + pad * (s.count("\n") + 1), "indent() result")
    return do_indent(s, width, first, blank)


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _check_size(linecount, "batch() size")
    return do_batch(value, linecount, fill_with)


def _slice(value: Iterable[Any], slices: int, fill_with: Any = None) -> Iterator[list[Any]]:
    _check_size(slices, "slice() count")
    result: Iterator[list[Any]] = do_slice(value, slices, fill_with)
    return result


@pass_eval_context
def _replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
    occurrences = str(s).count(str(old)) if old else len(str(s)) + 1
    if count is not None:
        occurrences = min(occurrences, max(count, 0))
    _check_size(len(str(s)) + occurrences * len(str(new)), "replace() result")
    result: str = do_replace(eval_ctx, s, old, new, count)
    return result


@pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    _check_size(len(items) * len(d), "join() separators")
    result: str = do_join(eval_ctx, items, d, attribute)
    return result


def _bound_loops(tree: nodes.Template) -> nodes.Template:
    """Rewrite a parsed template so every `{% for %}` iterates through the budget."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(
            nodes.EnvironmentAttribute("bounded_iter"),
            [loop.iter],
            [],
            None,
            None,
            lineno=loop.iter.lineno,
        )
    return tree


def _refuse_format(*_args: object, **_kwargs: object) -> str:
    raise SecurityError(
        "str.format is not allowed in templates (it can reach internal attributes); "
        "use filters such as money or date_local instead"
    )


class CareflowSandbox(ImmutableSandboxedEnvironment):
    """`ImmutableSandboxedEnvironment` with careflow's extra refusals and limits."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("undefined", StrictUndefined)
        # Jinja's optimizer evaluates constant expressions while compiling, outside
        # the render's deadline and loop budget; templates are compiled once, so
        # turning it off costs nothing that matters.
        kwargs["optimized"] = False
        super().__init__(**kwargs)
        self.globals["namespace"] = _BoundedNamespace
        self.filters["center"] = _center
        self.filters["indent"] = _indent
        self.filters["replace"] = _replace
        self.filters["join"] = _join
        self.filters["batch"] = _batch
        self.filters["slice"] = _slice
        # `format` is printf-style formatting: the same width trick as `%`.
        del self.filters["format"]
        # lipsum(n) builds n paragraphs in one call, beyond any check; no email needs it.
        del self.globals["lipsum"]

    # Reached through nodes.EnvironmentAttribute from the rewritten loops.
    bounded_iter = staticmethod(_bounded_iter)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _bound_loops(super()._parse(source, name, filename))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The default returns an undefined value, which a template could test with
        # `is defined` and carry on; a probe for internals should stop the render.
        raise SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} value "
            "is not allowed in templates"
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if super().wrap_str_format(value) is not None:
            return _refuse_format
        return None

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        if budget is not None:
            budget.check_deadline()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "%" and isinstance(left, str):
            raise SecurityError(
                "'%' formatting of strings is not allowed in templates; use filters instead"
            )
        if operator_ == "*":
            _check_repetition(left, right)
        elif operator_ == "+":
            left_size, right_size = _sized(left), _sized(right)
            if left_size is not None and right_size is not None:
                _check_size(left_size + right_size, "'+' result")
        elif operator_ == "**":
            _check_power(left, right)
        return self.binop_table[operator_](left, right)


def _check_repetition(left: Any, right: Any) -> None:
    for sequence, times in ((left, right), (right, left)):
        size = _sized(sequence)
        if size is not None and isinstance(times, int):
            _check_size(size * times, "'*' result")


def _check_power(base: Any, exponent: Any) -> None:
    # Python computes huge integer powers exactly (and slowly); a template never
    # needs a number with more than a few thousand bits.
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and abs(base) > 1
        and base.bit_length() * exponent > 4096
    ):
        raise RenderLimitExceeded(f"{base} ** {exponent} is too large a number")
