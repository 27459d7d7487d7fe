"""What one event costs inside careflow's process, on either event path.

    python -m bench.tools.inside_event_path                      # direct path, 100 complaints
    python -m bench.tools.inside_event_path --path workflow --events 300
    python -m bench.tools.inside_event_path --py-spy profile.txt  # and where the time went

Runs a burst of `complaint_opened` events through `careflow up` exactly as
bench/e2e_bench.py does (fresh dev server, SQLite store, SMTP sink and capture
endpoint outside the measured process), after the same warm-up, and reports per event:
- counts, from counters inside the careflow process (bench/tools/counting/): SQL
  statements by kind and text, hand-offs to the store's threads (aiosqlite's, the
  send ledger's), configuration-file checks (an `os.stat` each) by caller, log
  records, and the garbage collector's runs and microseconds by generation. Counts
  do not move with the machine's speed, so they compare two commits where CPU time
  cannot on a noisy machine;
- CPU time of the careflow process by thread (main, aiosqlite, pool, the SDK's
  Rust threads...) and of the Temporal server, from /proc;
- with `--py-spy FILE` (py-spy installed: `pip install py-spy`), a sampled profile
  of the careflow process in py-spy's raw format, and the functions with most
  samples. Only samples of a thread holding the interpreter lock are kept (py-spy's
  `--gil`): a thread waiting for the lock would otherwise count as running, which
  puts the store's thread at a third of the samples when it uses a twentieth of the
  CPU. Samples of threads waiting for work (a queue's `get`, the selector) are left
  out of the list too: py-spy's `--nonblocking` mode, which does not pause the
  process (pausing it stalls SQLite locks into 503s), cannot tell those waits apart.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from bench.careflow_process import stat_ticks
from bench.e2e_bench import Load, TimedSink, measure_careflow

COUNTING = Path(__file__).parent / "counting"
# Leaf frames where a thread waits for work: not CPU time, though py-spy samples them.
WAITING = (
    "_connection_worker_thread (aiosqlite/core.py:59)",
    "_worker (concurrent/futures/thread.py:81)",
    "_serve (careflow/outreach/ledger.py:690)",
    "select (selectors.py",
    "Runner.run (asyncio/runners.py",
    "wait (threading.py",
)


def thread_ticks(pid: int) -> dict[int, tuple[str, int]]:
    """Each thread's OS name and CPU clock ticks (user + system) so far."""
    ticks: dict[int, tuple[str, int]] = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            ticks[int(task)] = stat_ticks(Path(f"/proc/{pid}/task/{task}/stat"))
        except OSError:
            continue  # the thread ended meanwhile
    return ticks


class Inside:
    """Watches the careflow process over the measured phases (`e2e_bench.Watch`)."""

    def __init__(self, counts_file: Path, py_spy: Path | None) -> None:
        self.counts_file = counts_file
        self.py_spy = py_spy
        self.cpu_by_thread: dict[str, float] = {}

    @asynccontextmanager
    async def watch(self, processes: Mapping[str, Sequence[int]]) -> AsyncIterator[None]:
        pid = processes["worker"][0]
        os.kill(pid, signal.SIGUSR1)  # counters on
        before = thread_ticks(pid)
        spy = None
        if self.py_spy is not None:
            spy = await asyncio.create_subprocess_exec(
                *("py-spy", "record", "--pid", str(pid), "--format", "raw", "--nonblocking"),
                *("--rate", "250", "--gil", "--output", str(self.py_spy)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        try:
            yield
        finally:
            os.kill(pid, signal.SIGUSR1)  # counters written, off; threads named
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                await spy.wait()
            await _written(self.counts_file)
            after = thread_ticks(pid)
            ticks_per_second = os.sysconf("SC_CLK_TCK")
            by_thread: collections.Counter[str] = collections.Counter()
            for tid, (name, used) in after.items():
                by_thread[name] += used - before.get(tid, (name, 0))[1]
            self.cpu_by_thread = {name: used / ticks_per_second for name, used in by_thread.items()}


async def _written(path: Path, within_seconds: float = 30) -> None:
    for _ in range(int(within_seconds / 0.05)):
        if await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the careflow process wrote no counts to {path}")


def profile_lines(raw: Path, top: int = 25) -> list[str]:
    """The functions with most samples of their own (work only), from py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue  # a line py-spy cut short while the process ran on (--nonblocking)
        leaf = re.sub(r"\(/\S*?/(site-packages|python3\.\d+)/", "(", stack.split(";")[-1])
        leaf = leaf.replace(f"({Path.cwd()}/", "(")
        if leaf.strip() and not any(leaf.startswith(wait) for wait in WAITING):
            own[re.sub(r":\d+\)$", ")", leaf)] += int(count)
    total = sum(own.values()) or 1
    return [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]


def report(counts: Mapping[str, int], cpu: Mapping[str, float], events: int) -> list[str]:
    lines = [f"per event, over {events} events after the warm-up:"]
    kinds: collections.Counter[str] = collections.Counter()
    for key, count in counts.items():
        if key.startswith("sql "):
            kinds["SQL statements: " + key.split()[1].upper()] += count
        elif key.startswith("hand-off"):
            kinds[key] += count
        elif key.startswith("file check"):
            kinds["configuration-file checks (os.stat)"] += count
        elif key.startswith("log "):
            kinds["log records"] += count
        elif key.startswith("gc "):
            kinds[key] += count
    lines += [f"  {count / events:6.1f}  {kind}" for kind, count in sorted(kinds.items())]
    lines.append("in detail:")
    lines += [
        f"  {count / events:6.2f}  {key}"
        for key, count in sorted(counts.items(), key=lambda item: -item[1])
        if count / events >= 0.05
    ]
    lines.append("CPU ms per event of the careflow process, by thread:")
    lines += [
        f"  {1000 * seconds / events:6.1f}  {name}"
        for name, seconds in sorted(cpu.items(), key=lambda item: -item[1])
        if seconds > 0
    ]
    return lines


async def look(path: str, events: int, py_spy: Path | None) -> list[str]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        inside = Inside(folder / "counts.json", py_spy)
        sink = TimedSink()
        sink.start()
        try:
            figures = await measure_careflow(
                folder,
                sink,
                Load(burst=events, bare=False, rounds=1, processes=1),
                event_path=path,
                with_fixed_rate=False,
                env={
                    "CAREFLOW_COUNTS_FILE": str(inside.counts_file),
                    "PYTHONPATH": os.pathsep.join(
                        [str(COUNTING), str(Path.cwd()), os.environ.get("PYTHONPATH", "")]
                    ),
                },
                watch=inside.watch,
            )
        finally:
            sink.stop()
        counts = json.loads(inside.counts_file.read_text())
    lines = report(counts, inside.cpu_by_thread, events)
    cpu = figures.cpu_per_event
    lines.append(
        f"CPU ms per event: Temporal {1000 * cpu['temporal']:.1f}, careflow"
        f" {1000 * cpu['worker']:.1f}; {figures.sustained_per_second:.1f} events/s in the burst"
    )
    if py_spy is not None:
        lines += [f"py-spy, samples of work only ({py_spy}):", *profile_lines(py_spy)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--path", choices=("direct", "workflow"), default="direct")
    parser.add_argument("--events", type=int, default=100, help="events in the burst")
    parser.add_argument("--py-spy", type=Path, help="write a py-spy raw profile here")
    options = parser.parse_args()
    if options.events < 1:
        parser.error(f"argument --events: expected 1 or more, got {options.events}")
    if options.py_spy is not None and shutil.which("py-spy") is None:
        parser.error("--py-spy needs py-spy on PATH (pip install py-spy)")
    for line in asyncio.run(look(options.path, options.events, options.py_spy)):
        print(line)


if __name__ == "__main__":
    main()
