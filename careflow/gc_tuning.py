"""Python's cyclic garbage collector, set for a long run over a large, long-lived heap.

Two kinds of run use it: a simulated partition (careflow/simulate/run.py) and a
service process once it has started (`careflow up`, `worker`, `api`:
careflow/runtime/service.py), whose modules, compiled statements, templates and
cached workflows live as long as the process. In `careflow up` on the end-to-end
path the collector took 1.4 ms of a complaint's 40 ms of CPU, most of it in full
collections walking that start-up heap, and 0.27 ms with this setting
(docs/benchmarks.md, issue 21, twelfth round). The price: an object made before the
run that later becomes garbage caught in a reference cycle (a rule book replaced by
a reload, say) is freed only when the run ends; that is at most the start-up heap
once, not a leak that grows.

Why, for a simulation: a simulated partition keeps a large heap alive for its whole run (modules,
SQLAlchemy's compiled statements, the partition's history, Temporal's cached
journeys), and with CPython's defaults (a young collection every 700 net
allocations, a full one after every hundred, each full one visiting every tracked
object) the full collections alone took about 3% of a partition's CPU: 18 of about
150 ms each for partition 0 of the full CDNOW set. Freezing what exists when the run
starts keeps it out of every later collection, and a larger young generation makes
collections rarer: about 0.7 s of collection instead of 3.5 s for that partition,
the same peak memory (about 295 MB) and the same report (docs/benchmarks.md, "Issue 21 item
1, eighth round"). Cyclic garbage is still collected, in fewer, larger batches.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Net allocations of tracked objects between young collections (CPython's is 700).
YOUNG_GENERATION_THRESHOLD = 10_000


@contextlib.contextmanager
def long_run_collection() -> Iterator[None]:
    """Within: what is alive at the start is left out of collections, and young
    collections are rarer. Settings are the process's, so they are put back on the
    way out (and what was frozen is collected normally again)."""
    previous = gc.get_threshold()
    # Garbage made before the run is collected now, not frozen with the living.
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
