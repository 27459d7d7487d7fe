"""Temporal's workflow sandbox without one cost that buys nothing.

temporalio's sandboxed runner (1.35) drives every workflow instance by `exec`-ing a
few short lines of glue source in the sandbox's namespace: to create the instance,
at every activation, and to get the serialization context for every sequence of
payloads it encodes or decodes (several per activation). `exec` of a string compiles
it first, every time: about 6% of a worker's CPU per complaint went to compiling the
same handful of strings (docs/benchmarks.md, issue 21 item 2, eighth round).

`CompiledGlueRunner` is that runner with each glue string compiled once and `exec`
handed the code object, which it runs exactly as it would the string: the same
namespace, the same restrictions, the workflow modules still imported inside the
sandbox per workflow. It reaches into the SDK's private instance class, so
tests/workflows/test_sandbox_runner.py checks on every run that the SDK still
compiles through that one method, and that workflows run and replay with it.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import _runner as sdk_runner


@functools.lru_cache(maxsize=256)
def compiled_glue(source: str) -> CodeType:
    """The code object `exec(source)` would compile. The SDK's sources are five fixed
    ones and one per workflow class (its import), so the cache stays this small."""
    return compile(source, "<string>", "exec")


class _CompiledGlueInstance(sdk_runner._Instance):
    def _run_code(self, code: str | CodeType, **extra_globals: Any) -> None:
        source = compiled_glue(code) if isinstance(code, str) else code
        super()._run_code(source, **extra_globals)  # type: ignore[arg-type]


class CompiledGlueRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner`, its glue code compiled once per process."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledGlueInstance(det, self.runner_class, self.restrictions)
