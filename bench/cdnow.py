"""CDNOW purchase histories (the `lifetimes` 0.11.3 wheel's files) as careflow import files.

Both files of the wheel: `CDNOW_master.txt` (customer id, date, CDs, dollars) and
`CDNOW_sample.txt` (the 1/10 sample, with a sample id after the customer id); the
format is told from the columns. Converted as tests/facts/data/README.md says.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

CUSTOMER_COLUMNS = ["customer_id", "locale", "created_at"]
ORDER_COLUMNS = ["order_id", "customer_id", "ordered_at", "amount", "items"]
# One CDNOW row: customer id, [sample id,] YYYYMMDD, CDs, dollars.
MASTER_FIELDS, SAMPLE_FIELDS = 4, 5


def read_cdnow(path: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Customer id -> (ISO date, dollars, CDs) per order, in the file's order."""
    history: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if not fields or not fields[0].isdigit():
            continue  # the master file's header
        if len(fields) == SAMPLE_FIELDS:
            customer, _sample_id, day, cds, dollars = fields
        elif len(fields) == MASTER_FIELDS:
            customer, day, cds, dollars = fields
        else:
            raise SystemExit(f"{path}: not a CDNOW file (line {line!r})")
        history[customer].append((f"{day[:4]}-{day[4:6]}-{day[6:]}", dollars, cds))
    if not history:
        raise SystemExit(f"{path}: no CDNOW rows")
    return history


def write_import_files(folder: Path, history: dict[str, list[tuple[str, str, str]]]) -> int:
    """customers.csv and orders.csv as tests/facts/data/README.md says; returns the orders."""
    orders = 0
    with (
        (folder / "customers.csv").open("w", newline="", encoding="utf-8") as c_file,
        (folder / "orders.csv").open("w", newline="", encoding="utf-8") as o_file,
    ):
        c_out, o_out = csv.writer(c_file), csv.writer(o_file)
        c_out.writerow(CUSTOMER_COLUMNS)
        o_out.writerow(ORDER_COLUMNS)
        for customer in sorted(history):
            rows = history[customer]
            c_out.writerow([f"cdnow-{customer}", "en-US", rows[0][0]])
            for position, (day, dollars, cds) in enumerate(rows, start=1):
                order = f"cdnow-{customer}-{position}"
                o_out.writerow([order, f"cdnow-{customer}", day, dollars, f"{cds} CDs"])
                orders += 1
    return orders


def write_cdnow(folder: Path, path: Path) -> int:
    """`customers.csv` and `orders.csv` in `folder` from a CDNOW file; returns the orders."""
    return write_import_files(folder, read_cdnow(path))
