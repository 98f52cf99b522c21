"""A run folder's guarantees: one process writes it at a time, a finished or started run
is never overwritten by a new one, and a torn metrics line does not make it unresumable.

The lock is a file, `.marl-train.lock`, created exclusively (O_EXCL) and holding its
owner's pid, host and start time. It is removed when the run ends in any way Python sees
(finishing, an error, Ctrl-C, SIGTERM); only a hard kill (kill -9, a lost node) leaves it
behind. Such a stale lock is reported with its owner and broken only when asked
(`break_lock=true`): from another host, a process cannot tell whether the owner still runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from marl.config import ConfigError

LOCK_NAME = ".marl-train.lock"
# Files and folders that mean "a run lives here": a new run must not write over them.
RUN_FILES = ("metrics.jsonl", "config.yaml", "summary.json", "sweep.json", "seeds", "checkpoints")


class RunFolderLocked(ConfigError):
    """Another process holds (or held, and was killed holding) the run folder's lock."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class RunLock:
    """The exclusive lock of one run folder, held from `acquire()` to `release()`."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self.held = False

    def acquire(self, break_lock: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._create()
            return
        except FileExistsError:
            pass
        holder = self._read_holder()
        same_host = holder.get("host") == self.owner["host"]
        pid = holder.get("pid")
        alive = same_host and isinstance(pid, int) and _alive(pid)
        who = (
            f"pid {pid} on host {holder.get('host')} (started {holder.get('started')})"
            if holder
            else "an unknown owner (the lock file is unreadable)"
        )
        folder = self.path.parent
        if alive:
            raise RunFolderLocked(
                f"run_dir={str(folder)!r} is in use by marl-train {who}; wait for it to end "
                f"or choose another run_dir"
            )
        if not break_lock:
            state = (
                "which is no longer running (killed?)"
                if same_host and isinstance(pid, int)
                else "which this host cannot check"
            )
            raise RunFolderLocked(
                f"run_dir={str(folder)!r} has a lock left by {who}, {state}; if no other "
                f"process writes this folder, break the lock with break_lock=true"
            )
        print(f"marl-train: breaking the stale lock of {who} on {folder}", file=sys.stderr)
        self.path.unlink(missing_ok=True)
        try:
            self._create()
        except FileExistsError:  # someone else took it in between
            raise RunFolderLocked(
                f"run_dir={str(folder)!r} was locked by another process while breaking its "
                f"stale lock; choose another run_dir"
            ) from None

    def _create(self) -> None:
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(self.owner, f)
        self.held = True

    def _read_holder(self) -> dict:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return holder if isinstance(holder, dict) else {}

    def release(self) -> None:
        """Removes the lock file if it is still this process's own."""
        if self.held and self._read_holder() == self.owner:
            self.path.unlink(missing_ok=True)
        self.held = False


def refuse_existing_run(run_dir: Path) -> None:
    """A new run goes into an empty (or new) folder, or one without any run's files."""
    found = [name for name in RUN_FILES if (Path(run_dir) / name).exists()]
    if found:
        raise ConfigError(
            f"config: run_dir={str(run_dir)!r} already holds a run ({', '.join(found)}); "
            f"resume it with resume={run_dir} or choose another run_dir"
        )


def read_rows(path: Path, before_chunk: int) -> list[dict]:
    """The metrics lines of the chunks a checkpoint covers (drops a chunk in flight).

    A last line that does not parse was torn by a kill or a full disk while it was written:
    it is dropped with a warning. An unparsable line before the last is damage that
    dropping cannot explain, and is an error naming the line.
    """
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            if number < len(lines):
                raise ConfigError(
                    f"resume: line {number} of {path} is not a metrics row (damaged file); "
                    f"repair or remove that line"
                ) from None
            print(
                f"marl-train: warning: dropping the torn last line of {path} "
                f"({len(line)} characters, written when the run was cut off)",
                file=sys.stderr,
            )
    return [r for r in rows if r["chunk"] < before_chunk]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's preemption, plain `kill`) ends a run as Ctrl-C does: the
    completed chunks stay checkpointed, the summary is written and the lock released."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
