"""Process-group and /proc helpers for the local executor (synchronous: call them in a worker thread).

A pid alone can be recycled; the process start time from ``/proc/<pid>/stat`` (and the boot id) tell
the orchestrator we started from a newcomer with the same number.
"""

from __future__ import annotations

import functools
import os
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcStat:
    state: str
    pgrp: int
    start_ticks: int


@functools.cache
def have_proc() -> bool:
    return os.path.exists("/proc/self/stat")


def proc_stat(pid: int) -> ProcStat | None:
    """Fields of ``/proc/<pid>/stat``; None when the process does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    rest = data[data.rindex(b")") + 2 :].split()
    return ProcStat(state=rest[0].decode(), pgrp=int(rest[2]), start_ticks=int(rest[19]))


def boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip() or None
    except OSError:
        return None


def is_alive(pid: int, start_ticks: int | None) -> bool:
    """Is ``pid`` a live (not zombie) process started at ``start_ticks``?"""
    if have_proc():
        stat = proc_stat(pid)
        if stat is None or stat.state in ("Z", "X", "x"):
            return False
        return start_ticks is None or stat.start_ticks == start_ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """Does any live (not zombie) process remain in process group ``pgid``?"""
    if not have_proc():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    leader = proc_stat(pgid)
    if leader is not None and leader.pgrp == pgid and leader.state not in ("Z", "X", "x"):
        return True  # the common case, without scanning every process
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if stat is not None and stat.pgrp == pgid and stat.state not in ("Z", "X", "x"):
            return True
    return False


def signal_group(pid: int, start_ticks: int | None, sig: int) -> bool:
    """Send ``sig`` to the group led by ``pid``; False when that pid now belongs to another process.

    While any member of a group lives, the kernel does not hand its id out as a new pid, so a group whose
    leader is gone is still ours; a leader pid with another start time is a recycled one.
    """
    if have_proc() and start_ticks is not None:
        stat = proc_stat(pid)
        if stat is not None and stat.start_ticks != start_ticks:
            return False
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    return True


def decode_returncode(returncode: int) -> tuple[int, str]:
    """A reaped return code as a shell-style exit code (128 + signal) and a message."""
    if returncode >= 0:
        return returncode, ""
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return 128 - returncode, f"the orchestrator was terminated by {name}"
