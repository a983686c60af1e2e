"""The processes a bench run starts (gateways, workers, the bare Faust app), and their end.

Each runs with its own topic prefix and consumer group, logs to its own file, and is
stopped by its pid (TERM, then KILL) however the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TANDEM = str(Path(sys.executable).with_name("tandem"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=self._log,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_bytes(self) -> tuple[int, int]:
        """Current and peak resident set size (VmRSS, VmHWM) from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        return fields["VmRSS"], fields["VmHWM"]

    def output(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.output()[-lines:])

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown step of the process runs."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(15)
        self._log.close()

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()


class Processes:
    """Every process of the run, so that one `stop_all` ends them whatever happened."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._running: list[Process] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        process = Process(name, argv, env, self.logs)
        self._running.append(process)
        return process

    def gateway(self, name: str, env: dict[str, str]) -> tuple[Process, str]:
        port = free_port()
        process = self.start(name, [TANDEM, "gateway", "--port", str(port)], env)
        return process, f"http://127.0.0.1:{port}"

    def worker(self, name: str, env: dict[str, str]) -> Process:
        return self.start(name, [TANDEM, "worker"], env)

    def stop(self, process: Process) -> None:
        process.stop()
        with contextlib.suppress(ValueError):
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(self._running):
            with contextlib.suppress(Exception):
                process.stop()
        self._running.clear()


async def wait_ready(process: Process, url: str, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{process.name} not ready after {limit_s:.0f} s:\n{process.tail()}")


_TICK = os.sysconf("SC_CLK_TCK")


def _process_seconds(pid: int) -> float:
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _TICK


def _group_pids() -> dict[str, list[int]]:
    """PostgreSQL and Kafka processes on this machine, found by name."""
    groups: dict[str, list[int]] = {"postgres": [], "kafka": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm == "postgres":
                groups["postgres"].append(int(entry.name))
            elif comm == "java" and b"kafka.Kafka" in (entry / "cmdline").read_bytes():
                groups["kafka"].append(int(entry.name))
        except OSError:
            continue
    return groups


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _started_ticks(pid: int) -> int:
    return int(_stat_fields(pid)[19])  # starttime, clock ticks after boot


def _now_ticks() -> float:
    return float(Path("/proc/uptime").read_text().split()[0]) * _TICK


def _descendants(roots: list[int]) -> set[int]:
    """The processes in the trees under `roots`, roots included."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                    int(entry.name)
                )
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp() -> list[tuple[int, int, str]]:
    """(local port, remote port, inode) of every TCP socket of this network namespace."""
    rows = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
            rows.append((local, remote, fields[9]))
    return rows


def backends(client_pids: set[int], pg_port: int) -> set[int]:
    """The PostgreSQL backends at the other end of the clients' connections: found from
    the sockets in /proc, since pg_stat_activity hides other roles' client ports."""
    tcp = _tcp()
    mine: set[str] = set()
    for pid in client_pids:
        with contextlib.suppress(OSError):
            mine |= _socket_inodes(pid)
    ports = {local for local, remote, inode in tcp if inode in mine and remote == pg_port}
    theirs = {inode for local, remote, inode in tcp if local == pg_port and remote in ports}
    pids = set()
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and (entry / "comm").read_text().strip() == "postgres"
                and _socket_inodes(int(entry.name)) & theirs
            ):
                pids.add(int(entry.name))
        except OSError:
            continue
    return pids


class WorkCpu:
    """CPU seconds (utime + stime from /proc) that worker processes, their children and the
    PostgreSQL backends serving their connections spent from construction on.

    PostgreSQL is shared with other databases' clients, so only the worker's own backends
    count, not the server as a whole. Connections come and go, so `sample()` is called
    now and then: a backend started during the phase counts from zero, one that existed
    before from its time at the first sample that saw it. A process that ends between two
    samples loses its last share (an undercount, never a count of someone else's work).
    """

    SAMPLE_EVERY_S = 1.0  # a sample reads all of /proc: the bench must not eat the cores

    def __init__(self, workers: list[Process], pg_port: int) -> None:
        self._roots = [w.pid for w in workers]
        self._pg_port = pg_port
        self._started = _now_ticks()
        self._base: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._kind: dict[int, str] = {}
        self._sampled = 0.0
        self.sample()

    def _see(self, pid: int, kind: str) -> None:
        seconds = _process_seconds(pid)
        if pid not in self._base:
            try:
                new = _started_ticks(pid) >= self._started
            except OSError:
                return
            self._base[pid] = 0.0 if new else seconds
            self._kind[pid] = kind
        self._last[pid] = max(self._last.get(pid, 0.0), seconds)

    def sample(self, *, now: bool = False) -> None:
        if not now and time.monotonic() - self._sampled < self.SAMPLE_EVERY_S:
            return
        self._sampled = time.monotonic()
        tree = _descendants(self._roots)
        for pid in tree:
            self._see(pid, "worker")
        for pid in backends(tree, self._pg_port):
            self._see(pid, "postgres")

    def seconds(self) -> dict[str, float]:
        self.sample(now=True)
        used = {"worker": 0.0, "postgres": 0.0}
        for pid, last in self._last.items():
            used[self._kind[pid]] += max(0.0, last - self._base[pid])
        used["postgres_backends"] = sum(1 for k in self._kind.values() if k == "postgres")
        return used


class CpuMeter:
    """Where the machine's CPU went during a phase, in cores: the processes the phase
    names, PostgreSQL, Kafka, this bench, and everything else on the machine.

    Counted per process, so a process that ends during the phase (another client's
    PostgreSQL backend) removes nothing; its last share shows up under "other".
    """

    def __init__(self, named: dict[str, Process]) -> None:
        self._named = {name: [p.pid] for name, p in named.items()}
        self._named["bench"] = [os.getpid()]
        self._start = self._snapshot()
        self._machine = _machine_busy_seconds()
        self._started = time.monotonic()

    def _snapshot(self) -> dict[str, dict[int, float]]:
        groups = {**self._named, **_group_pids()}
        return {g: {pid: _process_seconds(pid) for pid in pids} for g, pids in groups.items()}

    def cores(self) -> dict[str, float]:
        end = self._snapshot()
        elapsed = time.monotonic() - self._started
        used = {
            group: sum(t - self._start[group].get(pid, 0.0) for pid, t in pids.items()) / elapsed
            for group, pids in end.items()
        }
        machine = (_machine_busy_seconds() - self._machine) / elapsed
        used["other"] = max(0.0, machine - sum(used.values()))
        used["machine"] = machine
        return {k: round(v, 2) for k, v in used.items()}
