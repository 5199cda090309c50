"""watch under systemd: the notify protocol, read from a real datagram socket."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import append, canonical_close


def closes(a, b):
    return "".join(canonical_close(i) + "\n" for i in range(a, b))


class Manager:
    """The service manager's end: an AF_UNIX datagram socket at NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # (monotonic time received, {key: value})

    def receive(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
        self.messages.append((time.monotonic(), fields))
        return fields

    def wait_for(self, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.receive(max(0.01, deadline - time.monotonic()))
            if m is not None and predicate(m):
                return m
        raise AssertionError(f"no such message in {timeout} s; got {self.kinds()}")

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.receive(max(0.01, deadline - time.monotonic()))

    def kinds(self):
        """The messages in order, each by its first key (STATUS alone shows as STATUS)."""
        out = []
        for _, m in self.messages:
            keys = [k for k in m if k not in ("STATUS", "MONOTONIC_USEC")]
            out.append(keys[0] if keys else "STATUS")
        return out

    def close(self):
        self.sock.close()


@pytest.fixture
def manager(tmp_path):
    m = Manager(tmp_path / "notify.sock")
    yield m
    m.close()


def start(root, env, *args, shell_pid=False):
    full = {**os.environ, **env}
    argv = root.args("watch", *args)
    if shell_pid:
        # WATCHDOG_PID names the process itself, as systemd sets it: the
        # shell's pid is watch's once it execs.
        argv = ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh", *argv]
    p = subprocess.Popen(argv, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root.procs.append(p)
    return p


def test_ready_comes_once_caught_up_then_reloading_ready_around_sighup_and_stopping_on_sigterm(
        root, manager):
    att = root.logs / "attribution.jsonl"
    append(att, closes(0, 50))
    w = start(root, {"NOTIFY_SOCKET": manager.path})
    ready = manager.wait_for(lambda m: "READY" in m)
    assert ready["READY"] == "1"
    # Recovery and the first catch-up are done when READY=1 arrives.
    assert len(root.outcomes()) == 50
    assert ready["STATUS"] == "following 4 sources, lag 0 bytes, 50 trades recorded"

    append(att, closes(50, 55))
    manager.wait_for(lambda m: m.get("STATUS", "").endswith("55 trades recorded"))

    before = time.monotonic()
    w.send_signal(signal.SIGHUP)
    reloading = manager.wait_for(lambda m: "RELOADING" in m)
    after = time.monotonic()
    assert reloading["RELOADING"] == "1"
    # CLOCK_MONOTONIC in microseconds, taken when the signal was handled.
    assert before * 1e6 - 1000 <= int(reloading["MONOTONIC_USEC"]) <= after * 1e6 + 1000
    again = manager.wait_for(lambda m: "READY" in m)
    assert again["STATUS"] == "following 4 sources, lag 0 bytes, 55 trades recorded"

    w.send_signal(signal.SIGTERM)
    stopping = manager.wait_for(lambda m: "STOPPING" in m)
    assert stopping["STOPPING"] == "1"
    w.communicate(timeout=30)
    assert w.returncode == 0
    manager.drain(0.2)
    kinds = [k for k in manager.kinds() if k not in ("STATUS", "EXTEND_TIMEOUT_USEC")]
    assert kinds == ["READY", "RELOADING", "READY", "STOPPING"], manager.messages


def test_a_long_first_catch_up_says_how_far_it_is_and_asks_for_more_start_time(root, manager):
    (root.path / "tradelearn.json").write_text('{"batch_lines": 20}\n')
    append(root.logs / "attribution.jsonl", closes(0, 400))
    w = start(root, {"NOTIFY_SOCKET": manager.path})
    manager.wait_for(lambda m: "READY" in m)
    root.stop(w)
    before_ready = []
    for _, m in manager.messages:
        if "READY" in m:
            break
        before_ready.append(m)
    assert before_ready[0]["STATUS"].startswith("catching up 0% (0.0 of ")
    assert int(before_ready[1]["EXTEND_TIMEOUT_USEC"]) >= 10_000_000
    percents = [int(m["STATUS"].split()[2].rstrip("%")) for m in before_ready
                if m.get("STATUS", "").startswith("catching up ")]
    assert len(percents) >= 5, before_ready
    assert percents == sorted(percents) and percents[-1] >= 90
    assert all(m["STATUS"].endswith(" KiB)") for m in before_ready if "STATUS" in m)


def test_watchdog_keepalives_come_at_half_the_interval_until_the_loop_stops(root, manager):
    append(root.logs / "attribution.jsonl", closes(0, 5))
    w = start(root, {"NOTIFY_SOCKET": manager.path, "WATCHDOG_USEC": "400000"}, shell_pid=True)
    manager.wait_for(lambda m: "READY" in m)
    manager.messages.clear()
    manager.drain(2.0)
    times = [t for t, m in manager.messages if m.get("WATCHDOG") == "1"]
    # Every 200 ms: about 10 in 2 s, never a gap near the 400 ms limit.
    assert 7 <= len(times) <= 12, times
    assert max(b - a for a, b in zip(times, times[1:])) < 0.35
    # A loop that does not run sends none.
    w.send_signal(signal.SIGSTOP)
    time.sleep(0.1)
    manager.messages.clear()
    manager.drain(1.0)
    assert not [m for _, m in manager.messages if "WATCHDOG" in m]
    w.send_signal(signal.SIGCONT)
    manager.wait_for(lambda m: m.get("WATCHDOG") == "1", timeout=2)
    rc, err = root.stop(w)
    assert rc == 0, err


def test_no_keepalives_when_the_watchdog_is_meant_for_another_process(root, manager):
    w = start(root, {"NOTIFY_SOCKET": manager.path, "WATCHDOG_USEC": "200000",
                     "WATCHDOG_PID": "1"})
    manager.wait_for(lambda m: "READY" in m)
    manager.drain(1.0)
    assert "WATCHDOG" not in manager.kinds()
    rc, err = root.stop(w)
    assert rc == 0, err


def test_a_notify_socket_that_is_gone_changes_nothing(root, tmp_path):
    append(root.logs / "attribution.jsonl", closes(0, 10))
    w = start(root, {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens.sock"),
                     "WATCHDOG_USEC": "100000"})
    assert root.wait_for(lambda: len(root.outcomes()) == 10)
    w.send_signal(signal.SIGHUP)
    append(root.logs / "attribution.jsonl", closes(10, 20))
    assert root.wait_for(lambda: len(root.outcomes()) == 20)
    rc, err = root.stop(w)
    assert rc == 0, err


def test_watch_once_sends_nothing(root, manager):
    append(root.logs / "attribution.jsonl", closes(0, 10))
    p = subprocess.run(root.args("watch", "--once"), env={**os.environ,
                       "NOTIFY_SOCKET": manager.path}, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    manager.drain(0.3)
    assert manager.messages == []
