"""psutil sampling of the generator's and the server's RSS, CPU and open files during a step."""
from __future__ import annotations

import fcntl
import resource
import statistics
import struct
import termios
import threading
import time

import psutil


class ProcessSampler:
    """Samples one process; the first sample is the baseline."""

    MIN_CPU_INTERVAL_S = 0.05  # CPU times tick in 10 ms: shorter intervals give nonsense

    def __init__(self, pid: int | None = None):
        self.process = psutil.Process(pid)
        self.samples: list[dict] = []
        self.gone = False
        self._first = self._last = None  # (elapsed_s, cpu_seconds)

    def sample(self, elapsed_s: float) -> None:
        if self.gone:
            return
        try:
            with self.process.oneshot():
                times = self.process.cpu_times()
                cpu_s = times.user + times.system
                point = {"t_s": round(elapsed_s, 3), "rss_bytes": self.process.memory_info().rss}
                if self._last is None:
                    self._first = self._last = (elapsed_s, cpu_s)
                elif elapsed_s - self._last[0] >= self.MIN_CPU_INTERVAL_S:
                    point["cpu_percent"] = round(
                        100 * (cpu_s - self._last[1]) / (elapsed_s - self._last[0]), 1)
                    self._last = (elapsed_s, cpu_s)
                try:
                    point["open_fds"] = self.process.num_fds()
                except (AttributeError, psutil.Error):
                    pass
        except psutil.Error:
            self.gone = True
            return
        self.samples.append(point)

    def summary(self) -> dict:
        if not self.samples:
            return {"pid": self.process.pid, "gone": self.gone}
        rss = [s["rss_bytes"] for s in self.samples]
        cpu = [s["cpu_percent"] for s in self.samples if "cpu_percent" in s] or [0.0]
        (first_s, first_cpu), (last_s, last_cpu) = self._first, self._last
        mean = 100 * (last_cpu - first_cpu) / (last_s - first_s) if last_s > first_s else 0.0
        summary = {
            "pid": self.process.pid, "gone": self.gone,
            "rss_baseline_bytes": rss[0], "rss_peak_bytes": max(rss), "rss_end_bytes": rss[-1],
            "rss_growth_bytes": max(rss) - rss[0],
            "cpu_percent_mean": round(mean, 1), "cpu_percent_peak": max(cpu),
            "samples": self.samples,
        }
        fds = [s["open_fds"] for s in self.samples if "open_fds" in s]
        if fds:
            summary.update(open_fds_baseline=fds[0], open_fds_peak=max(fds))
        return summary


class UnreadBytes:
    """Bytes that arrived on the generator's sockets and wait unread -- the kernel's receive
    queue (FIONREAD), summed over a sample of at most `SAMPLE` connections: replies queueing
    in the generator itself, which its latencies then include. Safe to probe from another
    thread (a socket closed meanwhile is skipped)."""
    SAMPLE = 64

    def __init__(self, fds: list[int]):
        fds = [fd for fd in fds if fd >= 0]
        self.fds = fds[::max(1, len(fds) // self.SAMPLE)][:self.SAMPLE]

    def per_connection(self) -> float | None:
        total, probed = 0, 0
        for fd in self.fds:
            try:
                total += struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
                probed += 1
            except OSError:
                continue
        return total / probed if probed else None


class ResourceSampler:
    """Samples the generator (this process) and optionally the server every `interval_s`,
    and with `unread` the replies waiting unread in the generator's sockets."""

    def __init__(self, server_pid: int | None = None, interval_s: float = 0.25,
                 unread: UnreadBytes | None = None):
        self.unread = unread
        self.unread_samples: list[float] = []
        self.interval_s = interval_s
        self.started = time.perf_counter()
        self.generator = ProcessSampler()
        self.server = None
        if server_pid:
            try:
                self.server = ProcessSampler(server_pid)
            except psutil.Error:
                self.server = None
        self.sample()

    def sample(self) -> None:
        elapsed = time.perf_counter() - self.started
        self.generator.sample(elapsed)
        if self.server is not None:
            self.server.sample(elapsed)
        if self.unread is not None:
            unread = self.unread.per_connection()
            if unread is not None:
                self.unread_samples.append(unread)

    def start(self) -> None:
        """Sample every `interval_s` on a thread of its own until `stop`.

        Not on the event loop: a sample of two processes costs ~0.4 ms of psutil, which on
        the loop thread delayed whatever send or reply was due then (p99.9 at 1k msg/s).
        The thread gives the GIL back at each of psutil's /proc reads.
        """
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="websocket-load-sampler",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self.sample()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the sampling thread; the caller may then `sample()` once more itself."""
        self._stopping.set()
        self._thread.join(timeout_s)

    def summary(self) -> dict:
        summary = {"generator": self.generator.summary()}
        if self.unread_samples:
            summary["generator"]["unread_reply_bytes_median"] = round(
                statistics.median(self.unread_samples), 1)
        if self.server is not None:
            summary["server"] = self.server.summary()
        return summary


def raise_open_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit (every connection is
    a descriptor; the soft limit is often 1024). Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft
