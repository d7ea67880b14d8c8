"""Machine description and a process-tree memory sampler (Linux ``/proc``; no psutil)."""

from __future__ import annotations

import os
import platform
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info() -> dict:
    """nproc, RAM, CPU model, kernel, load average now."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu or platform.processor(),
        "ram_gb": mem_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_1_5_15": loadavg(),
        "shared_machine_note": "load average > nproc means other work competed for the CPUs",
    }


# ---------------------------------------------------------------- RSS of a process tree


def _children_map() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read()
        except OSError:
            continue
        # comm may contain spaces/parens: the ppid is the 2nd field after the last ')'
        rest = s[s.rfind(b")") + 2:].split()
        try:
            out.setdefault(int(rest[1]), []).append(int(d))
        except (IndexError, ValueError):
            continue
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """Sum of RSS of ``pid`` and all its descendants, bytes (shared pages counted per
    process, so an upper bound)."""
    kids = _children_map()
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss(p)
        stack.extend(kids.get(p, ()))
    return total


@dataclass
class Sampler:
    """Samples the RSS of a process tree every ``interval`` s in a thread:
    ``samples`` = [(unix time, bytes)]."""

    pid: int
    interval: float = 0.25
    samples: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), tree_rss(self.pid)))
            self._stop.wait(self.interval)

    def start(self) -> Sampler:
        self._t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._t.join()

    def peak(self, start: float | None = None, end: float | None = None) -> int:
        vals = [b for t, b in self.samples
                if (start is None or t >= start) and (end is None or t <= end)]
        return max(vals, default=0)


@dataclass
class Measured:
    seconds: float
    peak_rss_bytes: int
    returncode: int
    started: float
    ended: float
    sampler: Sampler


def run_measured(cmd: list[str], *, env: dict | None = None, cwd: str | Path | None = None,
                 log: Path | None = None, interval: float = 0.25) -> Measured:
    """Run ``cmd``, sampling the RSS of its process tree; stdout+stderr → ``log``."""
    out = open(log, "w", encoding="utf-8") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        t0 = time.time()
        p0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        s = Sampler(proc.pid, interval).start()
        rc = proc.wait()
        secs = time.perf_counter() - p0
        t1 = time.time()
        s.stop()
    finally:
        if log:
            out.close()
    return Measured(secs, s.peak(), rc, t0, t1, s)
