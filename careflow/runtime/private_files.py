"""Keeping what careflow writes under `CAREFLOW_HOME` private to the account it runs as.

The store, Temporal's database, the outbox and the secret key hold customers'
personal data and what signs their links, so no other account on the machine may
read them. `private_umask` makes every file careflow (and the Temporal server it
starts, which inherits the umask) creates from then on owner-only; `make_private`
tightens a home folder that an earlier version left readable, dropping group and
other permissions from everything in it (directories 0700, files 0600 at most).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Group and other get nothing: new directories 0700, new files 0600.
PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """From now on, files and directories this process creates are its owner's alone."""
    os.umask(PRIVATE_UMASK)


def make_private(home: Path) -> list[Path]:
    """Create `home` (0700) if needed and drop group/other access from it and everything
    under it that this account owns; the paths that were changed."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    changed = []
    for path in (home, *home.rglob("*")):
        try:
            info = path.lstat()
        except FileNotFoundError:  # removed meanwhile (a rotated log, a SQLite journal)
            continue
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
            continue  # a link's target, or another account's file, is not ours to change
        if info.st_mode & 0o077:
            path.chmod(stat.S_IMODE(info.st_mode) & ~0o077)
            changed.append(path)
    return changed
