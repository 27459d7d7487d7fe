"""Tools for looking inside a benchmark's careflow process: no targets, no table.

`python -m bench.tools.inside_event_path` counts what one event costs on either
event path (statements, hand-offs to other threads, configuration-file checks, log
records) and where the process's CPU time went by thread, optionally with a py-spy
profile. docs/benchmarks.md says how each round of issue 21 used them.
"""
