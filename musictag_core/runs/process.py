"""Worker processes and the runs directory's lock: which process owns a run."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["LOCK_NAME", "RunLock", "pid_alive", "proc_start_time"]

#: The lock file in the runs directory (one run trains at a time).
LOCK_NAME = ".train.lock"


def proc_start_time(pid: int) -> str | None:
    """Start time of process ``pid`` (field 22 of /proc/PID/stat), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def pid_alive(pid: int | None, start_time: str | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie, and the same process when ``start_time`` is known)."""
    if not pid:
        return False
    stat_path = Path(f"/proc/{pid}/stat")
    if stat_path.parent.exists() or Path("/proc/self/stat").exists():
        try:
            stat = stat_path.read_text()
        except OSError:
            return False
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return False
        return start_time is None or fields[19] == start_time
    try:  # no /proc (macOS)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True



class RunLock:
    """Exclusive lock on ``runs_dir/.train.lock``; released by the OS if the worker dies.

    Parameters
    ----------
    runs_dir : path-like
        The runs directory.
    """

    def __init__(self, runs_dir: str | os.PathLike) -> None:
        self.path = Path(runs_dir) / LOCK_NAME
        self._fh = None

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it; return whether it is now held."""
        import fcntl

        fh = open(self.path, "a+")  # noqa: SIM115
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
