"""Output paths of the command lines, checked before they compile or train anything.

`marl-render --out`, `marl-eval --out`, `marl-bench --json` and `marl-reproduce --out`
call `check_writable` first, so that a path they cannot write fails in a second with a
clear message rather than after minutes of work (or with a traceback at the end).
"""

from __future__ import annotations

import os
from pathlib import Path


def check_writable(path: str | os.PathLike, *, folder: bool = False) -> Path:
    """Raise ValueError unless the file (or, with `folder`, the folder) `path` can be
    written; returns it as a Path. Creates nothing.

    An existing path must be of the right kind (a file is not a folder) and writable. A
    missing one is created later with its missing parents, so its nearest existing
    ancestor must be a folder in which this process may create entries: a path under a
    file, or under a read-only folder, is refused.
    """
    path = Path(path)
    kind = "folder" if folder else "file"
    if path.exists():
        if path.is_dir() != folder:
            other = "file" if folder else "folder"
            raise ValueError(f"cannot write {path}: it is a {other}, not a {kind}")
        target = path
    else:
        target = path.parent
        # Path.exists is False for ENOENT and ENOTDIR alike; "." and "/" end the walk.
        while not target.exists() and target != target.parent:
            target = target.parent
        if not target.is_dir():
            raise ValueError(f"cannot write {path}: {target} is a file, not a folder")
    # A folder needs write (new entries) and execute (reach them); a file, write.
    mode = os.W_OK | os.X_OK if target.is_dir() else os.W_OK
    if not os.access(target, mode):
        raise ValueError(f"cannot write {path}: no write permission on {target}")
    return path
