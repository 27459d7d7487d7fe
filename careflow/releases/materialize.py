"""A release's files written out as a folder (`<root>/<id>/rules`, `<root>/<id>/templates`).

careflow's loaders read folders; a process serves a release by writing its files from
the store into a folder of its own disk (nothing assumes a shared file system), once
per release: the folder is named by the content hash, written beside its final
name and renamed into place, so a reader never sees half a release and two processes
materialising the same release at once both end with the same complete folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from careflow.releases.bundle import RULES_PREFIX, TEMPLATES_PREFIX, ReleaseFiles, safe_relative


def materialize(files: ReleaseFiles, root: Path, release_id: str | None = None) -> Path:
    """The folder holding `files` under `root` (written now unless already there)."""
    release_id = release_id or files.id
    target = root / release_id
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{release_id[:12]}-", dir=root))
    try:
        for prefix in (RULES_PREFIX, TEMPLATES_PREFIX):
            (staging / prefix).mkdir()
        for path, content in files.files.items():
            destination = staging.joinpath(*safe_relative(path).parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(content)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            # Another process put the same release there first: identical content.
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def point_link(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target`, replacing what it pointed at atomically."""
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
    temporary.symlink_to(target, target_is_directory=True)
    os.replace(temporary, link)


def remove_link(link: Path) -> None:
    """Remove a link made by `point_link` (not what it points at)."""
    with contextlib.suppress(FileNotFoundError):
        link.unlink()


def local_view(rules_dir: Path, templates_dir: Path, root: Path, name: str) -> Path:
    """A folder `<root>/<name>` whose `rules` and `templates` link to a local rules
    folder and templates folder, so they are served live, edits and all."""
    view = root / name
    view.mkdir(parents=True, exist_ok=True)
    point_link(view / RULES_PREFIX, rules_dir.resolve())
    point_link(view / TEMPLATES_PREFIX, templates_dir.resolve())
    return view
